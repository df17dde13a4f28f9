"""The hunt definition: one SQL query, run unchanged on DuckDB and on Spark SQL.

Inputs (tables or views the engine provides):

* ``obs(file_no, ord, ts_us, log_type, field, kind, value)``: observed values (see
  :mod:`accord.hunt.observations`), ``kind`` one of ``ip``, ``name``, ``url``, ``hash``,
  ``email``;
* ``ind_values(ikey, k, v)``: indicator values to match by equality, ``k`` one of ``ip``,
  ``name``, ``url``, ``hash``, ``email`` (domain indicators also in Unicode form for IDNs);
* ``ind_nets(ikey, fam, plen, netkey, bits)``: CIDR indicators; IPv4 ones keyed by the
  network number ``address // 2**(32 - plen)``, IPv6 ones by the first ``plen`` bits as text;
  ``plens(fam, plen, div)`` their distinct prefix lengths (``div = 2**(32 - plen)``);
  ``octet_prefixes(p)``: the first three characters of any IPv4 address some network
  covers (``'7.1'``, ``'75.'``, ``'175'``: a cheap filter before the cut);
* ``name_cuts(labels, n)``: for an observed name of ``labels`` labels (128 standing for
  128 or more), each label count ``n`` that domain indicators have and that is not more
  than ``labels``: the parent domains worth looking up;
* ``ip6_bits(v, bits)``: the 128-bit form of observed IPv6 addresses, keyed by the value as
  observed (only filled when IPv6 networks are hunted: address arithmetic is not portable
  SQL).

Output: one row per (observation, indicator) match (:data:`HIT_COLUMNS`). The definition is
two queries: :data:`MATCHED_SQL` (the rules that need normalising or expanding a value, run
on *distinct* observed values → indicator keys) and :data:`HITS_SQL` (exact addresses and
hashes probed straight from the observations, plus the matched values joined back to the
observations that carry them; the addresses some network matched are probed together with
the address indicators, so each address observation is probed once); :data:`HUNT_SQL` is the
two as one statement.

Why two shapes: an exact address or hash is one hash probe per observation, cheaper than
first collapsing the observations to distinct values; cutting an address to every prefix
length, expanding a name to its parent domains or parsing a URL costs more, so it is done
once per distinct value (logs repeat the same addresses, names and URLs over and over) and
only the few values that matched are joined back.

How each rule stays a hash join (no regular expression is built from an indicator, nothing
from the input is evaluated):

* addresses, hashes, emails, URLs: equality on a normalised value;
* domains: each distinct observed name is cut to its suffixes at label boundaries, only at
  the label counts the indicators have (``a.b.evil.com`` → ``evil.com`` when every domain
  indicator has two labels), then joined by equality, so ``evil.com`` matches every
  subdomain; the usual cuts (the name itself, or its parent) are a ``substring`` at the first
  dot, any other one ``substring_index``;
* CIDR: the observed addresses whose first octet some network covers (a cheap test on each
  observation, before collapsing them to distinct values) are cut to every prefix length
  present among the indicators, and joined on ``(family, length, network)``: one equi-join
  per distinct prefix length, fused into one.

Only functions that both dialects spell the same way are used; DuckDB gets Spark's
``substring_index`` as a macro (:data:`DUCKDB_MACROS`).
"""

from __future__ import annotations

# Spark's ``substring_index`` for DuckDB. Cutting a name to its parent domain drops one or
# two leading labels in nearly every case; those are done with ``instr`` and ``substring``
# (splitting every name into a list of labels and joining them again cost more than the
# whole lookup). Any other cut takes the general list form.
DUCKDB_MACROS = """
CREATE OR REPLACE MACRO accord_after_first(s, d) AS substring(s, instr(s, d) + length(d));
CREATE OR REPLACE MACRO accord_drop_parts(s, d, k) AS
  (length(s) - length(replace(s, d, ''))) // length(d) + 1 + k;
CREATE OR REPLACE MACRO substring_index(s, d, k) AS (
  CASE
    WHEN k = 0 OR d = '' THEN substring(s, 1, 0)
    WHEN k > 0 THEN array_to_string(list_slice(string_split(s, d), 1, k), d)
    WHEN accord_drop_parts(s, d, k) = 1 THEN accord_after_first(s, d)
    WHEN accord_drop_parts(s, d, k) <= 0 THEN s
    WHEN accord_drop_parts(s, d, k) = 2 THEN accord_after_first(accord_after_first(s, d), d)
    ELSE array_to_string(list_slice(string_split(s, d), k, -1), d)
  END
);
"""

