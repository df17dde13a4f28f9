"""Which warninglists name an observable: the lookup the retro-hunt and the importers use.

Semantics, per observable kind:

* **address** (``ipv4``/``ipv6``): an equal entry, or any listed network containing it.
  The address's network is computed at every prefix length present in the lists and looked
  up by equality, so a lookup is a handful of hash probes, never a range scan;
* **network**: any listed network containing it (same computation, prefix lengths up to its
  own);
* **domain**: an equal entry, and on ``hostname`` lists any listed parent domain
  (``a.b.google.com`` matches ``google.com``). A *suppressing* match through a parent that
  hosts other parties' names (a public suffix, a dynamic DNS zone, a trusted-hosting
  platform: see :data:`~accord.ingest.warninglists.policy.SHARED_PARENT_LISTS`) only
  annotates: ``evil.blogspot.com`` is not benign because ``blogspot.com`` is popular;
* **URL**: an equal entry, or through its host (as an address or a domain). A host match
  keeps its effect only for a bare URL (``http://host/``); a URL with a path or query names
  specific content (``docs.google.com/forms/…``, ``raw.githubusercontent.com/…``) and a
  benign host does not make that content benign, so such a match only annotates;
* **email**: an equal entry, or its domain on an email-domain list (disposable mail);
* **hash**: an equal entry.

Exact values (and every parent of a domain) are looked up in batches, one query per kind
and batch, on the ``(kind, value)`` index. The listed networks (about 55,000) are read once
into hash tables keyed by prefix length and cached per store until the next warninglist
update; an address probes only the prefix lengths listed within its /16. On a 2-core VM a
batch of 1,000,000 mixed observables takes about 20 s on SQLite.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
import weakref
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, func, select

from accord.ingest.warninglists.load import META_GENERATION, store_meta
from accord.ingest.warninglists.policy import (
    ANNOTATE,
    EMAIL_DOMAIN_LISTS,
    SHARED_PARENT_LISTS,
    SUPPRESS,
)
from accord.model.errors import InputError
from accord.model.observables import Observable, parent_domains, url_host
from accord.store import schema as s
from accord.store.store import Store

# Values per query. PostgreSQL switches from the index to a sequential scan for large
# arrays (at 20,000 values on a 2.5 M-row table), so its batches stay small.
_BATCH = {"sqlite": 20_000, "postgresql": 2_000}
_IP_KINDS = frozenset({"ipv4", "ipv6"})
_NET_KINDS = ("ipv4-net", "ipv6-net")


@dataclass(frozen=True, slots=True)
class WarninglistMatch:
    """One list naming an observable.

    ``effect`` is what the match means for *this* observable, which may be weaker than the
    list's own effect (``note`` then says why). ``entry`` is the list entry that matched,
    ``matched_on`` how: ``value``, ``network``, ``parent domain``, ``url host`` or
    ``email domain``.
    """

    name: str
    effect: str
    entry: str
    matched_on: str
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "list": self.name,
            "effect": self.effect,
            "entry": self.entry,
            "matched_on": self.matched_on,
        }
        if self.note:
            found["note"] = self.note
        return found


def is_suppressed(matches: Iterable[WarninglistMatch]) -> bool:
    """True when any match suppresses: the value is benign infrastructure or special-use."""
    return any(m.effect == SUPPRESS for m in matches)


@dataclass(frozen=True, slots=True)
class _ListInfo:
    name: str
    effect: str
    list_type: str


_Table = dict[int, list[tuple[int, str]]]  # network >> host bits → [(list_id, entry)]
_BUCKET_BITS = 16


@dataclass
class _Catalogue:
    """The lists and their networks, as read for one warninglist generation.

    ``buckets`` maps an IP version and the first 16 bits of an address to the prefix
    lengths at which some listed network overlaps that /16, most specific first, with the
    host bits to drop and the table to probe. An address then probes only the few lengths
    that can match (about 25 IPv4 lengths are listed in all, rarely more than 3 per /16).
    """

    generation: str | None
    lists: dict[int, _ListInfo] = field(default_factory=dict)
    buckets: dict[tuple[int, int], list[tuple[int, int, _Table]]] = field(default_factory=dict)


_CACHE: weakref.WeakKeyDictionary[Store, _Catalogue] = weakref.WeakKeyDictionary()
_CACHE_LOCK = threading.Lock()


def loaded_list_count(store: Store) -> int:
    """How many warninglists the store holds (0: never loaded)."""
    with store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(s.warninglists)).scalar_one())


def _catalogue(store: Store, conn: Connection) -> _Catalogue:
    generation = store_meta(conn, META_GENERATION)
    with _CACHE_LOCK:
        cached = _CACHE.get(store)
    if cached is not None and cached.generation == generation:
        return cached
    t = s.warninglists
    catalogue = _Catalogue(generation)
    for r in conn.execute(select(t.c.list_id, t.c.name, t.c.effect, t.c.list_type)):
        catalogue.lists[r.list_id] = _ListInfo(r.name, r.effect, r.list_type)
    e = s.warninglist_entries
    tables: dict[tuple[int, int], dict[int, list[tuple[int, str]]]] = {}
    query = select(e.c.list_id, e.c.kind, e.c.value, e.c.lo).where(e.c.kind.in_(_NET_KINDS))
    for list_id, kind, value, lo in conn.execute(query):
        # ``lo`` is the network address in fixed-width hex: no ipaddress parsing needed
        version, width = (4, 32) if kind == "ipv4-net" else (6, 128)
        prefixlen = int(value.rpartition("/")[2])
        table = tables.setdefault((version, prefixlen), {})
        table.setdefault(int(lo, 16) >> (width - prefixlen), []).append((list_id, value))
    for (version, prefixlen), table in sorted(tables.items(), key=lambda kv: -kv[0][1]):
        width = 32 if version == 4 else 128
        probe = (prefixlen, width - prefixlen, table)
        top_shift = width - _BUCKET_BITS
        for key in table:
            first = (key << (width - prefixlen)) >> top_shift
            count = 1 << max(0, _BUCKET_BITS - prefixlen)  # a short prefix spans many /16s
            for bucket in range(first, first + count):
                probes = catalogue.buckets.setdefault((version, bucket), [])
                if not probes or probes[-1] is not probe:
                    probes.append(probe)
    with _CACHE_LOCK:
        _CACHE[store] = catalogue
    return catalogue


def _network_hits(
    catalogue: _Catalogue, version: int, number: int, max_prefixlen: int
) -> list[tuple[int, str]]:
    """``(list_id, entry)`` of the listed networks containing an address (or a network of
    ``max_prefixlen`` bits): its network at each listed prefix length, looked up by
    equality, most specific first."""
    width = 32 if version == 4 else 128
    probes = catalogue.buckets.get((version, number >> (width - _BUCKET_BITS)), ())
    hits: list[tuple[int, str]] = []
    for prefixlen, shift, table in probes:
        if prefixlen <= max_prefixlen:
            found = table.get(number >> shift)
            if found:
                hits.extend(found)
    return hits


def _address_number(text: str) -> tuple[int, int]:
    """``(IP version, address as an integer)`` of a *normalised* address, without
    ``ipaddress`` objects (a million of them cost seconds)."""
    if ":" in text:
        return 6, int.from_bytes(socket.inet_pton(socket.AF_INET6, text), "big")
    a, b, c, d = text.split(".")
    return 4, (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)


def _exact_keys(obs: Observable) -> list[tuple[str, str]]:
    """The ``(kind, value)`` pairs to look up by equality for one observable."""
    kind, value = obs.kind, obs.value
    if kind == "domain":
        return [("domain", p) for p in parent_domains(value)]
    if kind == "url":
        return [("url", value), *_host_keys(url_host(value))]
    if kind == "email":
        return [("email", value), *(("domain", p) for p in parent_domains(_email_domain(value)))]
    if kind in _NET_KINDS:
        return []
    return [(kind, value)]


def _host_keys(host: str) -> list[tuple[str, str]]:
    address = _as_address(host)
    if address is not None:
        return [("ipv6" if ":" in address else "ipv4", address)]
    return [("domain", p) for p in parent_domains(host)]


def _as_address(host: str) -> str | None:
    """The host as a canonical address when it is one (URL hosts are normalised)."""
    if ":" not in host and not host[-1:].isdigit():
        return None  # a domain name: its last label is never numeric
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


def _email_domain(value: str) -> str:
    return value.rpartition("@")[2]


def _fetch(conn: Connection, keys: set[tuple[str, str]]) -> dict[tuple[str, str], list[int]]:
    """list ids per ``(kind, value)``, in batched queries, one kind per query so that each
    uses the ``(kind, value)`` index.

    A batch travels as one parameter where the database allows it (a JSON array unpacked
    by ``json_each`` on SQLite, an array compared with ``= ANY`` on PostgreSQL): no
    statement with thousands of placeholders to render and parse per batch.
    """
    by_kind: dict[str, list[str]] = defaultdict(list)
    for kind, value in keys:
        by_kind[kind].append(value)
    found: dict[tuple[str, str], list[int]] = defaultdict(list)
    dialect = conn.dialect.name
    batch = _BATCH.get(dialect, 500)
    for kind, values in by_kind.items():
        values.sort()
        for start in range(0, len(values), batch):
            chunk = values[start : start + batch]
            if dialect == "sqlite":
                rows = conn.exec_driver_sql(
                    "SELECT list_id, value FROM warninglist_entries WHERE kind = ? "
                    "AND value IN (SELECT value FROM json_each(?))",
                    (kind, orjson.dumps(chunk).decode()),
                )
            elif dialect == "postgresql":
                rows = conn.exec_driver_sql(
                    "SELECT list_id, value FROM warninglist_entries "
                    "WHERE kind = %(kind)s AND value = ANY(%(values)s)",
                    {"kind": kind, "values": chunk},
                )
            else:
                e = s.warninglist_entries
                rows = conn.execute(
                    select(e.c.list_id, e.c.value).where(e.c.kind == kind, e.c.value.in_(chunk))
                )
            for list_id, value in rows:
                found[(kind, value)].append(list_id)
    return found


class _Matcher:
    """Turns fetched rows into the matches of one observable (one match per list, the
    most specific entry)."""

    def __init__(self, catalogue: _Catalogue, rows: dict[tuple[str, str], list[int]]) -> None:
        self.catalogue = catalogue
        self.rows = rows

    def _lists(self, key: tuple[str, str]) -> list[_ListInfo]:
        lists = self.catalogue.lists
        return [lists[i] for i in self.rows.get(key, ()) if i in lists]

    def matches(self, obs: Observable) -> list[WarninglistMatch]:
        kind, value = obs.kind, obs.value
        found: list[WarninglistMatch]
        if kind in _IP_KINDS:
            found = self._address(value, "value")
        elif kind in _NET_KINDS:
            address, _, prefixlen = value.partition("/")
            found = self._network_only(address, int(prefixlen))
        elif kind == "domain":
            found = self._domain(value, "value")
        elif kind == "url":
            found = self._url(value)
        elif kind == "email":
            found = [self._match(i, value, "value") for i in self._lists(("email", value))]
            for m in self._domain(_email_domain(value), "email domain"):
                if m.name in EMAIL_DOMAIN_LISTS:
                    found.append(m)
        else:
            found = [self._match(i, value, "value") for i in self._lists((kind, value))]
        return _one_per_list(found)

    @staticmethod
    def _match(info: _ListInfo, entry: str, how: str) -> WarninglistMatch:
        return WarninglistMatch(info.name, info.effect, entry, how)

    def _address(self, text: str, how: str) -> list[WarninglistMatch]:
        kind = "ipv6" if ":" in text else "ipv4"
        found = [self._match(i, text, how) for i in self._lists((kind, text))]
        return found + self._network_only(text, 128)

    def _network_only(self, address: str, prefixlen: int) -> list[WarninglistMatch]:
        lists = self.catalogue.lists
        version, number = _address_number(address)
        return [
            self._match(lists[list_id], entry, "network")
            for list_id, entry in _network_hits(self.catalogue, version, number, prefixlen)
            if list_id in lists
        ]

    def _domain(self, name: str, how: str) -> list[WarninglistMatch]:
        parents = parent_domains(name)
        shared: str | None = None  # the nearest shared parent seen so far, walking up
        found: list[WarninglistMatch] = []
        for depth, parent in enumerate(parents):
            infos = self._lists(("domain", parent))
            if depth > 0 and shared is None and any(i.name in SHARED_PARENT_LISTS for i in infos):
                shared = parent
            for info in infos:
                if depth == 0:
                    found.append(self._match(info, parent, how))
                    continue
                if info.list_type != "hostname":
                    continue
                via = "parent domain" if how == "value" else how
                if info.effect == SUPPRESS and shared is not None:
                    note = f"{shared} hosts names of other parties: annotation only"
                    found.append(WarninglistMatch(info.name, ANNOTATE, parent, via, note))
                else:
                    found.append(WarninglistMatch(info.name, info.effect, parent, via))
        return found

    def _url(self, value: str) -> list[WarninglistMatch]:
        found = [self._match(i, value, "value") for i in self._lists(("url", value))]
        host = url_host(value)
        bare = value.partition("/")[2] == ""
        address = _as_address(host)
        host_matches = (
            self._address(address, "url host")
            if address is not None
            else self._domain(host, "url host")
        )
        for m in host_matches:
            if m.effect == SUPPRESS and not bare:
                note = "a URL with a path names content, not just its host: annotation only"
                m = WarninglistMatch(m.name, ANNOTATE, m.entry, "url host", note)
            elif m.matched_on != "url host":
                m = WarninglistMatch(m.name, m.effect, m.entry, "url host", m.note)
            found.append(m)
        return found


def _one_per_list(found: list[WarninglistMatch]) -> list[WarninglistMatch]:
    """Keep each list's first (most specific) match; suppressing matches first."""
    seen: dict[str, WarninglistMatch] = {}
    for m in found:
        seen.setdefault(m.name, m)
    return sorted(seen.values(), key=lambda m: (m.effect != SUPPRESS, m.name))


def lookup(
    store: Store, observables: Iterable[Observable]
) -> dict[Observable, list[WarninglistMatch]]:
    """The warninglist matches of each observable that is on at least one list.

    Observables on no list are absent from the result (``result.get(obs, [])``), which keeps
    a million-value retro-hunt batch light. Values must be normalised (as produced by
    :mod:`accord.model.observables`).
    """
    unique = list(dict.fromkeys(observables))
    if not unique:
        return {}
    with store.engine.connect() as conn:
        catalogue = _catalogue(store, conn)
        if not catalogue.lists:
            return {}
        keys = {key for obs in unique for key in _exact_keys(obs)}
        rows = _fetch(conn, keys)
    matcher = _Matcher(catalogue, rows)
    result: dict[Observable, list[WarninglistMatch]] = {}
    for obs in unique:
        try:
            found = matcher.matches(obs)
        except (ValueError, OSError) as exc:  # inet_pton raises OSError
            raise InputError(
                f"observable {obs.kind} {obs.value!r}", f"not a normalised value: {exc}"
            ) from None
        if found:
            result[obs] = found
    return result
