"""The indicator inputs of the match definition, built once per hunt inside DuckDB.

From the indicator snapshot (an Arrow table, scanned in place), set-based SQL makes the
tables :mod:`accord.hunt.matchsql` joins against: ``ind_values``, ``ind_nets``, ``plens``,
``octet_prefixes`` and ``name_cuts``. Only the few values SQL cannot portably handle go through
Python: IPv6 networks (128-bit arithmetic) and internationalised domain names (their
Unicode spelling). A million indicators thus cost one scan, not a Python loop over each.

The DuckDB engine builds them in its own connection and joins against them directly; the
Spark engine builds them in its reading connection and stages them as Parquet.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

import duckdb
import pyarrow as pa

MATCH_TABLES = ("ind_values", "ind_nets", "plens", "octet_prefixes", "name_cuts")

# Store value kinds → observation kinds (see accord.hunt.fields).
STORE_TO_MATCH = {
    "ipv4": "ip",
    "ipv6": "ip",
    "domain": "name",
    "url": "url",
    "email": "email",
    "md5": "hash",
    "sha1": "hash",
    "sha256": "hash",
    "sha512": "hash",
}
NET_KINDS = ("ipv4-net", "ipv6-net")

_SNAPSHOT = "accord_snapshot"


def _ipv4_int(addr: str) -> str:
    """SQL: a dotted IPv4 address (already validated by the store) as an integer."""
    return (
        f"(CAST(split_part({addr}, '.', 1) AS BIGINT) * 16777216"
        f" + CAST(split_part({addr}, '.', 2) AS BIGINT) * 65536"
        f" + CAST(split_part({addr}, '.', 3) AS BIGINT) * 256"
        f" + CAST(split_part({addr}, '.', 4) AS BIGINT))"
    )


def _unicode_form(name: str) -> str | None:
    """The Unicode spelling of a punycode domain, so names logged in Unicode match too."""
    if "xn--" not in name:
        return None
    try:
        return name.encode("ascii").decode("idna").lower()
    except UnicodeError:
        return None


def _ipv6_network(value: str) -> tuple[int, str]:
    """``(prefix length, prefix bits as text)`` of an IPv6 network."""
    address, _, length = value.partition("/")
    plen = int(length)
    return plen, format(int(ipaddress.IPv6Address(address)), "0128b")[:plen]


def _register(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register(name, table)


def create_match_tables(
    con: duckdb.DuckDBPyConnection,
    snapshot: pa.Table,
    prepared: dict[str, pa.Table] | None = None,
) -> None:
    """Create the match definition's indicator tables as temp tables of ``con``: copied from
    ``prepared`` ones when given (see :func:`match_tables_arrow`), else built from the
    snapshot."""
    if prepared is not None:
        for name in MATCH_TABLES:
            _register(con, f"{name}_arrow", prepared[name])
            con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
            con.unregister(f"{name}_arrow")
        return
    _register(con, _SNAPSHOT, snapshot)
    try:
        _create(con)
    finally:
        con.unregister(_SNAPSHOT)


def _create(con: duckdb.DuckDBPyConnection) -> None:
    mapping = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in STORE_TO_MATCH.items())
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ind_values AS "
        f"SELECT ikey, CAST(CASE kind {mapping} END AS VARCHAR) AS k, value AS v "
        f"FROM {_SNAPSHOT} WHERE kind NOT IN ('ipv4-net', 'ipv6-net')"
    )
    idn = con.execute(
        f"SELECT ikey, value FROM {_SNAPSHOT} WHERE kind = 'domain' AND contains(value, 'xn--')"
    ).fetchall()
    extra = [(k, u) for k, v in idn if (u := _unicode_form(v)) is not None]
    if extra:
        _register(
            con,
            "accord_idn",
            pa.table(
                {
                    "ikey": pa.array([k for k, _ in extra], pa.int64()),
                    "v": pa.array([u for _, u in extra], pa.string()),
                }
            ),
        )
        con.execute("INSERT INTO ind_values SELECT ikey, 'name', v FROM accord_idn")
        con.unregister("accord_idn")
    address, plen = "split_part(value, '/', 1)", "CAST(split_part(value, '/', 2) AS INTEGER)"
    con.execute(
        "CREATE OR REPLACE TEMP TABLE ind_nets AS "
        "SELECT ikey, CAST(4 AS INTEGER) AS fam, plen, "
        "CAST(n // (CAST(1 AS BIGINT) << (32 - plen)) AS BIGINT) AS netkey, "
        "CAST(NULL AS VARCHAR) AS bits "
        f"FROM (SELECT ikey, {plen} AS plen, {_ipv4_int(address)} AS n "
        f"FROM {_SNAPSHOT} WHERE kind = 'ipv4-net')"
    )
    nets6 = con.execute(f"SELECT ikey, value FROM {_SNAPSHOT} WHERE kind = 'ipv6-net'").fetchall()
    if nets6:
        cut = [(ikey, *_ipv6_network(value)) for ikey, value in nets6]
        _register(
            con,
            "accord_nets6",
            pa.table(
                {
                    "ikey": pa.array([c[0] for c in cut], pa.int64()),
                    "plen": pa.array([c[1] for c in cut], pa.int32()),
                    "bits": pa.array([c[2] for c in cut], pa.string()),
                }
            ),
        )
        con.execute("INSERT INTO ind_nets SELECT ikey, 6, plen, NULL, bits FROM accord_nets6")
        con.unregister("accord_nets6")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE plens AS "
        "SELECT DISTINCT fam, plen, "
        "CASE WHEN fam = 4 THEN CAST(1 AS BIGINT) << (32 - plen) END AS div "
        "FROM ind_nets ORDER BY fam, plen"
    )
    # The first three characters of any address inside an IPv4 network: they spell its
    # first octet ('7.1', '75.', '175'), so the match tests them without parsing a number.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE octet_prefixes AS "
        "WITH octets AS ("
        "  SELECT DISTINCT CAST(o.range AS INTEGER) AS a FROM range(256) o JOIN ("
        "    SELECT (netkey * div) >> 24 AS lo, (netkey * div + div - 1) >> 24 AS hi "
        "    FROM ind_nets n JOIN plens p ON p.fam = 4 AND p.fam = n.fam AND p.plen = n.plen"
        "  ) s ON o.range BETWEEN s.lo AND s.hi"
        ") "
        "SELECT CAST(a AS VARCHAR) || '.' || CAST(d.range AS VARCHAR) AS p "
        "FROM octets, range(10) d WHERE a < 10 "
        "UNION ALL SELECT CAST(a AS VARCHAR) || '.' FROM octets WHERE a BETWEEN 10 AND 99 "
        "UNION ALL SELECT CAST(a AS VARCHAR) FROM octets WHERE a >= 100 "
        "ORDER BY 1"
    )
    # (observed label count, indicator label count to cut it to): an equi-join, not a
    # comparison per name
    con.execute(
        "CREATE OR REPLACE TEMP TABLE name_cuts AS "
        "SELECT CAST(l.range AS INTEGER) AS labels, n.n FROM range(1, 129) l JOIN ("
        "  SELECT DISTINCT CAST(length(v) - length(replace(v, '.', '')) + 1 AS INTEGER) AS n "
        "  FROM ind_values WHERE k = 'name'"
        ") n ON n.n <= l.range ORDER BY 1, 2"
    )


def match_tables_arrow(snapshot: pa.Table) -> dict[str, pa.Table]:
    """The match tables as Arrow tables (to stage them elsewhere, e.g. for a Spark job)."""
    con = duckdb.connect()
    try:
        create_match_tables(con, snapshot)
        return {name: con.table(name).to_arrow_table() for name in MATCH_TABLES}
    finally:
        con.close()


def ipv6_bits(values: Iterable[str]) -> pa.Table:
    """128-bit strings of observed IPv6 addresses (invalid ones are left out)."""
    vs: list[str] = []
    bits: list[str] = []
    for value in values:
        try:
            address = ipaddress.IPv6Address(value.split("%", 1)[0])
        except ValueError:
            continue
        vs.append(value)
        bits.append(format(int(address), "0128b"))
    return pa.table({"v": pa.array(vs, pa.string()), "bits": pa.array(bits, pa.string())})
