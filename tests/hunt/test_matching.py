"""The matching table: exact IPs, CIDR containment, subdomains, URLs, hashes, emails;
warninglists; only active indicators; nothing is a regular expression."""

from __future__ import annotations

from sqlalchemy import insert

from accord.hunt import query_hits
from accord.model.observables import network_bounds
from accord.store import schema as s

from .helpers import TS, indicator, write, zeek

FIELDS = "ts uid id.orig_h id.resp_h query"
TYPES = "time string addr addr string"


def _matched(store) -> set[tuple[str, str]]:
    return {(h.observed, h.matched) for h in query_hits(store)}


def _dns(tmp_path, rows):
    return write(tmp_path / "dns.log", zeek("dns", FIELDS, TYPES, [f"{TS} C {r}" for r in rows]))


def test_ip_exact_and_cidr_containment_ipv4_and_ipv6(tmp_path, hstore, hunt):
    hstore.put_objects(
        [
            indicator("[ipv4-addr:value = '198.51.100.7']"),
            indicator("[ipv4-addr:value = '192.0.2.0/25']"),
            indicator("[ipv4-addr:value = '10.9.0.0/16']"),
            indicator("[ipv6-addr:value = '2001:db8:aa::/48']"),
            indicator("[ipv6-addr:value = '2001:db8::1']"),
        ]
    )
    path = _dns(
        tmp_path,
        [
            "198.51.100.7 192.0.2.126 x.ok",
            "198.51.100.70 192.0.2.128 y.ok",
            "10.9.255.1 10.10.0.1 z.ok",
            "2001:db8:aa:ffff::5 2001:db8::1 w.ok",
            "2001:db8:ab::1 2001:db8::2 v.ok",
        ],
    )
    hunt(path)
    assert _matched(hstore) == {
        ("198.51.100.7", "198.51.100.7"),
        ("192.0.2.126", "192.0.2.0/25"),
        ("10.9.255.1", "10.9.0.0/16"),
        ("2001:db8:aa:ffff::5", "2001:db8:aa::/48"),
        ("2001:db8::1", "2001:db8::1"),
    }


