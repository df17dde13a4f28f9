"""Which fields of which log carry which kind of value: the reading side of the matching table.

Observation kinds (what an extracted value is matched as):

* ``ip``: an address (exact match and CIDR containment);
* ``name``: a DNS name (domain indicators match it and its parent domains);
* ``ipname``: a DNS answer or rdata, an address or a name, classified by its shape;
* ``url``: ``host[:port]/path?query``, normalised by the match definition;
* ``hash``: a file or certificate digest (MD5, SHA-1, SHA-256, SHA-512);
* ``email``: an address, possibly as ``Name <a@b>`` (its domain also counts as a name).

Zeek fields are named as in Zeek's own headers; JSON fields by JSONPath. Every other Zeek
log is still hunted through its address fields: in TSV every ``addr``-typed column, in JSON
the usual address keys.
"""

from __future__ import annotations

from dataclasses import dataclass

KINDS = ("ip", "name", "ipname", "url", "hash", "email")


@dataclass(frozen=True, slots=True)
class Field:
    """One value-bearing field. ``host`` makes a URL from a host field and this path field."""

    name: str
    kind: str
    vector: bool = False
    host: str | None = None
    cn: bool = False  # an X.509 subject: the CN is extracted as a name


# --- Zeek ---------------------------------------------------------------------------------

ZEEK_ADDRESS_FIELDS = ("id.orig_h", "id.resp_h")

ZEEK_LOGS: dict[str, tuple[Field, ...]] = {
    "conn": (),
    "dns": (Field("query", "name"), Field("answers", "ipname", vector=True)),
    "http": (
        Field("host", "name"),
        Field("uri", "url", host="host"),
    ),
    "ssl": (
        Field("server_name", "name"),
        Field("cert_chain_fps", "hash", vector=True),
        Field("client_cert_chain_fps", "hash", vector=True),
    ),
    "x509": (
        Field("fingerprint", "hash"),
        Field("san.dns", "name", vector=True),
        Field("san.ip", "ip", vector=True),
        Field("san.email", "email", vector=True),
        Field("certificate.subject", "name", cn=True),
    ),
    "files": (
        Field("md5", "hash"),
        Field("sha1", "hash"),
        Field("sha256", "hash"),
        Field("tx_hosts", "ip", vector=True),
        Field("rx_hosts", "ip", vector=True),
    ),
    "smtp": (
        Field("helo", "name"),
        Field("mailfrom", "email"),
        Field("rcptto", "email", vector=True),
        Field("from", "email"),
        Field("to", "email", vector=True),
        Field("cc", "email", vector=True),
        Field("reply_to", "email"),
        Field("x_originating_ip", "ip"),
        Field("path", "ip", vector=True),
    ),
    "notice": (Field("src", "ip"), Field("dst", "ip")),
}

# Zeek JSON has no #types line: these keys are addresses wherever they appear.
ZEEK_JSON_ADDRESS_FIELDS = (*ZEEK_ADDRESS_FIELDS, "src", "dst")


def zeek_fields(log_type: str | None, columns: list[str], types: list[str]) -> list[Field]:
    """Fields to extract from a Zeek TSV log with these ``#fields``/``#types``."""
    present = set(columns)
    wanted: list[Field] = []
    for name, zeek_type in zip(columns, types or [""] * len(columns), strict=False):
        if zeek_type == "addr" or (name in ZEEK_ADDRESS_FIELDS and not zeek_type):
            wanted.append(Field(name, "ip"))
        elif zeek_type in ("set[addr]", "vector[addr]"):
            wanted.append(Field(name, "ip", vector=True))
    known = {f.name for f in wanted}
    for spec in ZEEK_LOGS.get(log_type or "", ()):
        if (
            spec.name in present
            and spec.name not in known
            and (spec.host is None or spec.host in present)
        ):
            wanted.append(spec)
    return wanted


def zeek_json_fields() -> list[Field]:
    """Every Zeek JSON field accord knows; absent keys simply yield nothing."""
    seen: dict[str, Field] = {n: Field(n, "ip") for n in ZEEK_JSON_ADDRESS_FIELDS}
    for specs in ZEEK_LOGS.values():
        for spec in specs:
            seen.setdefault(spec.name, spec)
    return list(seen.values())


# --- JSON formats: (field label, JSONPath, kind, vector, host path) ---------------------------


@dataclass(frozen=True, slots=True)
class JsonField:
    label: str
    path: str
    kind: str
    vector: bool = False
    host_path: str | None = None  # for URLs: path of the host, ``path`` is the URL path
    guard: str | None = None  # a parent path that must exist (skips wildcard work)


