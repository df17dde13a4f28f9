"""What one audience sees of one collection: the single emitting path of this node.

Every way data leaves (TAXII objects, manifest, one object, versions, push, export, policy
preview) reads through :class:`View`, which applies, in order:

1. the collection's selection (or inbox membership) and the TAXII filters, in SQL;
2. the audience's TLP ceiling (:mod:`accord.share.policy`), in SQL and again per row;
3. the audience's redaction profile (:mod:`accord.share.redaction`);
4. this node's signature on what it created (:mod:`accord.share.signing`).

Paging is a keyset over ``(date_added, row_id)`` carried in an opaque ``next`` token, plus
the index of the next part of a row (a redacted row emits two objects). The query seeks the
``date_added`` index directly, so the thousandth page costs what the first does.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import aliased

from accord.model.timestamps import format_micros
from accord.model.tlp import TLP
from accord.share import tables as t
from accord.share.collections import Collection
from accord.share.policy import Ceiling, or_all, sql_clause
from accord.share.redaction import Profile
from accord.share.signing import Signer
from accord.share.sqlutil import insert_ignore, unindexed
from accord.store import schema as s
from accord.store.store import Store

_COLS = (
    s.objects.c.row_id,
    s.objects.c.id,
    s.objects.c.type,
    s.objects.c.modified_us,
    s.objects.c.tlp,
    s.objects.c.created_by_ref,
    s.objects.c.body,
)


class BadCursor(ValueError):
    """A ``next`` token this server did not issue."""


@dataclass(frozen=True, slots=True)
class Position:
    """The first item not yet emitted: a row and the index of its next part."""

    added_us: int
    row_id: int
    part: int = 0

    def encode(self) -> str:
        raw = f"1.{self.added_us}.{self.row_id}.{self.part}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Position:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            version, added, row, part = raw.split(".")
            if version != "1":
                raise ValueError(version)
            return cls(int(added), int(row), int(part))
        except (ValueError, binascii.Error, UnicodeDecodeError):
            raise BadCursor(f"not a valid 'next' token: {token!r}") from None


@dataclass(frozen=True)
class Filters:
    """TAXII filters, already parsed (``versions`` holds 'last', 'first', 'all' or µs)."""

    added_after_us: int | None = None
    ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    versions: tuple[str | int, ...] = ("last",)
    spec_versions: tuple[str, ...] = ()


@dataclass
class Item:
    """One object version as it leaves the node."""

    id: str
    type: str
    added_us: int
    tlp: TLP
    body: str
    action: str  # as-is | signed | redacted | derived-from
    source_id: str
    row_id: int
    obj: dict[str, Any] | None = None

    def parsed(self) -> dict[str, Any]:
        if self.obj is None:
            self.obj = orjson.loads(self.body)
        return self.obj

    @property
    def version(self) -> str:
        obj = self.parsed()
        return str(obj.get("modified") or obj.get("created") or format_micros(self.added_us))

    @property
    def date_added(self) -> str:
        return format_micros(self.added_us)


@dataclass
class Page:
    items: list[Item] = field(default_factory=list)
    more: bool = False
    next: str | None = None

    @property
    def first_added(self) -> str | None:
        return self.items[0].date_added if self.items else None

    @property
    def last_added(self) -> str | None:
        return self.items[-1].date_added if self.items else None


@dataclass(frozen=True)
class Audience:
    """Who reads: a TLP ceiling and a redaction profile."""

    name: str
    ceiling: Ceiling
    profile: Profile


class _StoreLookup:
    """The redaction profile's view of the surrounding objects, cached for one request."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._objects: dict[str, dict[str, Any] | None] = {}
        self._victims: dict[str, bool] = {}
        self._recipients: dict[str, bool] = {}

    def objects(self, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        wanted = [i for i in dict.fromkeys(ids) if i not in self._objects]
        if wanted:
            for i in wanted:
                self._objects[i] = None
            for row_id, row in self.store.get_many(wanted).items():
                self._objects[row_id] = row.obj
        return {i: o for i in ids if (o := self._objects.get(i)) is not None}

    def victims(self, identity_ids: Iterable[str]) -> set[str]:
        wanted = [i for i in dict.fromkeys(identity_ids) if i not in self._victims]
        if wanted:
            query = (
                select(s.refs.c.dst_id, s.refs.c.prop, s.objects.c.body)
                .join(s.objects, s.objects.c.row_id == s.refs.c.row_id)
                .where(
                    s.refs.c.dst_id.in_(wanted),
                    s.refs.c.prop.in_(("where_sighted_refs", "target_ref")),
                )
            )
            for i in wanted:
                self._victims[i] = False
            with self.store.engine.connect() as conn:
                for dst, prop, body in conn.execute(query):
                    if (
                        prop == "where_sighted_refs"
                        or orjson.loads(body).get("relationship_type") == "targets"
                    ):
                        self._victims[dst] = True
        return {i for i in identity_ids if self._victims.get(i)}

    def recipients(self, address_ids: Iterable[str]) -> set[str]:
        wanted = [i for i in dict.fromkeys(address_ids) if i not in self._recipients]
        if wanted:
            query = select(s.refs.c.dst_id).where(
                s.refs.c.dst_id.in_(wanted), s.refs.c.prop.in_(("to_refs", "cc_refs", "bcc_refs"))
            )
            for i in wanted:
                self._recipients[i] = False
            with self.store.engine.connect() as conn:
                for (dst,) in conn.execute(query):
                    self._recipients[dst] = True
        return {i for i in address_ids if self._recipients.get(i)}


class View:
    """One collection as one audience may see it."""

    def __init__(
        self,
        store: Store,
        signer: Signer,
        collection: Collection,
        audience: Audience,
    ) -> None:
        self.store = store
        self.signer = signer
        self.collection = collection
        self.audience = audience
        self.node_identity = signer.identity_id
        self._lookup = _StoreLookup(store)
        self._lineage: list[dict[str, Any]] = []
        self.withheld: Counter[str] = Counter()

    # -- SQL ----------------------------------------------------------------------------

    def _added_col(self) -> Any:
        return t.inbox_objects.c.added_us if self.collection.is_inbox else s.objects.c.date_added_us

    def _base(self, filters: Filters) -> Select[Any]:
        added = self._added_col()
        query = select(*_COLS, added.label("added"))
        if self.collection.is_inbox:
            query = query.select_from(
                s.objects.join(
                    t.inbox_objects,
                    and_(
                        t.inbox_objects.c.row_id == s.objects.c.row_id,
                        t.inbox_objects.c.collection_id == self.collection.collection_id,
                    ),
                )
            )
        conditions = [
            *self.collection.selection.clauses(self.node_identity),
            sql_clause(self.audience.ceiling, self.store.node_default_tlp),
        ]
        if filters.added_after_us is not None:
            conditions.append(added > filters.added_after_us)
        ids = self._source_ids(filters.ids)
        if ids:
            conditions.append(s.objects.c.id.in_(ids))
        if filters.types:
            types = set(filters.types)
            if self.audience.profile.active:
                types.add("relationship")  # derived-from relationships of redacted objects
            conditions.append(unindexed(s.objects.c.type).in_(sorted(types)))
        if filters.spec_versions:
            spec = s.objects.c.spec_version
            clause = spec.in_(filters.spec_versions)
            if "2.1" in filters.spec_versions:
                clause = or_(clause, spec.is_(None))
            conditions.append(clause)
        version_clause = self._version_clause(filters.versions)
        if version_clause is not None:
            conditions.append(version_clause)
        return query.where(*conditions)

    def _source_ids(self, ids: tuple[str, ...]) -> list[str]:
        if not ids:
            return []
        found = list(ids)
        if self.audience.profile.active:
            with self.store.engine.connect() as conn:
                found += [
                    src
                    for (src,) in conn.execute(
                        select(t.redactions.c.source_id).where(t.redactions.c.derived_id.in_(ids))
                    )
                ]
        return list(dict.fromkeys(found))

    def _version_clause(self, versions: tuple[str | int, ...]) -> Any:
        if "all" in versions:
            return None
        other = aliased(s.objects)
        clauses = []
        for v in versions:
            if v == "last":
                if self.collection.is_inbox:
                    clauses.append(s.objects.c.modified_us == self._inbox_extreme(other, func.max))
                else:
                    clauses.append(s.objects.c.is_current.is_(True))
            elif v == "first":
                if self.collection.is_inbox:
                    clauses.append(s.objects.c.modified_us == self._inbox_extreme(other, func.min))
                else:
                    first = (
                        select(func.min(other.c.modified_us))
                        .where(other.c.id == s.objects.c.id)
                        .scalar_subquery()
                    )
                    clauses.append(s.objects.c.modified_us == first)
            elif isinstance(v, int):
                clauses.append(s.objects.c.modified_us == v)
        return or_all(clauses) if clauses else None

    def _inbox_extreme(self, other: Any, agg: Any) -> Any:
        member = aliased(t.inbox_objects)
        return (
            select(agg(other.c.modified_us))
            .select_from(other.join(member, member.c.row_id == other.c.row_id))
            .where(
                other.c.id == s.objects.c.id,
                member.c.collection_id == self.collection.collection_id,
            )
            .scalar_subquery()
        )

    def _rows(self, filters: Filters, start: int | None, first_batch: int) -> Iterator[Any]:
        added = self._added_col()
        base = self._base(filters)
        batch = max(first_batch, 1)
        cursor_clause = (added >= start) if start is not None else None
        while True:
            query = base if cursor_clause is None else base.where(cursor_clause)
            query = query.order_by(added, s.objects.c.row_id).limit(batch)
            with self.store.engine.connect() as conn:
                rows = conn.execute(query).all()
            yield from rows
            if len(rows) < batch:
                return
            cursor_clause = added > rows[-1].added
            batch = min(batch * 4, 5000)

    # -- rows to items ------------------------------------------------------------------

    def _expand(self, row: Any) -> list[Item]:
        tlp = TLP(row.tlp)
        if not self.audience.ceiling.allows(tlp):  # belt and braces over the SQL clause
            return []
        own = row.created_by_ref == self.node_identity
        profile = self.audience.profile
        if profile.active:
            obj = orjson.loads(row.body)
            outcome = profile.judge(obj, self._lookup)
            if outcome.action == "withhold":
                self.withheld[outcome.reason] += 1
                return []
            if outcome.action == "derive":
                assert outcome.derived is not None and outcome.relationship is not None
                derived = self.signer.sign_own(outcome.derived)
                relation = self.signer.sign_own(outcome.relationship)
                self._lineage += [
                    {
                        "derived_id": derived["id"],
                        "source_id": row.id,
                        "profile": profile.name,
                        "role": "object",
                    },
                    {
                        "derived_id": relation["id"],
                        "source_id": row.id,
                        "profile": profile.name,
                        "role": "relationship",
                    },
                ]
                return [
                    self._item(row, derived, "redacted", tlp),
                    self._item(row, relation, "derived-from", tlp),
                ]
            if own:
                return [self._item(row, self.signer.sign_own(obj), "signed", tlp)]
            return [
                Item(row.id, row.type, row.added, tlp, row.body, "as-is", row.id, row.row_id, obj)
            ]
        if own:
            signed = self.signer.sign_own(orjson.loads(row.body))
            return [self._item(row, signed, "signed", tlp)]
        return [Item(row.id, row.type, row.added, tlp, row.body, "as-is", row.id, row.row_id)]

    @staticmethod
    def _item(row: Any, obj: dict[str, Any], action: str, tlp: TLP) -> Item:
        return Item(
            obj["id"],
            obj["type"],
            row.added,
            tlp,
            orjson.dumps(obj).decode(),
            action,
            row.id,
            row.row_id,
            obj,
        )

    def _keep(self, item: Item, filters: Filters) -> bool:
        if filters.ids and item.id not in filters.ids:
            return False
        return not (filters.types and item.type not in filters.types)

    def _flush_lineage(self) -> None:
        if self._lineage:
            rows, self._lineage = self._lineage, []
            with self.store.transaction() as conn:
                insert_ignore(conn, t.redactions, rows)

    # -- public -------------------------------------------------------------------------

    def page(self, filters: Filters, position: Position | None, limit: int) -> Page:
        """Up to ``limit`` items from ``position`` on, and where the next page starts."""
        result = Page()
        start = position.added_us if position else None
        try:
            for row in self._rows(filters, start, limit + 1):
                key = (row.added, row.row_id)
                skip_parts = 0
                if position is not None:
                    if key < (position.added_us, position.row_id):
                        continue
                    if key == (position.added_us, position.row_id):
                        skip_parts = position.part
                parts = [p for p in self._expand(row) if self._keep(p, filters)]
                for index in range(skip_parts, len(parts)):
                    if len(result.items) == limit:
                        result.more = True
                        result.next = Position(row.added, row.row_id, index).encode()
                        return result
                    result.items.append(parts[index])
            return result
        finally:
            self._flush_lineage()

    def count(self, filters: Filters) -> int:
        """Rows matching (before redaction): a progress estimate, not a promise."""
        query = select(func.count()).select_from(self._base(filters).subquery())
        with self.store.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def iter_items(self, filters: Filters | None = None) -> Iterator[Item]:
        """Every item, in date_added order (for export, push and preview)."""
        filters = filters or Filters()
        for count, row in enumerate(self._rows(filters, None, 1000), 1):
            for item in self._expand(row):
                if self._keep(item, filters):
                    yield item
            if count % 1000 == 0:
                self._flush_lineage()
        self._flush_lineage()