def test_domains_match_subdomains_case_and_idn_but_not_lookalikes(tmp_path, hstore, hunt):
    hstore.put_objects(
        [
            indicator("[domain-name:value = 'evil.example']"),
            indicator("[domain-name:value = 'bücher.example']"),
            indicator("[domain-name:value = 'a.b']"),
        ]
    )
    path = _dns(
        tmp_path,
        [
            "10.0.0.1 10.0.0.2 EVIL.example",
            "10.0.0.1 10.0.0.2 deep.sub.Evil.Example.",
            "10.0.0.1 10.0.0.2 notevil.example",
            "10.0.0.1 10.0.0.2 evil.example.org",
            "10.0.0.1 10.0.0.2 evilXexample",
            "10.0.0.1 10.0.0.2 www.xn--bcher-kva.example",
            "10.0.0.1 10.0.0.2 shop.BÜCHER.example",
            "10.0.0.1 10.0.0.2 aXb",
        ],
    )
    hunt(path)
    assert _matched(hstore) == {
        ("EVIL.example", "evil.example"),
        ("deep.sub.Evil.Example.", "evil.example"),
        ("www.xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("shop.BÜCHER.example", "xn--bcher-kva.example"),
    }


def test_url_normalisation_hash_case_and_email(tmp_path, hstore, hunt):
    hstore.put_objects(
        [
            indicator("[url:value = 'HTTP://Web.Example:80/Gate.php?x=1']"),
            indicator("[url:value = 'https://secure.example/login']"),
            indicator("[file:hashes.MD5 = '0123456789ABCDEF0123456789ABCDEF']"),
            indicator("[email-addr:value = 'Boss@Phish.Example']"),
        ]
    )
    path = write(
        tmp_path / "mixed.csv",
        "ts,u,h,m\n"
        f"{TS},web.example/Gate.php?x=1,0123456789abcdef0123456789abcdef,boss@phish.example\n"
        f"{TS},http://WEB.EXAMPLE:80/Gate.php?x=1,-,Boss <BOSS@phish.example>\n"
        f"{TS},web.example/gate.php?x=1,-,boss@phish.example.org\n"
        f"{TS},https://secure.example:443/login,-,-\n"
        f"{TS},web.example:8080/Gate.php?x=1,-,-\n",
    )
    hunt(path, field_map={"url": ["u"], "hash": ["h"], "email": ["m"], "time": ["ts"]})
    assert _matched(hstore) == {
        ("web.example/Gate.php?x=1", "web.example/Gate.php?x=1"),
        ("http://WEB.EXAMPLE:80/Gate.php?x=1", "web.example/Gate.php?x=1"),
        ("https://secure.example:443/login", "secure.example/login"),
        ("0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
        ("boss@phish.example", "boss@phish.example"),
        ("Boss <BOSS@phish.example>", "boss@phish.example"),
    }


def test_revoked_and_expired_indicators_are_not_hunted(tmp_path, hstore, hunt):
    live = indicator("[ipv4-addr:value = '198.51.100.1']")
    revoked = indicator("[ipv4-addr:value = '198.51.100.2']", revoked=True)
    expired = indicator("[ipv4-addr:value = '198.51.100.3']", valid_until="2026-01-11T00:00:00Z")
    hstore.put_objects([live, revoked, expired])
    hunt(_dns(tmp_path, ["198.51.100.1 198.51.100.2 x.ok", "198.51.100.3 10.0.0.1 y.ok"]))
    assert {h.indicator_id for h in query_hits(hstore)} == {live["id"]}


def _warninglist(store, name: str, effect: str, kind: str, value: str) -> None:
    lo = hi = None
    if kind.endswith("-net"):
        lo, hi = network_bounds(value)
    with store.engine.begin() as conn:
        list_id = conn.execute(
            insert(s.warninglists).values(
                name=name, version="1", list_type="cidr" if lo else "hostname", effect=effect
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(s.warninglist_entries).values(
                list_id=list_id, kind=kind, value=value, lo=lo, hi=hi
            )
        )


def test_warninglists_suppress_annotate_and_can_be_turned_off(tmp_path, hstore, hunt):
    resolver = indicator("[ipv4-addr:value = '192.0.2.53']")
    popular = indicator("[domain-name:value = 'popular.example']")
    bad = indicator("[domain-name:value = 'evil.example']")
    hstore.put_objects([resolver, popular, bad])
    _warninglist(hstore, "Public DNS resolvers", "suppress", "ipv4-net", "192.0.2.0/24")
    _warninglist(hstore, "Top 1M sites", "annotate", "domain", "popular.example")
    path = _dns(tmp_path, ["10.0.0.1 192.0.2.53 popular.example", "10.0.0.1 10.0.0.2 evil.example"])
    summary = hunt(path)
    assert [x["indicator"] for x in summary.suppressed] == [resolver["id"]]
    assert summary.suppressed[0]["lists"] == ["Public DNS resolvers"]
    hits = {h.indicator_id: h for h in query_hits(hstore)}
    assert set(hits) == {popular["id"], bad["id"]}
    assert [a["list"] for a in hits[popular["id"]].annotations] == ["Top 1M sites"]
    assert hits[bad["id"]].annotations == []
    summary = hunt(path, use_warninglists=False)
    assert summary.suppressed == []
    assert {h.indicator_id for h in query_hits(hstore)} == {
        resolver["id"],
        popular["id"],
        bad["id"],
    }


def test_sco_values_are_hunted_too(tmp_path, hstore, hunt):
    sco = {
        "type": "domain-name",
        "spec_version": "2.1",
        "id": "domain-name--" + "1" * 8 + "-1111-4111-8111-111111111111",
        "value": "sco.example",
    }
    hstore.put_objects([sco])
    hunt(_dns(tmp_path, ["10.0.0.1 10.0.0.2 x.sco.example"]))
    assert [h.indicator_id for h in query_hits(hstore)] == [sco["id"]]