EVE_FIELDS: tuple[JsonField, ...] = (
    JsonField("src_ip", "$.src_ip", "ip"),
    JsonField("dest_ip", "$.dest_ip", "ip"),
    # DNS v2 (one record per query or answer) and v3 (queries[], answers[], grouped)
    JsonField("dns.rrname", "$.dns.rrname", "name"),
    JsonField("dns.rdata", "$.dns.rdata", "ipname"),
    JsonField("dns.queries.rrname", "$.dns.queries[*].rrname", "name", True, guard="$.dns"),
    JsonField("dns.answers.rrname", "$.dns.answers[*].rrname", "name", True, guard="$.dns"),
    JsonField("dns.answers.rdata", "$.dns.answers[*].rdata", "ipname", True, guard="$.dns"),
    JsonField("dns.grouped", "$.dns.grouped.*[*]", "ipname", True, guard="$.dns.grouped"),
    JsonField("http.hostname", "$.http.hostname", "name"),
    JsonField("http.url", "$.http.url", "url", host_path="$.http.hostname"),
    JsonField("tls.sni", "$.tls.sni", "name"),
    JsonField("fileinfo.md5", "$.fileinfo.md5", "hash"),
    JsonField("fileinfo.sha1", "$.fileinfo.sha1", "hash"),
    JsonField("fileinfo.sha256", "$.fileinfo.sha256", "hash"),
    JsonField("smtp.helo", "$.smtp.helo", "name"),
    JsonField("smtp.mail_from", "$.smtp.mail_from", "email"),
    JsonField("smtp.rcpt_to", "$.smtp.rcpt_to[*]", "email", True, guard="$.smtp"),
    JsonField("email.from", "$.email.from", "email"),
    JsonField("email.to", "$.email.to[*]", "email", True, guard="$.email"),
)
EVE_TIME = "$.timestamp"
EVE_TYPE = "$.event_type"

OCSF_FIELDS: tuple[JsonField, ...] = (
    JsonField("src_endpoint.ip", "$.src_endpoint.ip", "ip"),
    JsonField("dst_endpoint.ip", "$.dst_endpoint.ip", "ip"),
    JsonField("src_endpoint.hostname", "$.src_endpoint.hostname", "name"),
    JsonField("dst_endpoint.hostname", "$.dst_endpoint.hostname", "name"),
    JsonField("query.hostname", "$.query.hostname", "name"),
    JsonField("answers.rdata", "$.answers[*].rdata", "ipname", True, guard="$.answers"),
    JsonField("http_request.url.hostname", "$.http_request.url.hostname", "name"),
    JsonField(
        "http_request.url.path",
        "$.http_request.url.path",
        "url",
        host_path="$.http_request.url.hostname",
    ),
    JsonField("http_request.url.url_string", "$.http_request.url.url_string", "url"),
    JsonField("tls.sni", "$.tls.sni", "name"),
    JsonField("file.hashes.value", "$.file.hashes[*].value", "hash", True, guard="$.file"),
)
OCSF_TIME = "$.time"
OCSF_TYPE = "$.class_name"
OCSF_CLASSES = {4001: "network_activity", 4002: "http_activity", 4003: "dns_activity"}


def _quoted(part: str) -> str:
    """One JSONPath member name, quoted: ``"`` and ``\\`` escaped with a backslash (DuckDB's
    JSONPath syntax), so a key from a ``--map`` option or a log cannot end the quotes."""
    return '"' + part.replace("\\", "\\\\").replace('"', '\\"') + '"'


def json_path(key: str) -> str:
    """JSONPath of a (possibly dotted) key: ``a.b`` is nested; a literal dotted key such as
    Zeek's ``id.orig_h`` is written quoted by the caller with :func:`quoted_key`."""
    return "$." + ".".join(_quoted(part) for part in key.split("."))


def quoted_key(key: str) -> str:
    """JSONPath of one literal key, dots included."""
    return "$." + _quoted(key)


# --- generic formats: --map kind=col,col ------------------------------------------------------

MAP_KINDS = {
    "ip": "ip",
    "domain": "name",
    "name": "name",
    "url": "url",
    "hash": "hash",
    "email": "email",
    "time": "time",
}

AUTO_NAMES: dict[str, tuple[str, ...]] = {
    "ip": (
        "ip",
        "src",
        "dst",
        "src_ip",
        "dst_ip",
        "dest_ip",
        "source_ip",
        "destination_ip",
        "client_ip",
        "server_ip",
        "srcaddr",
        "dstaddr",
        "remote_ip",
        "c-ip",
        "s-ip",
        "id.orig_h",
        "id.resp_h",
    ),
    "domain": ("domain", "host", "hostname", "query", "qname", "fqdn", "sni", "server_name"),
    "url": ("url",),
    "hash": ("md5", "sha1", "sha256", "hash"),
    "email": ("email", "sender", "recipient", "mail_from", "rcpt_to"),
    "time": ("ts", "time", "timestamp", "@timestamp", "datetime", "eventtime", "date"),
}


def parse_map(items: list[str]) -> dict[str, list[str]]:
    """``["ip=src,dst", "domain=host"]`` → ``{"ip": ["src", "dst"], "domain": ["host"]}``."""
    mapping: dict[str, list[str]] = {}
    for item in items:
        key, eq, cols = item.partition("=")
        key = key.strip().lower()
        if not eq or key not in MAP_KINDS or not cols.strip():
            raise ValueError(
                f"--map {item!r}: expected KIND=FIELD[,FIELD…] with KIND one of "
                f"{', '.join(sorted(MAP_KINDS))}"
            )
        names = [c.strip() for c in cols.split(",") if c.strip()]
        mapping.setdefault(key, []).extend(names)
    if len(mapping.get("time", [])) > 1:
        raise ValueError("--map time= takes one field")
    return mapping


def auto_map(columns: list[str]) -> dict[str, list[str]]:
    """A mapping guessed from well-known column names (used when no ``--map`` is given)."""
    lower = {c.lower(): c for c in columns}
    mapping: dict[str, list[str]] = {}
    for key, names in AUTO_NAMES.items():
        found = [lower[n] for n in names if n in lower]
        if found:
            mapping[key] = found[:1] if key == "time" else found
    return mapping
