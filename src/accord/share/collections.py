"""TAXII collections a node offers: stored selections over its store, or writable inboxes.

A selection is a query such as ``types=indicator creator=self tlp<=green``; it is evaluated
at request time, so a collection is always current and costs nothing to keep. An inbox is
where peers post: what they post is validated like any import, attributed to them, and
listed in the inbox (DELETE removes it from the inbox, never from the store's history).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, insert, select

from accord.model.errors import AccordError, NotFound
from accord.model.stix import is_identifier
from accord.model.tlp import TLP
from accord.share import tables as t
from accord.share.sqlutil import now_us, unindexed
from accord.store import schema as s
from accord.store.store import SOURCE_KINDS, Store

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"
KINDS = ("selection", "inbox")


@dataclass(frozen=True)
class Selection:
    """A parsed collection query."""

    types: tuple[str, ...] = ()
    creator: str | None = None  # "self" or an identity id
    tlp_max: TLP | None = None
    tlp_exact: TLP | None = None
    source_kind: str | None = None
    source_name: str | None = None

    def clauses(self, node_identity: str) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.types:
            found.append(unindexed(s.objects.c.type).in_(self.types))
        if self.creator is not None:
            creator = node_identity if self.creator == "self" else self.creator
            found.append(unindexed(s.objects.c.created_by_ref) == creator)
        if self.tlp_max is not None:
            found.append(unindexed(s.objects.c.tlp) <= int(self.tlp_max))
        if self.tlp_exact is not None:
            found.append(unindexed(s.objects.c.tlp) == int(self.tlp_exact))
        if self.source_kind is not None:
            found.append(s.objects.c.source_kind == self.source_kind)
        if self.source_name is not None:
            found.append(s.objects.c.source_name == self.source_name)
        return found


def parse_query(text: str) -> Selection:
    """Parse ``types=a,b creator=self|identity--… tlp<=LEVEL tlp=LEVEL source=KIND[:NAME]``."""
    values: dict[str, Any] = {}
    for term in text.split():
        if "<=" in term:
            key, _, value = term.partition("<=")
            op = "<="
        elif "=" in term:
            key, _, value = term.partition("=")
            op = "="
        else:
            raise AccordError(f"collection query: {term!r} is not KEY=VALUE or tlp<=LEVEL")
        key = key.strip().lower()
        value = value.strip()
        if not value:
            raise AccordError(f"collection query: {term!r} has no value")
        if key in ("type", "types") and op == "=":
            values["types"] = tuple(v for v in value.split(",") if v)
        elif key == "creator" and op == "=":
            if value != "self" and not is_identifier(value, "identity"):
                raise AccordError(
                    f"collection query: creator must be 'self' or an identity id, got {value!r}"
                )
            values["creator"] = value
        elif key == "tlp":
            try:
                level = TLP.parse(value)
            except ValueError as exc:
                raise AccordError(f"collection query: {exc}") from None
            values["tlp_max" if op == "<=" else "tlp_exact"] = level
        elif key == "source" and op == "=":
            kind, _, name = value.partition(":")
            if kind not in SOURCE_KINDS:
                raise AccordError(
                    f"collection query: source must be one of {', '.join(SOURCE_KINDS)}"
                )
            values["source_kind"] = kind
            if name:
                values["source_name"] = name
        else:
            raise AccordError(
                f"collection query: unknown term {term!r} "
                "(use types=, creator=, tlp<=, tlp=, source=)"
            )
    return Selection(**values)


@dataclass
class Collection:
    collection_id: str
    name: str
    description: str | None
    query: str
    kind: str
    selection: Selection = field(default_factory=Selection)

    @property
    def is_inbox(self) -> bool:
        return self.kind == "inbox"

    def resource(self, can_read: bool, can_write: bool) -> dict[str, Any]:
        """The TAXII collection resource."""
        out: dict[str, Any] = {
            "id": self.collection_id,
            "title": self.name,
            "can_read": can_read,
            "can_write": can_write,
            "media_types": [STIX_MEDIA_TYPE],
        }
        if self.description:
            out["description"] = self.description
        return out

    def as_dict(self, grants: list[str] | None = None) -> dict[str, Any]:
        return {
            "id": self.collection_id,
            "name": self.name,
            "description": self.description,
            "kind": self.kind,
            "query": self.query,
            "peers": grants or [],
        }


def _from_row(r: Any) -> Collection:
    return Collection(
        r.collection_id, r.name, r.description, r.query, r.kind, parse_query(r.query or "")
    )


def add_collection(
    store: Store,
    name: str,
    *,
    description: str | None = None,
    query: str = "",
    inbox: bool = False,
    collection_id: str | None = None,
) -> Collection:
    name = name.strip()
    if not name:
        raise AccordError("a collection needs a name")
    if inbox and query.strip():
        raise AccordError("an inbox lists what peers post into it; it takes no --query")
    parse_query(query)  # reject a bad query now, not at the first request
    cid = collection_id or str(uuid.uuid4())
    with store.transaction() as conn:
        taken = conn.execute(
            select(t.collections.c.collection_id).where(t.collections.c.name == name)
        ).first()
        if taken:
            raise AccordError(f"a collection named {name!r} already exists ({taken[0]})")
        conn.execute(
            insert(t.collections).values(
                collection_id=cid,
                name=name,
                description=description,
                query=query.strip(),
                kind="inbox" if inbox else "selection",
                created_us=now_us(),
            )
        )
    return get_collection(store, cid)


def list_collections(store: Store) -> list[Collection]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.collections).order_by(t.collections.c.created_us)).all()
    return [_from_row(r) for r in rows]


def find_collection(conn: Connection, id_or_name: str) -> Collection | None:
    row = conn.execute(
        select(t.collections).where(
            (t.collections.c.collection_id == id_or_name) | (t.collections.c.name == id_or_name)
        )
    ).first()
    return _from_row(row) if row else None


def get_collection(store: Store, id_or_name: str) -> Collection:
    with store.engine.connect() as conn:
        found = find_collection(conn, id_or_name)
    if found is None:
        raise NotFound(f"no collection {id_or_name!r} (see `accord collection list`)")
    return found


def remove_collection(store: Store, id_or_name: str) -> None:
    found = get_collection(store, id_or_name)
    with store.transaction() as conn:
        conn.execute(
            delete(t.inbox_objects).where(t.inbox_objects.c.collection_id == found.collection_id)
        )
        conn.execute(delete(t.grants).where(t.grants.c.collection_id == found.collection_id))
        conn.execute(
            delete(t.collections).where(t.collections.c.collection_id == found.collection_id)
        )


def grants_by_collection(store: Store) -> dict[str, list[str]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.grants.c.collection_id, t.grants.c.peer_name)).all()
    out: dict[str, list[str]] = {}
    for cid, peer in rows:
        out.setdefault(cid, []).append(peer)
    return out
