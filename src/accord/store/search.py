"""Finding objects by observable value, by type and by text.

Value search understands what an analyst means: an IP finds indicators of networks that
contain it, ``a.b.evil.com`` finds an indicator for ``evil.com``, URLs compare in normalised
form and hashes ignore case. Every lookup is an equality or range probe on the
``observables`` index — a CIDR is found by computing the IP's network at every prefix length,
never by scanning ranges.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import and_, select

from accord.model.observables import Observable, classify, parent_domains, url_host
from accord.model.stix import display_name
from accord.store import schema as s
from accord.store.store import Store, value_bounds


@dataclass(frozen=True)
class ValueMatch:
    """An object whose indexed value matches the query, and how."""

    id: str
    type: str
    kind: str
    value: str
    how: str  # exact, contained-in, contains, parent-domain, url-host, url-on-domain

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "kind": self.kind,
            "value": self.value,
            "how": self.how,
        }


def _supernets(address: Observable) -> list[str]:
    ip = ipaddress.ip_address(address.value)
    top = ip.max_prefixlen
    return [str(ipaddress.ip_network(f"{ip}/{p}", strict=False)) for p in range(0, top)]


def _probes(query: Observable) -> list[tuple[Any, str]]:
    """(SQL condition, how) pairs that together answer a value query."""
    o = s.observables.c
    probes: list[tuple[Any, str]] = []
    if query.kind in ("ipv4", "ipv6"):
        net_kind = f"{query.kind}-net"
        probes.append((and_(o.kind == query.kind, o.value == query.value), "exact"))
        probes.append((and_(o.kind == net_kind, o.value.in_(_supernets(query))), "contained-in"))
    elif query.kind in ("ipv4-net", "ipv6-net"):
        lo, hi = value_bounds(query)
        addr_kind = query.kind.removesuffix("-net")
        probes.append((and_(o.kind == query.kind, o.value == query.value), "exact"))
        probes.append((and_(o.kind == addr_kind, o.lo >= lo, o.lo <= hi), "contains"))
        supernets = [
            str(n)
            for n in (
                ipaddress.ip_network(query.value).supernet(new_prefix=p)
                for p in range(0, ipaddress.ip_network(query.value).prefixlen)
            )
        ]
        probes.append((and_(o.kind == query.kind, o.value.in_(supernets)), "contained-in"))
    elif query.kind == "domain":
        parents = parent_domains(query.value)
        probes.append((and_(o.kind == "domain", o.value == query.value), "exact"))
        if len(parents) > 1:
            probes.append((and_(o.kind == "domain", o.value.in_(parents[1:])), "parent-domain"))
        # URLs on this exact host: a range probe on the normalised, scheme-less form.
        for after, bound in (("/", "0"), (":", ";")):  # host/… and host:port/…
            probes.append(
                (
                    and_(
                        o.kind == "url",
                        o.value >= query.value + after,
                        o.value < query.value + bound,
                    ),
                    "url-on-domain",
                )
            )
    elif query.kind == "url":
        probes.append((and_(o.kind == "url", o.value == query.value), "exact"))
        host = url_host(query.value)
        try:
            ipaddress.ip_address(host)
            probes.append((and_(o.kind.in_(("ipv4", "ipv6")), o.value == host), "url-host"))
        except ValueError:
            probes.append((and_(o.kind == "domain", o.value.in_(parent_domains(host))), "url-host"))
    else:
        probes.append((and_(o.kind == query.kind, o.value == query.value), "exact"))
    return probes


def search_value(store: Store, text: str, limit: int = 1000) -> list[ValueMatch]:
    """Current objects whose indexed values match ``text`` (raises ValueError if unparseable)."""
    query = classify(text)
    matches: dict[tuple[str, str, str], ValueMatch] = {}
    with store.engine.connect() as conn:
        for condition, how in _probes(query):
            stmt = (
                select(s.observables.c.obj_id, s.objects.c.type, s.observables.c.kind)
                .add_columns(s.observables.c.value)
                .join(s.objects, s.objects.c.row_id == s.observables.c.row_id)
                .where(condition)
                .limit(limit)
            )
            for r in conn.execute(stmt):
                key = (r.obj_id, r.kind, r.value)
                matches.setdefault(key, ValueMatch(r.obj_id, r.type, r.kind, r.value, how))
    return sorted(matches.values(), key=lambda m: (m.how != "exact", m.type, m.id))[:limit]


def search_objects(
    store: Store,
    *,
    types: list[str] | None = None,
    words: list[str] | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Current objects of the given types whose text contains every word (case-insensitive)."""
    o = s.objects.c
    stmt = select(o.id, o.type, o.body).where(o.is_current)
    if types:
        stmt = stmt.where(o.type.in_(types))
    for word in words or []:
        escaped = word.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(o.search_text.like(f"%{escaped}%", escape="\\"))
    stmt = stmt.order_by(o.type, o.id).limit(limit)
    with store.engine.connect() as conn:
        rows = conn.execute(stmt).all()
    out = []
    for r in rows:
        obj = orjson.loads(r.body)
        out.append({"id": r.id, "type": r.type, "name": display_name(obj)})
    return out


__all__ = ["ValueMatch", "search_objects", "search_value"]
