"""The MISP reader: misp-stix output fitted to accord's creator, TLP and galaxy rules."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from accord.ingest.context import ImportContext
from accord.ingest.csv_indicators import deterministic_id
from accord.ingest.misp import read_misp, sniff
from accord.model.errors import InputError
from accord.model.stix import SCO_TYPES, check_object
from accord.model.tlp import TLP, TLP1_IDS, TLP2_IDS, level_of_markings, marking_definition
from accord.store import Store
from accord.store import schema as s
from tests.store.stix_helpers import bundle, validation_errors

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "misp"
NODE = "identity--5e1c1a8f-0b7d-4c1e-9f3a-2d4b6c8e0a11"
SYLDAVIA = "identity--9a9bb4df-6147-469a-b73b-dfffaf3da46e"
BORDURIA = "identity--e97d3cbe-2f37-4923-bf1a-2c7d06266234"
SHA256 = "c24c081b27c0a6f3f0bccbd0430e1964375ebe3d7c8d361ff2c4a09dc25710df"
CTX = ImportContext(identity_id=NODE, source_name="test", now=datetime(2026, 5, 1, tzinfo=UTC))

Rows = list[tuple[str, dict[str, Any]]]


def read(path: Path) -> Rows:
    return list(read_misp(path, CTX))


def write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "misp.json"
    path.write_text(json.dumps(data), "utf-8")
    return path


def event_data() -> dict[str, Any]:
    return json.loads((FIXTURES / "event.json").read_text("utf-8"))


def level(obj: dict[str, Any]) -> TLP | None:
    return level_of_markings(obj.get("object_marking_refs") or [])


def by_type(rows: Rows, obj_type: str) -> list[dict[str, Any]]:
    return [obj for _, obj in rows if obj["type"] == obj_type]


def ref(external_id: str) -> dict[str, str]:
    return {"source_name": "mitre-attack", "external_id": external_id}


def indicator_with(rows: Rows, text: str) -> dict[str, Any]:
    return next(obj for obj in by_type(rows, "indicator") if text in obj["pattern"])


# --- sniffing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        ((FIXTURES / "event.json").read_bytes()[:4096], True),
        ((FIXTURES / "events.json").read_bytes()[:4096], True),
        (b'\xef\xbb\xbf{"response": [{"Event": {"uuid": "x"}}]}', True),
        (b'{"uuid": "x", "info": "bare", "threat_level_id": "1", "Attribute": []}', True),
        (b'{"type": "bundle", "id": "bundle--x", "objects": []}', False),
        (b'{"type":"bundle","objects":[{"threat_level_id":"1"}]}', False),
        (
            b'{"type": "bundle", "objects": [{"type": "indicator", "Attribute": 1, "Orgc": 2}]}',
            False,
        ),
        (b"value,type,comment\n203.0.113.47,ip,C2\n", False),
    ],
)
def test_sniff(head: bytes, expected: bool) -> None:
    assert sniff(head) is expected


# --- one event ----------------------------------------------------------------------------


def test_attributes_become_indicators_and_observed_data() -> None:
    rows = read(FIXTURES / "event.json")
    assert {obj["pattern"] for obj in by_type(rows, "indicator")} == {
        # ip-dst comes out as a plain value comparison, which the store can index.
        "[ipv4-addr:value = '203.0.113.47']",
        "[domain-name:value = 'update-cdn-sync.net']",
        "[url:value = 'https://update-cdn-sync.net/gate/checkin.php']",
        f"[file:hashes.'SHA-256' = '{SHA256}']",
        "[email-message:from_ref.value = 'hr-notice@update-cdn-sync.net']",
    }
    # Every attribute is observed data; the to_ids=false one is not an indicator.
    assert len(by_type(rows, "observed-data")) == 6
    assert {o["value"] for o in by_type(rows, "domain-name")} == {
        "update-cdn-sync.net",
        "records-portal.example",
    }
    assert not [o for o in by_type(rows, "indicator") if "records-portal" in o["pattern"]]
    ip = indicator_with(rows, "203.0.113.47")
    assert 'misp:type="ip-dst"' in ip["labels"]
    assert ip["description"] == "HeronLoader command-and-control server"
    report = by_type(rows, "report")[0]
    assert report["id"] == "report--73e68c42-c459-4147-a9ce-5969d42212ce"
    assert report["name"] == "HeronLoader phishing wave against Ruritanian ministries"
    assert "kill-chain:delivery" in report["labels"]
    stored_ids = {obj["id"] for _, obj in rows}
    assert set(report["object_refs"]) <= stored_ids


def test_everything_is_stated_by_the_events_creator_never_by_this_node() -> None:
    rows = read(FIXTURES / "event.json")
    (identity,) = by_type(rows, "identity")
    assert (identity["id"], identity["name"]) == (SYLDAVIA, "CERT-Syldavia")
    for _, obj in rows:
        assert NODE not in json.dumps(obj)
        if obj["type"] in SCO_TYPES or obj["type"] in ("identity", "marking-definition"):
            continue
        assert obj["created_by_ref"] == SYLDAVIA, obj["id"]


def test_tlp_tags_become_tlp2_markings_and_the_event_bounds_its_content() -> None:
    rows = read(FIXTURES / "event.json")
    assert [obj for place, obj in rows if place == "TLP marking"] == [
        marking_definition(TLP.GREEN),
        marking_definition(TLP.RED),
    ]
    text = json.dumps([obj for _, obj in rows])
    assert not any(ref in text for ref in TLP1_IDS.values())
    assert level(by_type(rows, "report")[0]) is TLP.GREEN
    assert level(indicator_with(rows, "update-cdn-sync.net'")) is TLP.GREEN
    # The attribute-level tlp:red reaches its indicator, observed data, SCOs and relationship.
    red = indicator_with(rows, "203.0.113.47")
    assert level(red) is TLP.RED
    red_uuid = "c2430dbf-0956-4450-b4ae-6819053bfb20"
    (observed,) = [o for o in by_type(rows, "observed-data") if o["id"].endswith(red_uuid)]
    assert level(observed) is TLP.RED
    for sco_id in observed["object_refs"]:
        sco = next(obj for _, obj in rows if obj["id"] == sco_id)
        assert level(sco) is TLP.RED
    based_on = next(o for o in by_type(rows, "relationship") if o["source_ref"] == red["id"])
    assert level(based_on) is TLP.RED
    # Galaxy objects and the SCOs of untagged attributes carry the event's level.
    assert level(by_type(rows, "intrusion-set")[0]) is TLP.GREEN
    assert all(level(o) is not None for o in by_type(rows, "domain-name"))
    assert level(by_type(rows, "identity")[0]) is None


def test_inherited_markings_version_objects_at_the_event_timestamp() -> None:
    rows = read(FIXTURES / "event.json")
    event_time = "2025-12-06T08:30:00.000Z"
    attribute_time = "2025-12-05T10:00:00.000Z"
    domain = indicator_with(rows, "update-cdn-sync.net'")
    assert (domain["created"], domain["modified"]) == (attribute_time, event_time)
    red = indicator_with(rows, "203.0.113.47")  # its own tag: its own time
    assert (red["created"], red["modified"]) == (attribute_time, attribute_time)


def test_galaxies_become_the_creators_intrusion_set_and_attack_pattern() -> None:
    rows = read(FIXTURES / "event.json")
    assert not by_type(rows, "threat-actor")
    (heron,) = by_type(rows, "intrusion-set")
    assert heron["id"] == deterministic_id(
        "intrusion-set",
        "misp-galaxy",
        SYLDAVIA,
        "threat-actor--93e29c7d-8fd2-4752-94d6-b14b9dfe3830",
    )
    assert (heron["name"], heron["aliases"]) == ("GREY HERON", ["Ash Wader"])
    (technique,) = by_type(rows, "attack-pattern")
    # MITRE's own id stays MITRE's: this is CERT-Syldavia's statement about T1566.001.
    assert technique["id"] != "attack-pattern--2e34237d-8574-43f6-aace-ae2915de8597"
    assert technique["name"] == "Spearphishing Attachment"
    assert {"source_name": "mitre-attack", "external_id": "T1566.001"} in technique[
        "external_references"
    ]
    report = by_type(rows, "report")[0]
    assert {heron["id"], technique["id"]} <= set(report["object_refs"])
    places = {obj["id"]: place for place, obj in rows}
    assert places[heron["id"]] == "event 1 galaxy 1 cluster 1"
    assert places[indicator_with(rows, "203.0.113.47")["id"]] == "event 1 attribute 1"
    assert places[report["id"]] == "event 1"


def test_output_is_deterministic() -> None:
    assert read(FIXTURES / "event.json") == read(FIXTURES / "event.json")


# --- a list of events -------------------------------------------------------------------


def test_a_list_of_two_events() -> None:
    rows = read(FIXTURES / "events.json")
    assert {place.split(" attribute")[0] for place, _ in rows} >= {"event 1", "event 2"}
    (grouping,) = by_type(rows, "grouping")  # event 1 is unpublished
    assert grouping["id"] == "grouping--a6a6ef5e-7629-4246-97c7-312b40f5c26e"
    (report,) = by_type(rows, "report")
    assert level(report) is TLP.CLEAR  # "TLP:CLEAR", upper case
    # tlp:clear on an attribute cannot loosen its tlp:amber+strict event.
    staging = indicator_with(rows, "198.51.100.23")
    assert level(staging) is TLP.AMBER_STRICT
    assert staging["modified"] == "2026-01-12T16:45:00.000Z"
    # One cluster stated by two creators: two intrusion sets, each its creator's.
    herons = {o["created_by_ref"]: o["id"] for o in by_type(rows, "intrusion-set")}
    assert set(herons) == {SYLDAVIA, BORDURIA}
    assert herons[SYLDAVIA] != herons[BORDURIA]
    (loader,) = by_type(rows, "malware")
    (dumper,) = by_type(rows, "tool")
    assert loader["external_references"] == [
        {"source_name": "mitre-attack", "external_id": "S9901"}
    ]
    assert dumper["external_references"] == [
        {"source_name": "mitre-attack", "external_id": "S9902"}
    ]
    assert loader["created_by_ref"] == dumper["created_by_ref"] == BORDURIA
    related = [o for o in by_type(rows, "relationship") if o["target_ref"] == loader["id"]]
    assert len(related) == 1
    file_object = indicator_with(rows, "b411f5ea93b1")
    places = {obj["id"]: place for place, obj in rows}
    assert places[file_object["id"]] == "event 1 object 1"
    markings = [obj["name"] for place, obj in rows if place == "TLP marking"]
    assert markings == ["TLP:CLEAR", "TLP:AMBER+STRICT"]


def test_rest_response_wrapper(tmp_path: Path) -> None:
    events = json.loads((FIXTURES / "events.json").read_text("utf-8"))
    wrapped = read(write(tmp_path, {"response": events}))
    assert wrapped == read(FIXTURES / "events.json")


# --- errors -------------------------------------------------------------------------------


def test_not_json_and_truncated_json(tmp_path: Path) -> None:
    path = tmp_path / "export.json"
    path.write_bytes(b"MISP export of 2026-01-12\n")
    with pytest.raises(InputError) as caught:
        read(path)
    assert (caught.value.place, caught.value.reason[:8]) == ("line 1 column 1", "not JSON")
    with pytest.raises(InputError) as caught:
        read(FIXTURES / "truncated.json")
    assert caught.value.place.startswith("line ")
    assert "not JSON" in caught.value.reason


def _broken(change: Any) -> dict[str, Any]:
    data = event_data()
    change(data["Event"])
    return data


@pytest.mark.parametrize(
    ("change", "place", "reason"),
    [
        (lambda e: e.pop("uuid"), "event 1", "missing or invalid 'uuid'"),
        (lambda e: e.update(uuid="not-a-uuid"), "event 1", "missing or invalid 'uuid'"),
        (lambda e: e.pop("Orgc"), "event 1", "no creator organisation"),
        (lambda e: e["Orgc"].pop("name"), "event 1", "no creator organisation"),
        (
            lambda e: e["Attribute"][0].update(value="not-an-ip"),
            "event 1 attribute 1",
            "ip-dst value 'not-an-ip' is not valid",
        ),
        (
            lambda e: e["Attribute"][3].update(value="c24c"),
            "event 1 attribute 4",
            "sha256 value 'c24c' is not valid",
        ),
        (
            lambda e: e["Attribute"][1].update(type="domain-name"),
            "event 1 attribute 2",
            "unknown MISP attribute type 'domain-name'",
        ),
        (lambda e: e["Attribute"][2].pop("value"), "event 1 attribute 3", "without a value"),
        (lambda e: e["Attribute"][4].pop("uuid"), "event 1 attribute 5", "'uuid'"),
        (
            lambda e: e["Galaxy"][1]["GalaxyCluster"][0].pop("uuid"),
            "event 1 galaxy 2 cluster 1",
            "without a valid 'uuid'",
        ),
        (
            lambda e: (e.pop("timestamp"), e.pop("date")),
            "event 1",
            "neither a 'timestamp' nor a 'date'",
        ),
        (lambda e: e.update(Attribute={"type": "ip-dst"}), "event 1", "'Attribute' must be a list"),
    ],
)
def test_bad_events_are_refused_naming_event_and_attribute(
    tmp_path: Path, change: Any, place: str, reason: str
) -> None:
    with pytest.raises(InputError) as caught:
        read(write(tmp_path, _broken(change)))
    assert caught.value.place == place
    assert reason in caught.value.reason


def test_a_bad_attribute_in_a_misp_object_or_a_later_event(tmp_path: Path) -> None:
    events = json.loads((FIXTURES / "events.json").read_text("utf-8"))
    broken = copy.deepcopy(events)
    broken[0]["Event"]["Object"][0]["Attribute"][1]["value"] = "xyz"
    with pytest.raises(InputError) as caught:
        read(write(tmp_path, broken))
    assert caught.value.place == "event 1 object 1 attribute 2"
    broken = copy.deepcopy(events)
    broken[1]["Event"]["Attribute"][0]["type"] = "sha-one"
    with pytest.raises(InputError) as caught:
        read(write(tmp_path, broken))
    assert caught.value.place == "event 2 attribute 1"


@pytest.mark.parametrize(
    ("data", "place"),
    [
        ({"response": {"Attribute": []}}, "response"),
        ([], ""),
        ({"type": "bundle", "objects": []}, ""),
        ([{"Event": {}}, {"type": "indicator"}], ""),
        ([1, 2], ""),
    ],
)
def test_shapes_that_are_not_events(tmp_path: Path, data: Any, place: str) -> None:
    with pytest.raises(InputError) as caught:
        read(write(tmp_path, data))
    assert caught.value.place == place


# --- validity and the store ---------------------------------------------------------------


OTHER_TYPES = [
    ("ip-dst|port", "203.0.113.47|443"),
    ("domain|ip", "update-cdn-sync.net|203.0.113.47"),
    ("filename|sha256", f"invoice.exe|{SHA256}"),
    ("ip-dst", "2001:db8::47"),
    ("ip-src", "198.51.100.0/24"),
    ("text", "Operators work office hours in UTC+2"),
    ("AS", "64500"),
    ("mutex", "Global\\HeronLoaderOnce"),
    ("regkey", "HKLM\\Software\\HeronLoader"),
    ("vulnerability", "CVE-2025-0001"),
    ("email-subject", "Your December payslip"),
    ("user-agent", "HeronLoader/1.0"),
    ("yara", "rule heron { condition: true }"),
]


def test_other_attribute_types_still_give_valid_stix(tmp_path: Path) -> None:
    data = event_data()
    for index, (misp_type, value) in enumerate(OTHER_TYPES):
        data["Event"]["Attribute"].append(
            {
                "uuid": f"00000000-0000-4000-8000-{index:012d}",
                "type": misp_type,
                "category": "Network activity",
                "value": value,
                "to_ids": misp_type not in ("text", "AS", "email-subject"),
                "timestamp": "1764928800",
            }
        )
    data["Event"]["Attribute"][0]["Sighting"] = [
        {
            "uuid": "00000000-0000-4000-9000-000000000001",
            "date_sighting": "1764930000",
            "type": "0",
            "Organisation": {"uuid": "0a4a2f5e-2b1c-4a8e-9d1f-3e5b7c9d1a2b", "name": "CSRO"},
        }
    ]
    rows = read(write(tmp_path, data))
    objs = {(obj["id"], obj.get("modified")): obj for _, obj in rows}
    for obj in objs.values():
        check_object(obj)
    assert validation_errors(bundle(objs.values())) == []
    patterns = {o["pattern"] for o in by_type(rows, "indicator")}
    assert {
        "[ipv6-addr:value = '2001:db8::47']",
        "[ipv4-addr:value = '198.51.100.0/24']",
    } <= patterns
    (key,) = by_type(rows, "windows-registry-key")
    assert key["key"] == "HKEY_LOCAL_MACHINE\\Software\\HeronLoader"
    (sighting,) = by_type(rows, "sighting")
    assert sighting["created_by_ref"] == SYLDAVIA
    assert level(sighting) is TLP.RED  # it is a sighting of the RED attribute
    assert by_type(rows, "x-misp-attribute")  # a type STIX lacks is kept as misp-stix writes it


def test_objects_are_valid_stix() -> None:
    objs: dict[tuple[str, str | None], dict[str, Any]] = {}
    for name in ("event.json", "events.json"):
        for _, obj in read(FIXTURES / name):
            check_object(obj)
            objs[(obj["id"], obj.get("modified"))] = obj
    assert validation_errors(bundle(objs.values())) == []


def test_store_round_trip_indexes_indicators_and_observables(sqlite_store: Store) -> None:
    objs = [obj for _, obj in read(FIXTURES / "event.json")]
    sqlite_store.put_objects(objs, "file", "event.json")
    indicator = indicator_with([("", o) for o in objs], "203.0.113.47")
    with sqlite_store.engine.connect() as conn:
        rows = conn.execute(
            select(s.observables.c.obj_id, s.observables.c.kind, s.observables.c.value)
        ).all()
    by_value: dict[tuple[str, str], set[str]] = {}
    for obj_id, kind, value in rows:
        by_value.setdefault((kind, value), set()).add(obj_id.split("--")[0])
    assert by_value[("ipv4", "203.0.113.47")] == {"indicator", "ipv4-addr"}
    assert by_value[("domain", "update-cdn-sync.net")] == {"indicator", "domain-name"}
    assert by_value[("email", "hr-notice@update-cdn-sync.net")] == {"indicator", "email-addr"}
    assert by_value[("sha256", SHA256)] == {"indicator", "file"}
    assert by_value[("domain", "records-portal.example")] == {"domain-name"}
    assert sqlite_store.get_row(indicator["id"]).tlp is TLP.RED  # type: ignore[union-attr]
    again = sqlite_store.put_objects(objs, "file", "event.json")
    assert again.stored == 0


def test_a_retagged_event_is_a_new_version_not_a_conflict(
    tmp_path: Path, sqlite_store: Store
) -> None:
    sqlite_store.put_objects([o for _, o in read(FIXTURES / "event.json")], "file", "v1")
    data = event_data()
    data["Event"]["Tag"][0] = {"name": "tlp:amber"}
    data["Event"]["timestamp"] = "1765100000"  # MISP moves the timestamp on re-tagging
    retagged = [o for _, o in read(write(tmp_path, data))]
    result = sqlite_store.put_objects(retagged, "file", "v2")
    assert result.stored > 0
    domain = indicator_with([("", o) for o in retagged], "update-cdn-sync.net'")
    assert level(sqlite_store.get(domain["id"]) or {}) is TLP.AMBER
    assert len(sqlite_store.versions(domain["id"])) == 2
    red = indicator_with([("", o) for o in retagged], "203.0.113.47")
    assert len(sqlite_store.versions(red["id"])) == 1  # its own tag did not change


def test_tlp2_ids_are_used_for_every_level(tmp_path: Path) -> None:
    for tag, expected in (
        ("tlp:white", TLP.CLEAR),
        ("tlp:clear", TLP.CLEAR),
        ("Tlp:Amber", TLP.AMBER),
        ("tlp:amber+strict", TLP.AMBER_STRICT),
        ("TLP:RED", TLP.RED),
    ):
        data = event_data()
        data["Event"]["Tag"][0] = {"name": tag}
        del data["Event"]["Attribute"][0]["Tag"]
        rows = read(write(tmp_path, data))
        report = by_type(rows, "report")[0]
        assert report["object_marking_refs"] == [TLP2_IDS[expected]], tag
