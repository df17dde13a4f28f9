"""MISP warninglists: loading into the store, lookup semantics, ``accord check``.

The real lists (2.5 M entries) are loaded once, on SQLite, for the known-facts tests. The
semantics tests run on SQLite and PostgreSQL with a few synthetic lists fed to the loader.
"""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from rich.progress import Progress
from sqlalchemy import func, inspect, select
from typer.testing import CliRunner

from accord.cli import check as check_cli
from accord.ingest.warninglists import (
    ANNOTATE,
    SUPPRESS,
    ListPolicy,
    WarninglistMatch,
    WarninglistSource,
    WarninglistUpdate,
    check_values,
    is_suppressed,
    lookup,
    misp_sources,
    update_warninglists,
)
from accord.ingest.warninglists import load as load_module
from accord.ingest.warninglists.load import META_GENERATION
from accord.ingest.warninglists.policy import POLICIES, SKIPPED_MISP_TYPES, policy_for
from accord.model.errors import InputError
from accord.model.observables import Observable, classify
from accord.model.tlp import TLP
from accord.store import Store
from accord.store import schema as s
from accord.store.home import NodeHome


def names(matches: list[WarninglistMatch]) -> set[str]:
    return {m.name for m in matches}


def match_on(matches: list[WarninglistMatch], name: str) -> WarninglistMatch:
    found = [m for m in matches if m.name == name]
    assert found, f"{name} not in {names(matches)}"
    return found[0]


def one(store: Store, kind: str, value: str) -> list[WarninglistMatch]:
    obs = Observable(kind, value)
    return lookup(store, [obs]).get(obs, [])


def entry_count(store: Store) -> int:
    with store.engine.connect() as conn:
        return int(
            conn.execute(select(func.count()).select_from(s.warninglist_entries)).scalar_one()
        )


# --- the real lists, once, on SQLite ---------------------------------------------------------


@pytest.fixture(scope="module")
def real(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Store, WarninglistUpdate, list[tuple[int, int, str]]]]:
    store = Store.open(f"sqlite:///{tmp_path_factory.mktemp('wl') / 'store.db'}", TLP.AMBER)
    calls: list[tuple[int, int, str]] = []
    result = update_warninglists(store, progress=lambda d, t, n: calls.append((d, t, n)))
    try:
        yield store, result, calls
    finally:
        store.close()


@pytest.mark.slow
def test_real_load_stores_every_list(real) -> None:
    store, result, calls = real
    assert result.lists_total >= 100
    assert result.entries_total == entry_count(store) > 2_000_000
    assert result.entries_stored == result.entries_total
    assert set(result.skipped_lists) == {"common-contact-emails", "phone_numbers"}
    # nearly every entry parses; the few that do not are counted, per list
    assert 0 < result.entries_skipped < 1000
    assert sum(result.skipped_by_list.values()) == result.entries_skipped
    assert result.rebuilt_indexes
    # progress: one call per list, then the index rebuild, then done
    assert calls[-1] == (len(result.loaded), len(result.loaded), "")
    assert [c[0] for c in calls] == sorted(c[0] for c in calls)
    assert ("indexing" in {c[2] for c in calls}) and "tranco" in {c[2] for c in calls}
    # the schema's indexes are back after the bulk load
    with store.engine.connect() as conn:
        indexes = {ix["name"] for ix in inspect(conn).get_indexes("warninglist_entries")}
    assert {"ix_wl_value", "ix_wl_list"} <= indexes


def test_every_installed_list_has_a_reviewed_policy() -> None:
    """A new upstream list falls back to "annotate"; this test makes the review visible."""
    unreviewed = [
        src.name
        for src in misp_sources()
        if src.misp_type not in SKIPPED_MISP_TYPES
        and src.name not in POLICIES
        and not src.name.endswith("-nt-scanning")
    ]
    assert unreviewed == []
    assert policy_for("a-list-nobody-reviewed").effect == ANNOTATE


