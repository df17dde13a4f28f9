"""Typed observable values: normalisation, classification and STIX pattern decomposition.

The store indexes every indicator and SCO by the values it names, in one normalised form
per kind, so that search (and later the retro-hunt) compares like with like:

* ``ipv4`` / ``ipv6``: the canonical address text (``ipaddress``'s compressed form);
* ``ipv4-net`` / ``ipv6-net``: the network in CIDR form, host bits cleared;
* ``domain``: lower case, no trailing dot, IDN in punycode;
* ``url``: scheme dropped, host lower case and punycode, default port dropped, path kept;
* ``email``: lower case;
* ``md5`` / ``sha1`` / ``sha256`` / ``sha512``: lower-case hex.

Only the simple pattern forms that name concrete values are decomposed. Everything else
(``AND``, qualifiers, ``MATCHES``…) is left to ``stix2-patterns`` for validation and is not
indexed by value, because it does not name one value that an observation must equal.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

KINDS = (
    "ipv4",
    "ipv6",
    "ipv4-net",
    "ipv6-net",
    "domain",
    "url",
    "email",
    "md5",
    "sha1",
    "sha256",
    "sha512",
)

_HASH_LENGTHS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_HASH_NAMES = {
    "md5": "md5",
    "sha-1": "sha1",
    "sha1": "sha1",
    "sha-256": "sha256",
    "sha256": "sha256",
    "sha-512": "sha512",
    "sha512": "sha512",
}
_HEX = re.compile(r"^[0-9a-fA-F]+\Z")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)\Z")
_DOMAIN = re.compile(r"(?:(?!-)[a-z0-9_-]{1,63}(?<!-)\.)*(?!-)[a-z0-9_-]{1,63}(?<!-)")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ftp": 21}
# An IPv4 address already in ipaddress's canonical text (no leading zeros): normalising it
# would return it unchanged, so the hot paths skip building an ``ipaddress`` object.
_IPV4_CANONICAL = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)
_IP_CHARS = "0123456789."


@dataclass(frozen=True, slots=True)
class Observable:
    """One typed, normalised value. ``lo``/``hi`` bound networks for range queries."""

    kind: str
    value: str

    @property
    def is_network(self) -> bool:
        return self.kind.endswith("-net")


def ip_hex(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """Fixed-width hex form of an address, so text order equals numeric order."""
    width = 8 if address.version == 4 else 32
    return format(int(address), f"0{width}x")


def network_bounds(value: str) -> tuple[str, str]:
    """Hex bounds of a network, or of a single address (both bounds equal)."""
    if "/" not in value:
        if _IPV4_CANONICAL.fullmatch(value):
            a, b, c, d = value.split(".")
            single = f"{int(a):02x}{int(b):02x}{int(c):02x}{int(d):02x}"
        else:
            single = ip_hex(ipaddress.ip_address(value))
        return single, single
    net = ipaddress.ip_network(value, strict=False)
    return ip_hex(net.network_address), ip_hex(net.broadcast_address)


def normalize_ip(value: str) -> Observable:
    """An address or a network. ``/32`` and ``/128`` networks are single addresses."""
    text = value.strip()
    if _IPV4_CANONICAL.fullmatch(text):
        return Observable("ipv4", text)
    if "/" in text:
        net = ipaddress.ip_network(text, strict=False)
        if net.prefixlen == net.max_prefixlen:
            return Observable(f"ipv{net.version}", str(net.network_address))
        return Observable(f"ipv{net.version}-net", str(net))
    addr = ipaddress.ip_address(text)
    return Observable(f"ipv{addr.version}", str(addr))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def normalize_domain(value: str) -> str:
    """Lower-case, strip the root dot, and encode IDN labels as punycode."""
    text = value.strip().rstrip(".").lower()
    if not text:
        raise ValueError("empty domain name")
    try:
        ascii_name = text.encode("idna").decode("ascii") if not text.isascii() else text
    except UnicodeError as exc:
        raise ValueError(f"not a valid internationalised domain name: {value!r}") from exc
    if ascii_name is not text and _is_ip(ascii_name):  # full-width digits fold to an address
        raise ValueError(f"{value!r} is the IP address {ascii_name} in non-ASCII digits")
    if _DOMAIN.fullmatch(ascii_name):
        return ascii_name  # every label valid, checked in one match
    labels = ascii_name.split(".")
    if any(not _LABEL.match(label) for label in labels):
        raise ValueError(f"not a valid domain name: {value!r}")
    return ascii_name


def parent_domains(name: str) -> list[str]:
    """``a.b.evil.com`` → ``[a.b.evil.com, b.evil.com, evil.com, com]``."""
    labels = name.split(".")
    return [".".join(labels[i:]) for i in range(len(labels))]


def normalize_url(value: str) -> str:
    """Scheme-less canonical URL: ``host[:port]/path[?query]``.

    The scheme is dropped so that ``hxxp://evil.com/a`` (refanged) and ``evil.com/a`` match;
    default ports vanish; scheme and host case are folded; the path keeps its case.
    """
    text = value.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if not host:
        raise ValueError(f"URL without a host: {value!r}")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in URL {value!r}") from exc
    if ":" in host:  # IPv6 literal
        host_text = f"[{ipaddress.ip_address(host)}]"
    elif host.strip(_IP_CHARS):  # a letter or other character: not an IPv4 address
        host_text = normalize_domain(host)
    else:
        try:
            host_text = str(ipaddress.ip_address(host))
        except ValueError:
            host_text = normalize_domain(host)
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host_text = f"{host_text}:{port}"
    path = parts.path or "/"
    query = f"?{parts.query}" if parts.query else ""
    return f"{host_text}{path}{query}"


def url_host(normalized_url: str) -> str:
    """The host part of a normalised URL (without port)."""
    host = normalized_url.split("/", 1)[0]
    if host.startswith("["):
        return host[1 : host.index("]")]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def normalize_hash(value: str, algorithm: str | None = None) -> Observable:
    text = value.strip()
    if not _HEX.match(text):
        raise ValueError(f"hash is not hexadecimal: {value!r}")
    kind = _HASH_NAMES.get(algorithm.lower()) if algorithm else _HASH_LENGTHS.get(len(text))
    if kind is None:
        raise ValueError(f"unsupported hash ({algorithm or len(text)}): {value!r}")
    expected = {v: k for k, v in _HASH_LENGTHS.items()}[kind]
    if len(text) != expected:
        raise ValueError(f"{kind} must have {expected} hex digits, got {len(text)}: {value!r}")
    return Observable(kind, text.lower())


def normalize_email(value: str) -> str:
    text = value.strip().lower()
    local, at, domain = text.rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not an email address: {value!r}")
    return f"{local}@{normalize_domain(domain)}"


def normalize(kind: str, value: str) -> Observable:
    """Normalise a value already known to be of ``kind`` (a name from :data:`KINDS`)."""
    if kind in ("ipv4", "ipv6", "ipv4-net", "ipv6-net", "ip", "cidr"):
        return normalize_ip(value)
    if kind == "domain":
        return Observable("domain", normalize_domain(value))
    if kind == "url":
        return Observable("url", normalize_url(value))
    if kind == "email":
        return Observable("email", normalize_email(value))
    if kind in ("md5", "sha1", "sha256", "sha512", "hash"):
        return normalize_hash(value, None if kind == "hash" else kind)
    raise ValueError(f"unknown observable kind {kind!r} (choose {', '.join(KINDS)})")


def classify(value: str) -> Observable:
    """Guess the kind of a bare value (a search term, a CSV cell without a type)."""
    text = value.strip()
    if not text:
        raise ValueError("empty value")
    try:
        return normalize_ip(text)
    except ValueError:
        pass
    if _HEX.match(text) and len(text) in _HASH_LENGTHS:
        return normalize_hash(text)
    if "://" in text or ("/" in text and "@" not in text):
        return Observable("url", normalize_url(text))
    if "@" in text:
        return Observable("email", normalize_email(text))
    return Observable("domain", normalize_domain(text))


# --- STIX objects and patterns ------------------------------------------------------------

# (object type, property path) → kind. Paths are as written in patterns, lower case.
_PATH_KINDS: dict[tuple[str, str], str] = {
    ("ipv4-addr", "value"): "ip",
    ("ipv6-addr", "value"): "ip",
    ("domain-name", "value"): "domain",
    ("url", "value"): "url",
    ("email-addr", "value"): "email",
    ("email-message", "from_ref.value"): "email",
    ("email-message", "sender_ref.value"): "email",
}
_HASHED_TYPES = {"file", "artifact", "x509-certificate"}


def _kind_for_path(obj_type: str, path: Sequence[str]) -> tuple[str | None, str | None]:
    """Map an object path to (kind, hash algorithm). ``(None, None)`` when not indexable."""
    if obj_type in _HASHED_TYPES and len(path) == 2 and path[0] == "hashes":
        algorithm = path[1].lower()
        return ("hash", algorithm) if algorithm in _HASH_NAMES else (None, None)
    return _PATH_KINDS.get((obj_type, ".".join(path))), None


def observable_for(obj_type: str, path: Sequence[str], value: str) -> Observable | None:
    """Typed value of one comparison, or None when the path is not an indexed one."""
    kind, algorithm = _kind_for_path(obj_type, path)
    if kind is None:
        return None
    if kind == "hash":
        return normalize_hash(value, algorithm)
    return normalize(kind, value)


class PatternNotSimple(ValueError):
    """The pattern uses more than ``[a:b = 'v'] OR …``: validate it with stix2-patterns."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lbr>\[) | (?P<rbr>\]) |
        (?P<path>[a-z][a-z0-9-]*:(?:[A-Za-z_]\w*|'[^'\\]+')(?:\.(?:[A-Za-z_]\w*|'[^'\\]+'))*) |
        (?P<op>=|ISSUBSET\b) |
        (?P<or>OR\b) |
        (?P<str>'(?:[^'\\]|\\['\\])*')
    )""",
    re.VERBOSE,
)


def _tokens(pattern: str) -> Iterator[tuple[str, str]]:
    pos = 0
    end = len(pattern.rstrip())
    while pos < end:
        m = _TOKEN.match(pattern, pos)
        if not m or m.end() == pos:
            raise PatternNotSimple(pattern[pos:])
        kind = m.lastgroup or ""
        yield kind, m.group(kind)
        pos = m.end()


def _split_path(path: str) -> tuple[str, list[str]]:
    obj_type, _, rest = path.partition(":")
    if "." not in rest and "'" not in rest:
        return obj_type, [rest]  # one plain property, the common case
    parts = re.findall(r"'[^']+'|[^.]+", rest)
    return obj_type, [p.strip("'") for p in parts]


# The overwhelmingly common form, one comparison of a plain property: matched in one step.
_SINGLE = re.compile(
    r"^\s*\[\s*([a-z][a-z0-9-]*):([a-z_][a-z0-9_]*|hashes\.(?:'[^'\\]+'|[A-Za-z_][A-Za-z0-9_]*))"
    r"\s*(=|ISSUBSET)\s*'((?:[^'\\]|\\['\\])*)'\s*\]\s*\Z"
)


@lru_cache(maxsize=8192)
def parse_simple_pattern(pattern: str) -> tuple[tuple[str, tuple[str, ...], str, str], ...]:
    """Parse ``[t:p = 'v' OR …] OR [ … ]`` into ``(type, path, op, value)`` comparisons.

    Raises :class:`PatternNotSimple` for any other form. The accepted language is a strict
    subset of the STIX 2.1 pattern grammar, so a pattern accepted here is syntactically valid.
    Cached, because an import validates, indexes and flags the same pattern in turn.
    """
    single = _SINGLE.match(pattern)
    if single:
        obj_type, path, op, raw = single.groups()
        literal = raw.replace("\\'", "'").replace("\\\\", "\\")
        return ((obj_type, tuple(_split_path(f"{obj_type}:{path}")[1]), op, literal),)
    return tuple(_parse_tokens(pattern))


def _parse_tokens(pattern: str) -> list[tuple[str, tuple[str, ...], str, str]]:
    toks = list(_tokens(pattern))
    out: list[tuple[str, tuple[str, ...], str, str]] = []
    i = 0
    expect_observation = True
    while i < len(toks):
        if not expect_observation:
            if toks[i][0] != "or":
                raise PatternNotSimple(toks[i][1])
            i += 1
            expect_observation = True
            continue
        if toks[i][0] != "lbr":
            raise PatternNotSimple(toks[i][1])
        i += 1
        while True:
            if i + 2 >= len(toks) + 0 or toks[i][0] != "path":
                raise PatternNotSimple("comparison expected")
            if toks[i + 1][0] != "op" or toks[i + 2][0] != "str":
                raise PatternNotSimple("comparison expected")
            obj_type, path = _split_path(toks[i][1])
            literal = toks[i + 2][1][1:-1].replace("\\'", "'").replace("\\\\", "\\")
            out.append((obj_type, tuple(path), toks[i + 1][1], literal))
            i += 3
            if i < len(toks) and toks[i][0] == "or":
                i += 1
                continue
            if i < len(toks) and toks[i][0] == "rbr":
                i += 1
                break
            raise PatternNotSimple("']' or OR expected")
        expect_observation = False
    if expect_observation:
        raise PatternNotSimple("empty pattern")
    return out


@lru_cache(maxsize=8192)
def _pattern_observables(pattern: str) -> tuple[Observable, ...]:
    return tuple(_decompose(pattern))


def pattern_observables(pattern: str) -> list[Observable]:
    """Typed values named by a simple pattern; ``[]`` when it is not of a simple form."""
    return list(_pattern_observables(pattern))


def _decompose(pattern: str) -> list[Observable]:
    """Typed values named by a simple pattern; ``[]`` when it is not of a simple form.

    A comparison whose value is malformed for its kind (``'domain autuo.xicp.net'`` appears in
    an OASIS example) is valid STIX, so it is kept whole in the store but not value-indexed.
    """
    try:
        comparisons = parse_simple_pattern(pattern)
    except PatternNotSimple:
        return []
    values: list[Observable] = []
    for obj_type, path, op, literal in comparisons:
        if op == "ISSUBSET" and (obj_type, ".".join(path)) not in (
            ("ipv4-addr", "value"),
            ("ipv6-addr", "value"),
        ):
            continue
        try:
            found = observable_for(obj_type, path, literal)
        except ValueError:
            continue
        if found is not None and found not in values:
            values.append(found)
    return values


def sco_observables(obj: Mapping[str, Any]) -> list[Observable]:
    """Typed values of a cyber-observable object (SCO)."""
    obj_type = obj.get("type")
    found: list[Observable] = []
    try:
        if obj_type in ("ipv4-addr", "ipv6-addr") and isinstance(obj.get("value"), str):
            found.append(normalize_ip(obj["value"]))
        elif obj_type == "domain-name" and isinstance(obj.get("value"), str):
            found.append(Observable("domain", normalize_domain(obj["value"])))
        elif obj_type == "url" and isinstance(obj.get("value"), str):
            found.append(Observable("url", normalize_url(obj["value"])))
        elif obj_type == "email-addr" and isinstance(obj.get("value"), str):
            found.append(Observable("email", normalize_email(obj["value"])))
        elif obj_type in _HASHED_TYPES and isinstance(obj.get("hashes"), Mapping):
            for algorithm, digest in obj["hashes"].items():
                if algorithm.lower() in _HASH_NAMES and isinstance(digest, str):
                    found.append(normalize_hash(digest, algorithm))
    except ValueError:
        # An SCO with an odd value is still stored whole; it is just not value-indexed.
        return []
    return found


def pattern_for(observable: Observable, original: str | None = None) -> str:
    """A STIX pattern that names one value. ``original`` keeps the producer's spelling."""
    raw = (original if original is not None else observable.value).replace("\\", "\\\\")
    raw = raw.replace("'", "\\'")
    kind = observable.kind
    if kind in ("ipv4", "ipv4-net"):
        return f"[ipv4-addr:value = '{raw}']"
    if kind in ("ipv6", "ipv6-net"):
        return f"[ipv6-addr:value = '{raw}']"
    if kind == "domain":
        return f"[domain-name:value = '{raw}']"
    if kind == "url":
        if original is None:
            raw = "http://" + raw
        return f"[url:value = '{raw}']"
    if kind == "email":
        return f"[email-addr:value = '{raw}']"
    algorithm = {"md5": "MD5", "sha1": "SHA-1", "sha256": "SHA-256", "sha512": "SHA-512"}[kind]
    return f"[file:hashes.'{algorithm}' = '{observable.value}']"
