"""The hunt definition: one SQL query, run unchanged on DuckDB and on Spark SQL.

Inputs (tables or views the engine provides):

* ``obs(file_no, ord, ts_us, log_type, field, kind, value)``: observed values (see ``readers``);
* ``ind_values(ikey, k, v)``: indicator values to match by equality, ``k`` one of ``ip``,
  ``name``, ``url``, ``hash``, ``email`` (domain indicators also in Unicode form for IDNs);
* ``ind_nets(ikey, fam, plen, netkey, bits)``: CIDR indicators; IPv4 ones keyed by the
  network number ``address // 2**(32 - plen)``, IPv6 ones by the first ``plen`` bits as text;
  ``plens(fam, plen, div)`` their distinct prefix lengths (``div = 2**(32 - plen)``);
  ``net_octets(a)``: first octets any IPv4 network covers (a cheap filter before the cut);
* ``nums(n)``: 1 … the most labels any domain indicator has;
* ``ip6_bits(v, bits)``: the 128-bit form of observed IPv6 addresses (only filled when IPv6
  networks are hunted: address arithmetic is not portable SQL).

Output: one row per (observation, indicator) match. The definition is two queries:
:data:`MATCHED_SQL` (distinct observed values → indicator keys) and :data:`HITS_SQL` (those
values back to the observations); :data:`HUNT_SQL` is the two as one statement.

Matching works on the *distinct* observed values (a log repeats the same addresses and names
over and over); only the few values that matched are joined back to the observations.

How each rule stays a hash join (no regular expression is built from an indicator, nothing
from the input is evaluated):

* addresses, hashes, emails, URLs: equality on a normalised value;
* domains: each distinct observed name is expanded to its suffixes at label boundaries
  (``a.b.evil.com`` → ``evil.com``, ``b.evil.com``, …; only as many labels as the longest
  indicator has), then joined by equality, so ``evil.com`` matches every subdomain;
* CIDR: each distinct observed address whose first octet some network covers is cut to
  every prefix length present among the indicators, and joined on ``(family, length,
  network)``: one equi-join per distinct prefix length, fused into one.

Only functions that both dialects spell the same way are used; DuckDB gets Spark's
``substring_index`` as a macro (:data:`DUCKDB_MACROS`).
"""

from __future__ import annotations

DUCKDB_MACROS = """
CREATE OR REPLACE MACRO substring_index(s, d, k) AS (
  CASE WHEN k < 0 THEN array_to_string(
      list_slice(string_split(s, d), greatest(len(string_split(s, d)) + k + 1, 1),
                 len(string_split(s, d))), d)
  ELSE array_to_string(list_slice(string_split(s, d), 1, k), d) END
);
"""

_NORMALISED = """
dv AS (
  SELECT kind, value FROM obs GROUP BY kind, value
),
o AS (
  SELECT kind, value,
    CASE
      WHEN kind = 'email' THEN lower(trim(
        CASE WHEN value LIKE '%<%>%' THEN regexp_extract(value, '<([^<>]*)>', 1) ELSE value END))
      WHEN kind = 'name' THEN lower(
        CASE WHEN value LIKE '%.' THEN substring(value, 1, length(value) - 1) ELSE value END)
      WHEN kind = 'url' THEN concat(
        CASE
          WHEN (u_scheme IN ('', 'http') AND lower(u_host) LIKE '%:80')
            THEN substring(lower(u_host), 1, length(u_host) - 3)
          WHEN (u_scheme = 'https' AND lower(u_host) LIKE '%:443')
            THEN substring(lower(u_host), 1, length(u_host) - 4)
          ELSE lower(u_host)
        END,
        u_path)
      ELSE lower(value)
    END AS nv
  FROM (
    SELECT u1.*,
      CASE WHEN instr(u_rest, '/') > 0
        THEN substring(u_rest, 1, instr(u_rest, '/') - 1) ELSE u_rest END AS u_host,
      CASE WHEN instr(u_rest, '/') > 0
        THEN substring(u_rest, instr(u_rest, '/')) ELSE '/' END AS u_path
    FROM (
      SELECT dv.*,
        CASE WHEN kind = 'url'
          THEN lower(regexp_extract(value, '^([A-Za-z][A-Za-z0-9+.-]*)://', 1)) END AS u_scheme,
        CASE WHEN kind = 'url'
          THEN regexp_replace(value, '^[A-Za-z][A-Za-z0-9+.-]*://', '') END AS u_rest
      FROM dv
    ) u1
  ) u2
)"""