@pytest.mark.slow
def test_known_addresses(real) -> None:
    store = real[0]
    for address in ("8.8.8.8", "1.1.1.1"):
        found = one(store, "ipv4", address)
        assert is_suppressed(found)
        dns = match_on(found, "public-dns-v4")
        assert (dns.effect, dns.entry, dns.matched_on) == (SUPPRESS, address, "value")
    for address, network in (("10.1.2.3", "10.0.0.0/8"), ("192.168.0.1", "192.168.0.0/16")):
        found = one(store, "ipv4", address)
        private = match_on(found, "rfc1918")
        assert (private.effect, private.entry, private.matched_on) == (SUPPRESS, network, "network")
    # 8.8.8.8 is also inside a VPN/datacenter range, which only annotates
    assert match_on(one(store, "ipv4", "8.8.8.8"), "vpn-ipv4").effect == ANNOTATE
    assert one(store, "ipv4-net", "10.20.0.0/16") and is_suppressed(
        one(store, "ipv4-net", "10.20.0.0/16")
    )


@pytest.mark.slow
def test_known_domains(real) -> None:
    store = real[0]
    google = one(store, "domain", "google.com")
    # decision: google.com is suppressed (top 10k), and the top-1M list only annotates
    assert is_suppressed(google)
    assert match_on(google, "tranco10k").effect == SUPPRESS
    assert match_on(google, "tranco").effect == ANNOTATE

    mail = match_on(one(store, "domain", "mail.google.com"), "tranco10k")
    assert (mail.entry, mail.matched_on, mail.effect) == ("google.com", "parent domain", SUPPRESS)

    assert one(store, "domain", "zq-update-cdn-sync.net") == []

    # a name under a shared platform is not benign because the platform is popular
    blog = one(store, "domain", "evil-payload.blogspot.com")
    assert blog and not is_suppressed(blog)
    assert "other parties" in (match_on(blog, "tranco10k").note or "")
    assert not is_suppressed(one(store, "domain", "x7.duckdns.org"))


@pytest.mark.slow
def test_known_urls_emails_and_hashes(real) -> None:
    store = real[0]
    bare = one(store, "url", "docs.google.com/")
    assert is_suppressed(bare)
    form = one(store, "url", "docs.google.com/forms/d/e/1FAIpQL/viewform")
    assert form and not is_suppressed(form)
    assert {m.matched_on for m in form} == {"url host"}
    assert not is_suppressed(one(store, "email", "ceo@gmail.com"))
    assert match_on(one(store, "email", "x@mailinator.com"), "disposable-email").effect == ANNOTATE
    empty_md5 = one(store, "md5", "d41d8cd98f00b204e9800998ecf8427e")
    assert match_on(empty_md5, "empty-hashes").effect == SUPPRESS


@pytest.mark.slow
def test_rerun_is_idempotent(real) -> None:
    store, first, _ = real
    generation = store.get_meta(META_GENERATION)
    again = update_warninglists(store)
    assert again.loaded == [] and again.refreshed == [] and again.removed == []
    assert again.unchanged == first.lists_total
    assert again.entries_stored == 0
    assert again.entries_total == first.entries_total == entry_count(store)
    assert store.get_meta(META_GENERATION) == generation


def _oracle_sets() -> dict[str, object]:
    """Raw list contents read independently of the loader, for an oracle."""
    sources = {src.name: src for src in misp_sources()}

    def networks(name: str) -> tuple[set[int], list[ipaddress.IPv4Network]]:
        singles: set[int] = set()
        nets: list[ipaddress.IPv4Network] = []
        for entry in sources[name].load_entries():
            net = ipaddress.ip_network(entry.strip(), strict=False)
            if net.version != 4:
                continue
            if net.prefixlen == 32:
                singles.add(int(net.network_address))
            else:
                nets.append(net)
        return singles, nets

    def names_of(name: str) -> dict[str, None]:
        """Distinct names in list order: a set for membership, a stable order to sample."""
        return dict.fromkeys(e.strip().lstrip(".").lower() for e in sources[name].load_entries())

    return {
        "rfc1918": networks("rfc1918"),
        "cloudflare": networks("cloudflare"),
        "public-dns-v4": networks("public-dns-v4"),
        "tranco10k": names_of("tranco10k"),
        "tranco": names_of("tranco"),
        "nioc-filehash": names_of("nioc-filehash"),
    }