# URL normalisation: scheme optional (the regular expressions run only on values that have
# one), host lower case, default port dropped, path and query as they are.
_URL_PARTS = """
url_split AS (
  SELECT value, u_scheme,
    CASE WHEN instr(u_rest, '/') > 0
      THEN substring(u_rest, 1, instr(u_rest, '/') - 1) ELSE u_rest END AS u_host,
    CASE WHEN instr(u_rest, '/') > 0
      THEN substring(u_rest, instr(u_rest, '/')) ELSE '/' END AS u_path
  FROM (
    SELECT value,
      CASE WHEN instr(value, '://') > 0
        THEN lower(regexp_extract(value, '^([A-Za-z][A-Za-z0-9+.-]*)://', 1)) ELSE '' END
        AS u_scheme,
      CASE WHEN instr(value, '://') > 0
        THEN regexp_replace(value, '^[A-Za-z][A-Za-z0-9+.-]*://', '') ELSE value END AS u_rest
    FROM (SELECT value FROM obs WHERE kind = 'url' GROUP BY value) d
  ) u
),
url_norm AS (
  SELECT value, concat(
    CASE
      WHEN (u_scheme IN ('', 'http') AND lower(u_host) LIKE '%:80')
        THEN substring(lower(u_host), 1, length(u_host) - 3)
      WHEN (u_scheme = 'https' AND lower(u_host) LIKE '%:443')
        THEN substring(lower(u_host), 1, length(u_host) - 4)
      ELSE lower(u_host)
    END,
    u_path) AS nv
  FROM url_split
)"""

MATCHED_SQL = f"""
WITH {_URL_PARTS.strip()},
email_norm AS (
  SELECT value, lower(trim(
    CASE WHEN value LIKE '%<%>%' THEN regexp_extract(value, '<([^<>]*)>', 1) ELSE value END))
    AS nv
  FROM (SELECT value FROM obs WHERE kind = 'email' GROUP BY value) d
),
name_keys AS (
  SELECT 'name' AS kind, value,
    lower(CASE WHEN value LIKE '%.' THEN substring(value, 1, length(value) - 1) ELSE value END)
      AS nk
  FROM (SELECT value FROM obs WHERE kind = 'name' GROUP BY value) d
  UNION ALL
  SELECT 'email' AS kind, value, substring_index(nv, '@', -1) AS nk
  FROM email_norm WHERE nv LIKE '%@%'
),
name_labels AS (
  SELECT kind, value, nk, least(length(nk) - length(replace(nk, '.', '')) + 1, 128) AS labels
  FROM name_keys
),
name_hits AS (
  -- the label count is known: the usual cuts (the name itself, its parent) need no search
  SELECT k.kind, k.value, i.ikey
  FROM (
    SELECT k.kind, k.value,
      CASE
        WHEN k.labels = c.n AND k.labels < 128 THEN k.nk
        WHEN k.labels = c.n + 1 AND k.labels < 128 THEN substring(k.nk, instr(k.nk, '.') + 1)
        ELSE substring_index(k.nk, '.', 0 - c.n)
      END AS suffix
    FROM name_labels k
    JOIN name_cuts c ON c.labels = k.labels
  ) k
  JOIN ind_values i ON i.k = 'name' AND i.v = k.suffix
),
ip4_first AS (
  -- only addresses whose first octet some network covers are cut to prefixes
  SELECT value, try_cast(substring(value, 1, instr(value, '.') - 1) AS BIGINT) AS a
  FROM (
    SELECT value FROM obs
    WHERE kind = 'ip' AND left(value, 3) IN (SELECT p FROM octet_prefixes)
    GROUP BY value
  ) f
),
ip4 AS (
  SELECT f.value, f.a,
    try_cast(split_part(f.value, '.', 2) AS BIGINT) AS b,
    try_cast(split_part(f.value, '.', 3) AS BIGINT) AS c,
    try_cast(split_part(f.value, '.', 4) AS BIGINT) AS d,
    length(f.value) - length(replace(f.value, '.', '')) AS dots
  FROM ip4_first f
),
net4_hits AS (
  SELECT 'ip' AS kind, k.value, n.ikey
  FROM (
    SELECT i.value, p.plen,
      CASE WHEN dots = 3 AND instr(value, ':') = 0 AND a BETWEEN 0 AND 255
          AND b BETWEEN 0 AND 255 AND c BETWEEN 0 AND 255 AND d BETWEEN 0 AND 255
        THEN CAST(floor((a * 16777216 + b * 65536 + c * 256 + d) / p.div) AS BIGINT)
      END AS netkey
    FROM ip4 i JOIN plens p ON p.fam = 4
  ) k
  JOIN ind_nets n ON n.fam = 4 AND n.plen = k.plen AND n.netkey = k.netkey
),
net6_hits AS (
  SELECT 'ip' AS kind, b.v AS value, n.ikey
  FROM ip6_bits b
  JOIN plens p ON p.fam = 6
  JOIN ind_nets n ON n.fam = 6 AND n.plen = p.plen AND n.bits = substring(b.bits, 1, p.plen)
)
SELECT 'url' AS kind, u.value, i.ikey
FROM url_norm u JOIN ind_values i ON i.k = 'url' AND i.v = u.nv
UNION ALL
SELECT 'email' AS kind, e.value, i.ikey
FROM email_norm e JOIN ind_values i ON i.k = 'email' AND i.v = e.nv
UNION ALL
SELECT kind, value, ikey FROM name_hits
UNION ALL
SELECT kind, value, ikey FROM net4_hits
UNION ALL
SELECT kind, value, ikey FROM net6_hits
"""