MATCHED_SQL = f"""
WITH {_NORMALISED.strip()},
exact_hits AS (
  SELECT o.kind, o.value, i.ikey
  FROM o JOIN ind_values i ON i.k = o.kind AND i.v = o.nv
  WHERE o.kind IN ('ip', 'hash', 'email', 'url')
),
name_keys AS (
  SELECT DISTINCT nk FROM (
    SELECT nv AS nk FROM o WHERE kind = 'name'
    UNION ALL
    SELECT substring_index(nv, '@', -1) AS nk FROM o WHERE kind = 'email' AND nv LIKE '%@%'
  ) k
),
suffixes AS (
  SELECT k.nk, substring_index(k.nk, '.', 0 - n.n) AS suffix
  FROM name_keys k JOIN nums n ON n.n <= length(k.nk) - length(replace(k.nk, '.', '')) + 1
),
name_hits AS (
  SELECT o.kind, o.value, i.ikey
  FROM o
  JOIN suffixes s ON s.nk = CASE WHEN o.kind = 'email' THEN substring_index(o.nv, '@', -1)
                                 ELSE o.nv END
  JOIN ind_values i ON i.k = 'name' AND i.v = s.suffix
  WHERE o.kind IN ('name', 'email')
),
ip4 AS (
  SELECT nv, a,
    try_cast(split_part(nv, '.', 2) AS BIGINT) AS b,
    try_cast(split_part(nv, '.', 3) AS BIGINT) AS c,
    try_cast(split_part(nv, '.', 4) AS BIGINT) AS d
  FROM (
    SELECT nv, try_cast(split_part(nv, '.', 1) AS BIGINT) AS a
    FROM o
    WHERE kind = 'ip' AND instr(nv, ':') = 0
      AND length(nv) - length(replace(nv, '.', '')) = 3
  ) first_octet
  WHERE a IN (SELECT a FROM net_octets)
),
net4_keys AS (
  SELECT i.nv, p.plen,
    CAST(floor((a * 16777216 + b * 65536 + c * 256 + d) / p.div) AS BIGINT) AS netkey
  FROM ip4 i JOIN plens p ON p.fam = 4
  WHERE b BETWEEN 0 AND 255 AND c BETWEEN 0 AND 255 AND d BETWEEN 0 AND 255
),
net4_hits AS (
  SELECT o.kind, o.value, n.ikey
  FROM o
  JOIN net4_keys k ON k.nv = o.nv
  JOIN ind_nets n ON n.fam = 4 AND n.plen = k.plen AND n.netkey = k.netkey
  WHERE o.kind = 'ip'
),
net6_keys AS (
  SELECT b.v AS nv, p.plen, substring(b.bits, 1, p.plen) AS prefix
  FROM ip6_bits b JOIN plens p ON p.fam = 6
),
net6_hits AS (
  SELECT o.kind, o.value, n.ikey
  FROM o
  JOIN net6_keys k ON k.nv = o.nv
  JOIN ind_nets n ON n.fam = 6 AND n.plen = k.plen AND n.bits = k.prefix
  WHERE o.kind = 'ip'
)
SELECT kind, value, ikey FROM exact_hits
UNION ALL
SELECT kind, value, ikey FROM name_hits
UNION ALL
SELECT kind, value, ikey FROM net4_hits
UNION ALL
SELECT kind, value, ikey FROM net6_hits
"""

# Step 2: the few matched values back to the observations that carry them. ``matched`` is
# the result of MATCHED_SQL, kept as a (small) table so that the join builds on it.
HITS_SQL = """
SELECT obs.file_no, obs.ord, obs.ts_us, obs.log_type, obs.field, obs.kind, obs.value, m.ikey
FROM obs JOIN matched m ON m.kind = obs.kind AND m.value = obs.value
"""

# The whole definition as one query (for engines that prefer one statement).
HUNT_SQL = f"WITH matched AS ({MATCHED_SQL.strip()})\n" + HITS_SQL.strip()

# Observed IPv6 addresses that need their bit form (only when IPv6 networks are hunted).
IPV6_VALUES_SQL = (
    "SELECT DISTINCT lower(value) AS v FROM obs WHERE kind = 'ip' AND value LIKE '%:%'"
)

HIT_COLUMNS = ("file_no", "ord", "ts_us", "log_type", "field", "kind", "value", "ikey")