@pytest.mark.slow
def test_batch_of_10000_values_against_an_oracle(real) -> None:
    store = real[0]
    oracle = _oracle_sets()
    rng = random.Random(7)
    batch: list[Observable] = []
    private = [ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16")]
    for _ in range(1500):
        net = rng.choice(private)
        batch.append(Observable("ipv4", str(net[rng.randrange(net.num_addresses)])))
    dns_singles = sorted(oracle["public-dns-v4"][0])
    for number in rng.sample(dns_singles, 1000):
        batch.append(Observable("ipv4", str(ipaddress.IPv4Address(number))))
    for _ in range(500):
        net = rng.choice(oracle["cloudflare"][1])
        batch.append(Observable("ipv4", str(net[rng.randrange(net.num_addresses)])))
    for _ in range(1000):
        batch.append(Observable("ipv4", str(ipaddress.IPv4Address(rng.getrandbits(32)))))
    tranco = list(oracle["tranco"])
    for name in rng.sample(tranco, 1500):
        batch.append(classify(name))
    for i, name in enumerate(rng.sample(list(oracle["tranco10k"]), 500)):
        batch.append(Observable("domain", f"h{i}.{name}"))
    for i in range(1000):
        batch.append(Observable("domain", f"zq{rng.getrandbits(40):x}-{i}.example-nohit.net"))
    for digest in rng.sample(list(oracle["nioc-filehash"]), 1500):
        batch.append(classify(digest))
    for _ in range(1500):
        batch.append(Observable("sha256", f"{rng.getrandbits(256):064x}"))
    assert len(batch) == 10_000

    def expected(obs: Observable) -> set[str]:
        found: set[str] = set()
        if obs.kind == "ipv4":
            number = int(ipaddress.IPv4Address(obs.value))
            address = ipaddress.IPv4Address(number)
            for name in ("rfc1918", "cloudflare", "public-dns-v4"):
                singles, nets = oracle[name]
                if number in singles or any(address in net for net in nets):
                    found.add(name)
        elif obs.kind == "domain":
            labels = obs.value.split(".")
            parents = {".".join(labels[i:]) for i in range(len(labels))}
            found |= {n for n in ("tranco", "tranco10k") if any(p in oracle[n] for p in parents)}
        elif obs.value in oracle["nioc-filehash"]:
            found.add("nioc-filehash")
        return found

    result = lookup(store, batch)
    checked = {"rfc1918", "cloudflare", "public-dns-v4", "tranco", "tranco10k", "nioc-filehash"}
    wrong = [
        (obs, names(result.get(obs, [])) & checked, expected(obs))
        for obs in batch
        if names(result.get(obs, [])) & checked != expected(obs)
    ]
    assert wrong == []
    # and the decisions on top of membership
    assert all(is_suppressed(result[o]) for o in batch[:1500])
    assert not any(o in result for o in batch[6000:7000])


# --- synthetic lists, on SQLite and PostgreSQL -------------------------------------------------


def src(
    name: str,
    misp_type: str,
    entries: list[str],
    version: str = "1",
    attributes: tuple[str, ...] = (),
) -> WarninglistSource:
    return WarninglistSource(name, version, misp_type, entries, matching_attributes=attributes)


CATALOGUE = [
    src("rfc1918", "cidr", ["10.0.0.0/8", "192.168.0.0/16", "not-an-ip"]),
    src("public-dns-v4", "cidr", ["8.8.8.8", "1.1.1.1/32"]),
    src("vpn-ipv4", "cidr", ["8.8.8.0/24", "2001:db8::/32"]),
    src("tranco10k", "hostname", ["Google.COM", "blogspot.com", "bücher.de", ".github.io"]),
    src("lots-project", "hostname", [".blogspot.com"]),
    src("tranco", "hostname", ["google.com", "example.org"]),
    src("cisco_top1000", "string", ["www.example.org"]),
    src("empty-hashes", "string", ["D41D8CD98F00B204E9800998ECF8427E", "3::"], attributes=("md5",)),
    src("disposable-email", "substring", ["mailinator.com"], attributes=("email-src", "domain|ip")),
    src("phone_numbers", "regex", ["/((?:\\+|00)1)?55501([0-9]{2})/g"]),
    src("brand-new-list", "string", ["zq.example"]),
]


def test_synthetic_load(store: Store) -> None:
    result = update_warninglists(store, lists=CATALOGUE)
    assert sorted(result.loaded) == sorted(s.name for s in CATALOGUE if s.name != "phone_numbers")
    assert set(result.skipped_lists) == {"phone_numbers"}
    assert result.skipped_by_list == {"rfc1918": 1, "empty-hashes": 1}
    assert result.entries_total == entry_count(store) == result.entries_stored == 17
    with store.engine.connect() as conn:
        rows = {
            r.name: (r.effect, r.list_type)
            for r in conn.execute(
                select(s.warninglists.c.name, s.warninglists.c.effect, s.warninglists.c.list_type)
            )
        }
        bounds = conn.execute(
            select(s.warninglist_entries.c.lo, s.warninglist_entries.c.hi).where(
                s.warninglist_entries.c.value == "10.0.0.0/8"
            )
        ).one()
    assert rows["tranco10k"] == (SUPPRESS, "hostname")
    assert rows["tranco"] == (ANNOTATE, "hostname")
    assert rows["disposable-email"] == (ANNOTATE, "hostname")  # substring: label-aligned
    assert rows["brand-new-list"] == (ANNOTATE, "string")  # unreviewed: annotate only
    assert tuple(bounds) == ("0a000000", "0affffff")
    as_dict = result.as_dict()
    assert as_dict["lists_loaded"] == 10 and as_dict["entries_skipped"] == 2


def test_synthetic_address_semantics(store: Store) -> None:
    update_warninglists(store, lists=CATALOGUE)
    private = match_on(one(store, "ipv4", "10.1.2.3"), "rfc1918")
    assert (private.effect, private.entry, private.matched_on) == (
        SUPPRESS,
        "10.0.0.0/8",
        "network",
    )
    assert names(one(store, "ipv4-net", "10.5.0.0/16")) == {"rfc1918"}
    assert one(store, "ipv4-net", "10.0.0.0/7") == []  # wider than the listed network
    dns = one(store, "ipv4", "8.8.8.8")
    assert [(m.name, m.effect, m.matched_on) for m in dns] == [
        ("public-dns-v4", SUPPRESS, "value"),
        ("vpn-ipv4", ANNOTATE, "network"),
    ]
    assert names(one(store, "ipv4", "1.1.1.1")) == {"public-dns-v4"}  # a /32 is an address
    assert names(one(store, "ipv6", "2001:db8::1")) == {"vpn-ipv4"}
    assert one(store, "ipv4", "11.0.0.1") == []


def test_synthetic_domain_semantics(store: Store) -> None:
    update_warninglists(store, lists=CATALOGUE)
    google = one(store, "domain", "google.com")
    assert [(m.name, m.effect) for m in google] == [("tranco10k", SUPPRESS), ("tranco", ANNOTATE)]
    sub = match_on(one(store, "domain", "a.b.google.com"), "tranco10k")
    assert (sub.entry, sub.matched_on, sub.effect) == ("google.com", "parent domain", SUPPRESS)
    # string lists match exactly; hostname lists also through parents
    assert names(one(store, "domain", "www.example.org")) == {"cisco_top1000", "tranco"}
    assert names(one(store, "domain", "a.www.example.org")) == {"tranco"}
    # shared parents downgrade a suppressing parent match, never an exact one
    assert is_suppressed(one(store, "domain", "blogspot.com"))
    evil = one(store, "domain", "evil.blogspot.com")
    assert {(m.name, m.effect) for m in evil} == {
        ("tranco10k", ANNOTATE),
        ("lots-project", ANNOTATE),
    }
    assert all(m.note and "blogspot.com" in m.note for m in evil)
    # IDN entries are stored in punycode, like observables
    assert names(one(store, "domain", "xn--bcher-kva.de")) == {"tranco10k"}
    assert names(one(store, "domain", "zq.example")) == {"brand-new-list"}
    assert one(store, "domain", "zq-update-cdn-sync.net") == []


def test_synthetic_url_email_hash_semantics(store: Store) -> None:
    update_warninglists(store, lists=CATALOGUE)
    assert is_suppressed(one(store, "url", "google.com/"))
    deep = one(store, "url", "mail.google.com/mail/u/0")
    assert deep and not is_suppressed(deep)
    assert match_on(deep, "tranco10k").note.startswith("a URL with a path")
    assert names(one(store, "url", "8.8.8.8:8080/x")) == {"public-dns-v4", "vpn-ipv4"}
    mail = match_on(one(store, "email", "x@in.mailinator.com"), "disposable-email")
    assert (mail.effect, mail.matched_on, mail.entry) == (
        ANNOTATE,
        "email domain",
        "mailinator.com",
    )
    assert one(store, "email", "ceo@google.com") == []  # popularity lists skip mailboxes
    assert names(one(store, "md5", "d41d8cd98f00b204e9800998ecf8427e")) == {"empty-hashes"}
    assert lookup(store, []) == {}


def test_update_replaces_changed_lists_and_removes_missing_ones(store: Store) -> None:
    first = [src("rfc1918", "cidr", ["10.0.0.0/8"]), src("tranco", "hostname", ["b.example"])]
    update_warninglists(store, lists=first)
    assert names(one(store, "ipv4", "10.1.1.1")) == {"rfc1918"}  # also fills the cache
    with store.engine.connect() as conn:
        list_id = conn.execute(
            select(s.warninglists.c.list_id).where(s.warninglists.c.name == "rfc1918")
        ).scalar_one()

    second = [
        src("rfc1918", "cidr", ["172.16.0.0/12"], version="2"),
        src("tranco10k", "hostname", ["c.example"]),
    ]
    result = update_warninglists(store, lists=second)
    assert sorted(result.loaded) == ["rfc1918", "tranco10k"]
    assert result.removed == ["tranco"] and result.unchanged == 0
    assert entry_count(store) == 2
    assert one(store, "ipv4", "10.1.1.1") == []  # the cached networks were refreshed
    assert names(one(store, "ipv4", "172.16.5.5")) == {"rfc1918"}
    assert one(store, "domain", "b.example") == []
    with store.engine.connect() as conn:
        same_id = conn.execute(
            select(s.warninglists.c.list_id).where(s.warninglists.c.name == "rfc1918")
        ).scalar_one()
    assert same_id == list_id

    again = update_warninglists(store, lists=second)
    assert (again.loaded, again.unchanged, again.entries_stored) == ([], 2, 0)


def test_a_new_reading_of_an_unchanged_list_refreshes_its_header(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalogue = [src("tranco", "hostname", ["b.example"])]
    update_warninglists(store, lists=catalogue)
    assert not is_suppressed(one(store, "domain", "b.example"))
    monkeypatch.setitem(POLICIES, "tranco", ListPolicy(SUPPRESS, "test", match="string"))
    result = update_warninglists(store, lists=catalogue)
    assert (result.refreshed, result.loaded, result.entries_stored) == (["tranco"], [], 0)
    assert is_suppressed(one(store, "domain", "b.example"))
    assert one(store, "domain", "a.b.example") == []  # now matched as a string list


def test_a_failed_update_stores_nothing(store: Store) -> None:
    update_warninglists(store, lists=[src("rfc1918", "cidr", ["10.0.0.0/8"])])

    def broken() -> list[str]:
        raise InputError("lists/tranco/list.json", "truncated file")

    catalogue = [
        src("rfc1918", "cidr", ["172.16.0.0/12"], version="2"),
        WarninglistSource("tranco", "1", "hostname", broken),
    ]
    with pytest.raises(InputError, match="truncated file"):
        update_warninglists(store, lists=catalogue)
    assert names(one(store, "ipv4", "10.1.1.1")) == {"rfc1918"}
    assert one(store, "ipv4", "172.16.0.1") == []
    assert entry_count(store) == 1

    twice = [src("tranco", "hostname", ["a.example"]), src("tranco", "hostname", ["b.example"])]
    with pytest.raises(InputError, match="'tranco': appears twice"):
        update_warninglists(store, lists=twice)


def test_bulk_mode_drops_and_rebuilds_indexes_and_keys(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(load_module, "_BULK_MIN_ROWS", 5)
    with store.engine.connect() as conn:
        before_fks = inspect(conn).get_foreign_keys("warninglist_entries")
    entries = [f"host{i}.example" for i in range(300)]
    result = update_warninglists(store, lists=[src("tranco", "hostname", entries)])
    assert result.rebuilt_indexes and result.entries_total == 300
    with store.engine.connect() as conn:
        found = inspect(conn)
        indexes = {
            ix["name"]: ix["column_names"] for ix in found.get_indexes("warninglist_entries")
        }
        after_fks = found.get_foreign_keys("warninglist_entries")
    assert indexes["ix_wl_value"] == ["kind", "value"] and indexes["ix_wl_list"] == ["list_id"]
    assert [fk["referred_table"] for fk in after_fks] == [fk["referred_table"] for fk in before_fks]
    assert after_fks[0]["options"].get("ondelete") == "CASCADE"
    assert names(one(store, "domain", "www.host7.example")) == {"tranco"}


def test_progress_accepts_a_rich_progress(store: Store) -> None:
    with Progress(disable=True) as progress:
        update_warninglists(store, progress=progress, lists=CATALOGUE[:3])
        (task,) = progress.tasks
    assert task.total == 3 and task.completed == 3
    with pytest.raises(TypeError, match="progress"):
        update_warninglists(store, progress=42, lists=CATALOGUE[:1])


def test_check_values(store: Store) -> None:
    update_warninglists(store, lists=CATALOGUE)
    results = check_values(store, ["10.9.9.9", " Mail.Google.com. ", "not a value!", "11.0.0.1"])
    assert [r.observable for r in results] == [
        Observable("ipv4", "10.9.9.9"),
        Observable("domain", "mail.google.com"),
        None,
        Observable("ipv4", "11.0.0.1"),
    ]
    assert results[0].suppressed and results[1].suppressed and not results[3].suppressed
    assert results[2].error and "'not a value!'" in results[2].error
    assert results[2].as_dict() == {"value": "not a value!", "error": results[2].error}
    shown = results[1].as_dict()
    assert shown["normalized"] == "mail.google.com" and shown["suppressed"] is True
    assert {m["list"] for m in shown["matches"]} == {"tranco10k", "tranco"}


# --- accord check ------------------------------------------------------------------------------


def cli() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def main() -> None:
        """Test app holding only this area's command."""

    check_cli.register(app)
    return app


runner = CliRunner()


def flat(text: str) -> str:
    """Rich wraps long lines at the terminal width; compare word sequences."""
    return " ".join(text.split())


def test_check_cli_before_and_after_loading(node_home: NodeHome) -> None:
    home = str(node_home.path)
    before = runner.invoke(cli(), ["check", "8.8.8.8", "--home", home, "--json"])
    assert before.exit_code == 0, before.output
    report = json.loads(before.stdout)
    assert report["warninglists_loaded"] == 0
    assert "accord kb update warninglists" in report["hint"]
    text = runner.invoke(cli(), ["check", "8.8.8.8", "--home", home])
    assert "accord kb update warninglists" in flat(text.stderr)
    assert "on no warninglist" in text.stdout

    with node_home.open_store() as store:
        update_warninglists(store, lists=CATALOGUE)
    after = runner.invoke(
        cli(), ["check", "8.8.8.8", "evil.blogspot.com", "--home", home, "--json"]
    )
    assert after.exit_code == 0, after.output
    report = json.loads(after.stdout)
    assert report["warninglists_loaded"] == 10 and "hint" not in report
    dns, blog = report["results"]
    assert (dns["kind"], dns["suppressed"]) == ("ipv4", True)
    assert [m["list"] for m in dns["matches"]] == ["public-dns-v4", "vpn-ipv4"]
    assert blog["suppressed"] is False and blog["matches"][0]["note"]

    human = runner.invoke(cli(), ["check", "8.8.8.8", "zq-update-cdn-sync.net", "--home", home])
    assert human.exit_code == 0
    assert "suppressed" in human.stdout and "public-dns-v4" in human.stdout
    assert "on no warninglist" in human.stdout


def test_check_cli_reports_unreadable_values(node_home: NodeHome) -> None:
    result = runner.invoke(
        cli(), ["check", "bad value!", "10.0.0.1", "--home", str(node_home.path)]
    )
    assert result.exit_code == 1
    assert "bad value!" in flat(result.stderr) and "10.0.0.1" in result.stdout
    as_json = runner.invoke(cli(), ["check", "bad value!", "--home", str(node_home.path), "--json"])
    assert as_json.exit_code == 1
    assert "error" in json.loads(as_json.stdout)["results"][0]


def test_check_cli_help_and_missing_home(tmp_path: Path) -> None:
    help_text = runner.invoke(cli(), ["check", "--help"]).stdout
    assert "warninglists" in help_text and "--json" in help_text
    missing = runner.invoke(cli(), ["check", "8.8.8.8", "--home", str(tmp_path / "none")])
    assert missing.exit_code == 2 and "no accord node" in flat(missing.stderr)