_OBS_COLUMNS = "obs.file_no, obs.ord, obs.ts_us, obs.log_type, obs.field, obs.kind, obs.value"

_IP_KEY = "CASE WHEN instr({v}, ':') > 0 THEN lower({v}) ELSE {v} END"

# Step 2: exact addresses and hashes straight from the observations, and the values MATCHED_SQL
# found (``matched``, a small table so that the join builds on it) back to their observations.
# Addresses are the bulk of the observations, so they are probed once: against the address
# indicators and the addresses some network matched together (the latter keyed the same way,
# once per key: two spellings of one IPv6 address match the same networks). The keys are
# lower case; an observed address is probed as it is, and only an IPv6 one with capitals is
# probed again in lower case (normalising every address in the join key cost more than the
# probe itself).
_IP_KEYS = f"""(
  SELECT v, ikey FROM ind_values WHERE k = 'ip'
  UNION ALL
  SELECT DISTINCT {_IP_KEY.format(v="value")} AS v, ikey FROM matched WHERE kind = 'ip'
)"""

_HITS_BODY = f"""
SELECT {_OBS_COLUMNS}, i.ikey
FROM obs JOIN ip_keys i ON i.v = obs.value
WHERE obs.kind = 'ip'
UNION ALL
SELECT {_OBS_COLUMNS}, i.ikey
FROM obs JOIN ip_keys i ON i.v = lower(obs.value)
WHERE obs.kind = 'ip' AND instr(obs.value, ':') > 0 AND obs.value <> lower(obs.value)
UNION ALL
SELECT {_OBS_COLUMNS}, i.ikey
FROM obs JOIN ind_values i ON i.k = 'hash' AND i.v = lower(obs.value)
WHERE obs.kind = 'hash'
UNION ALL
SELECT {_OBS_COLUMNS}, m.ikey
FROM obs JOIN matched m ON m.kind = obs.kind AND m.value = obs.value
WHERE obs.kind IN ('name', 'url', 'email')
"""

HITS_SQL = f"WITH ip_keys AS {_IP_KEYS}{_HITS_BODY}"

# The whole definition as one query (for engines that prefer one statement).
HUNT_SQL = f"WITH matched AS ({MATCHED_SQL.strip()}),\nip_keys AS {_IP_KEYS}{_HITS_BODY}"

# Observed IPv6 addresses that need their bit form (only when IPv6 networks are hunted).
IPV6_VALUES_SQL = "SELECT DISTINCT value AS v FROM obs WHERE kind = 'ip' AND instr(value, ':') > 0"

HIT_COLUMNS = ("file_no", "ord", "ts_us", "log_type", "field", "kind", "value", "ikey")
