"""Warninglists as they come from MISP, and their entries as accord observables.

The data ships offline with the ``pymispwarninglists`` package (one ``list.json`` per list).
Reading goes straight to those files rather than through ``pymispwarninglists.WarningLists``,
which would keep all 2.5 million entries in memory at once (twice: as a list and a set):
here a list's entries are read only when the list must be (re)loaded, one list at a time.

Entries are normalised with :mod:`accord.model.observables`, so that a warninglist entry and
an observed value compare like with like (lower case, IDN in punycode, networks with host
bits cleared…). An entry that does not parse, or whose kind the list was not written for
(MISP's ``matching_attributes``: ``3::`` in a hash list is an ssdeep value, not an IPv6
address), is skipped and counted, never guessed.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from accord.model.errors import InputError
from accord.model.observables import classify, normalize_ip

IP_KINDS = ("ipv4", "ipv6", "ipv4-net", "ipv6-net")
HASH_KINDS = ("md5", "sha1", "sha256", "sha512")

# MISP attribute types → observable kinds a list written for them may hold.
_ATTRIBUTE_KINDS: dict[str, tuple[str, ...]] = {
    "ip-src": IP_KINDS,
    "ip-dst": IP_KINDS,
    "ip-src|port": IP_KINDS,
    "ip-dst|port": IP_KINDS,
    "domain|ip": ("domain", *IP_KINDS),
    "domain": ("domain",),
    "hostname": ("domain",),
    "hostname|port": ("domain",),
    "url": ("url", "domain"),
    "uri": ("url",),
    "link": ("url",),
    "email": ("email",),
    "email-src": ("email",),
    "email-dst": ("email",),
    "target-email": ("email",),
    "whois-registrant-email": ("email",),
    "dns-soa-email": ("email",),
}
for _algorithm in HASH_KINDS:
    _ATTRIBUTE_KINDS[_algorithm] = (_algorithm,)
    _ATTRIBUTE_KINDS[f"filename|{_algorithm}"] = (_algorithm,)
    _ATTRIBUTE_KINDS[f"x509-fingerprint-{_algorithm}"] = (_algorithm,)

# Kinds a name-matching list (hostname, substring) may hold: names and addresses, not URLs.
_HOST_KINDS = frozenset({"domain", *IP_KINDS})

_HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
# One line of a lower-cased list: a hex hash, or an ASCII name whose last label is not
# numeric (else it may be an IPv4 address), or anything else. Leading dots ("and
# subdomains" in MISP's notation) and surrounding blanks are dropped.
_PLAIN_LINE = re.compile(
    r"^[^\S\n]*\.*(?:([0-9a-f]{128}|[0-9a-f]{64}|[0-9a-f]{40}|[0-9a-f]{32})"
    rf"|((?:{_LABEL}\.)*(?=[a-z0-9_-]*[a-z_-]){_LABEL})\.*|(.*))[^\S\n]*$",
    re.MULTILINE,
)


@dataclass(frozen=True)
class WarninglistSource:
    """One warninglist to load: MISP's header and its raw entries.

    ``name`` is the list's identifier (the directory name in ``misp-warninglists``, such as
    ``rfc1918`` or ``tranco10k``); it selects accord's policy for the list. ``entries`` is
    either the raw values or a callable returning them, so that a catalogue of lists can be
    walked (to compare versions) without holding every list in memory.
    """

    name: str
    version: str
    misp_type: str
    entries: Sequence[str] | Callable[[], Sequence[str]] = ()
    title: str = ""
    description: str = ""
    matching_attributes: tuple[str, ...] = ()
    size_hint: int | None = field(default=None, compare=False)

    def load_entries(self) -> Sequence[str]:
        return self.entries() if callable(self.entries) else self.entries

    @property
    def expected_size(self) -> int:
        """Number of raw entries, when known without reading them (for load planning)."""
        if self.size_hint is not None:
            return self.size_hint
        return 0 if callable(self.entries) else len(self.entries)

    def allowed_kinds(self, match: str) -> frozenset[str]:
        """Observable kinds this list may hold, from its MISP matching attributes."""
        if match == "cidr":
            return frozenset(IP_KINDS)
        if self.matching_attributes:
            kinds = {k for a in self.matching_attributes for k in _ATTRIBUTE_KINDS.get(a, ())}
        else:
            kinds = {"domain", "url", "email", *IP_KINDS, *HASH_KINDS}
        return frozenset(kinds & _HOST_KINDS) if match == "hostname" else frozenset(kinds)


def misp_lists_dir() -> Path:
    """Where the installed ``pymispwarninglists`` keeps the ``misp-warninglists`` lists.

    Found without importing the package: its import pulls in ``jsonschema`` and costs
    seconds, and accord only needs its data files.
    """
    spec = importlib.util.find_spec("pymispwarninglists")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("pymispwarninglists", "the package is not installed")
    package = Path(next(iter(spec.submodule_search_locations)))
    return package / "data" / "misp-warninglists" / "lists"


def _read(path: Path) -> dict:
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise InputError(str(path), f"cannot read warninglist: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("list"), list):
        raise InputError(str(path), "not a MISP warninglist (no 'list' array)")
    return data


def _entries_of(path: Path) -> Callable[[], Sequence[str]]:
    def load() -> Sequence[str]:
        return [e for e in _read(path)["list"] if isinstance(e, str)]

    return load


def misp_sources(lists_dir: Path | None = None) -> list[WarninglistSource]:
    """Every list of the installed package, headers read now and entries on demand."""
    root = lists_dir or misp_lists_dir()
    if not root.is_dir():
        raise InputError(
            str(root), "MISP warninglists not found (is pymispwarninglists installed?)"
        )
    sources: list[WarninglistSource] = []
    for path in sorted(root.glob("*/list.json")):
        data = _read(path)
        place = str(path)
        for key in ("name", "version", "type"):
            if key not in data:
                raise InputError(place, f"warninglist header lacks {key!r}")
        attributes = data.get("matching_attributes") or []
        sources.append(
            WarninglistSource(
                name=path.parent.name,
                version=str(data["version"]),
                misp_type=str(data["type"]),
                entries=_entries_of(path),
                title=str(data["name"]),
                description=str(data.get("description") or ""),
                matching_attributes=tuple(str(a) for a in attributes),
                size_hint=len(data["list"]),
            )
        )
    return sources


def _plain_groups(entries: list[str]) -> list[tuple[str, str, str]]:
    """``(hash, name, other)`` per entry, found by one C-level pass over the joined list."""
    joined = "\n".join(entries)
    if joined.count("\n") == len(entries) - 1:
        groups = _PLAIN_LINE.findall(joined.lower())
        if len(groups) == len(entries):
            return groups
    # an entry holding a line break: one by one (such an entry is never a plain one)
    matches = (_PLAIN_LINE.fullmatch(e.lower()) for e in entries)
    return [
        m.groups() if m is not None else ("", "", e) for m, e in zip(matches, entries, strict=True)
    ]


def normalized_entries(source: WarninglistSource, match: str) -> tuple[list[tuple[str, str]], int]:
    """The list's distinct entries as ``(kind, normalised value)``, and how many raw entries
    were skipped (unparseable, or of a kind the list was not written for).

    Plain names and hashes, nearly all of the 2.5 million entries, are recognised by one
    regular expression pass over the whole lower-cased list, without an exception or an
    object per entry (three to four times faster than :func:`classify` one by one); the rest
    (addresses, IDN, URLs…) goes through :func:`classify`, which gives the same result for
    the entries both accept. A leading dot (``.google.ad``) is dropped: whether subdomains
    match is a property of the list, not of the entry.
    """
    allowed = source.allowed_kinds(match)
    raw = source.load_entries()
    entries = [e for e in raw if isinstance(e, str)]
    skipped = len(raw) - len(entries)
    found: dict[tuple[str, str], None] = {}
    if match == "cidr":
        groups: list[tuple[str, str, str]] = [("", "", e) for e in entries]
    else:
        groups = _plain_groups(entries)
    for original, (digest, name, _other) in zip(entries, groups, strict=True):
        entry: tuple[str, str]
        if digest:
            entry = (_HASH_LENGTHS[len(digest)], digest)
        elif name:
            entry = ("domain", name)
        else:
            try:
                if match == "cidr":
                    parsed = normalize_ip(original)
                else:
                    parsed = classify(original.strip().lstrip("."))
            except ValueError:
                skipped += 1
                continue
            entry = (parsed.kind, parsed.value)
        if entry[0] in allowed:
            found[entry] = None
        else:
            skipped += 1
    return list(found), skipped
