"""What one audience sees of one collection: the single emitting path of this node.

Every way data leaves (TAXII objects, manifest, one object, versions, push, export, policy
preview) reads through :class:`View`, which applies, in order:

1. the collection's selection (or inbox membership) and the TAXII filters, in SQL;
2. the audience's TLP ceiling (:mod:`accord.share.policy`), in SQL and again per row, to
   the version served *and* to the object's current version: the creator's latest marking
   classifies the whole object, so once it is re-marked above the ceiling no version of it
   is served, not even the older ones that were marked lower;
3. the audience's redaction profile (:mod:`accord.share.redaction`), which also keeps out
   any reference to a stored object the audience may not see;
4. this node's signature on what it created (:mod:`accord.share.signing`), and on nothing
   else: a row is signed only when this node is its creator *and* it entered the store
   from this node's own side (``user``, ``node``, ``file``), never from a peer.

Paging is a keyset over ``(date_added, row_id)`` plus the index of the next part of a row (a
redacted row emits two objects), carried in a ``next`` token that is sealed (AES-GCM, under
a key derived from the node's signing key and bound to the collection and the audience):
a clear token would tell a peer how many rows, hidden ones included, lie between two of
its pages, and would let it choose where to start. The query seeks the ``date_added``
index directly, so the thousandth page costs what the first does.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Select, and_, case, exists, func, or_, select
from sqlalchemy.orm import aliased

from accord.model.timestamps import format_micros
from accord.model.tlp import TLP
from accord.share import tables as t
from accord.share.collections import Collection
from accord.share.policy import Ceiling, or_all, sql_clause
from accord.share.redaction import PASS, Outcome, Profile, referenced_ids
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
    s.objects.c.is_current,
    s.objects.c.source_kind,
    s.objects.c.body,
)
# Where rows that this node itself wrote come from; ``peer`` and ``kb`` rows are someone
# else's words, whatever their ``created_by_ref`` claims, and are never signed here.
OWN_SOURCES = frozenset({"user", "node", "file"})
# ``count`` judges every row it counts (it must be exact); past this many items it stops
# and says nothing rather than make the first page of a large collection slow.
COUNT_LIMIT = 20_000


class BadCursor(ValueError):
    """A ``next`` token this server did not issue."""


# The current version of an object, beside the version a query reads (built once: an
# alias proxies every column, which costs more than the rest of a page's query).
_CURRENT_VERSION = s.objects.alias("current_version")

_NOT_REFERENCES = ('"created_by_ref":', '"object_marking_refs":')
_LEVELS = tuple(TLP)  # a stored level to its TLP, without an enum call per row


def _may_refer(body: str) -> bool:
    """Could this stored object reference something, besides its creator and markings?
    Judged on its JSON text: every ``*_ref``/``*_refs`` key holds ``_ref`` once, so no more
    of those than creator and marking keys means no reference. An ``_ref`` inside a value,
    or a nested key, only costs a parse."""
    found = body.count("_ref")  # every *_ref and *_refs key holds it once
    if not found:
        return False
    return found > body.count(_NOT_REFERENCES[0]) + body.count(_NOT_REFERENCES[1])


@dataclass(frozen=True, slots=True)
class Position:
    """The first item not yet emitted: a row and the index of its next part."""

    added_us: int
    row_id: int
    part: int = 0


class CursorSeal:
    """Seals positions into opaque, authenticated ``next`` tokens (AES-256-GCM).

    The key is derived (HKDF-SHA256) from the node's Ed25519 signing key, so any process
    serving the node's database opens the tokens of any other, and nothing new has to be
    stored. Tokens sealed under a rotated-out key still open. The plaintext has a fixed
    length (the token's length says nothing about the row id), and the associated data
    binds a token to one collection and one audience.
    """

    _INFO = b"accord taxii next-token v1"
    _LAYOUT = struct.Struct(">qqI")
    _NONCE = 12
    _TAG = 16

    def __init__(self, secrets: Iterable[bytes]) -> None:
        self._aeads = [
            AESGCM(
                HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=self._INFO).derive(
                    secret
                )
            )
            for secret in secrets
        ]
        if not self._aeads:
            raise ValueError("a cursor seal needs at least one key")

    @classmethod
    def for_signer(cls, signer: Signer) -> CursorSeal:
        """Seal under the current key; open under it or any archived one."""
        keys: list[Ed25519PrivateKey] = [signer.current]
        keys += [k for kid, k in signer.keys.items() if kid != signer.current_kid]
        return cls(_raw_private(k) for k in keys)

    def seal(self, position: Position, context: str) -> str:
        nonce = os.urandom(self._NONCE)
        plain = self._LAYOUT.pack(position.added_us, position.row_id, position.part)
        sealed = self._aeads[0].encrypt(nonce, plain, context.encode())
        return base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")

    def open(self, token: str, context: str) -> Position:
        """The position in ``token``; :class:`BadCursor` unless this node sealed it for
        ``context`` (a forged, altered or foreign token opens to nothing)."""
        bad = BadCursor(f"not a valid 'next' token: {token[:100]!r}")
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (ValueError, binascii.Error):
            raise bad from None
        if len(raw) != self._NONCE + self._LAYOUT.size + self._TAG:
            raise bad
        nonce, sealed = raw[: self._NONCE], raw[self._NONCE :]
        for aead in self._aeads:
            try:
                plain = aead.decrypt(nonce, sealed, context.encode())
            except InvalidTag:
                continue
            added, row, part = self._LAYOUT.unpack(plain)
            return Position(added, row, part)
        raise bad


def cursor_context(collection_id: str, audience: str) -> str:
    """What a ``next`` token is bound to: one collection read by one audience."""
    return f"{collection_id}|{audience}"


def seal_for(signer: Signer, collection_id: str, audience: str, position: Position) -> str:
    """The token a view of ``collection_id`` for ``audience`` would issue for ``position``
    (for tools that start a client mid-collection, such as the paging benchmark)."""
    return CursorSeal.for_signer(signer).seal(position, cursor_context(collection_id, audience))


def _raw_private(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )


_FINGERPRINT_INFO = b"accord derived-copy fingerprint v1"


def _derive_key(signer: Signer, info: bytes) -> bytes:
    """A 256-bit secret for ``info`` from the node's current signing key (HKDF-SHA256)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(
        _raw_private(signer.current)
    )


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

    def __init__(
        self, store: Store, ceiling: Ceiling, node_identity: str, fingerprint_key: bytes
    ) -> None:
        self.store = store
        self.ceiling = ceiling
        self.node_identity = node_identity
        self._fingerprint_key = fingerprint_key
        self._objects: dict[str, dict[str, Any] | None] = {}
        self._victims: dict[str, bool] = {}
        self._recipients: dict[str, bool] = {}
        self._hidden: dict[str, bool] = {}

    def hidden(self, ids: Iterable[str]) -> set[str]:
        """Stored ids whose current version this audience may not see (SQL and per row)."""
        ids = list(ids)
        wanted = [i for i in dict.fromkeys(ids) if i not in self._hidden]
        if wanted:
            cur = _CURRENT_VERSION
            visible = sql_clause(self.ceiling, self.node_identity, cur)
            with self.store.engine.connect() as conn:
                for start in range(0, len(wanted), 500):
                    chunk = wanted[start : start + 500]
                    for i in chunk:
                        self._hidden[i] = False  # not stored: nothing to hide
                    query = select(
                        cur.c.id,
                        cur.c.tlp,
                        cur.c.created_by_ref,
                        case((visible, 1), else_=0).label("visible"),
                    ).where(cur.c.id.in_(chunk), cur.c.is_current.is_(True))
                    for r in conn.execute(query):
                        allowed = bool(r.visible) and self.ceiling.allows_row(
                            TLP(r.tlp), r.created_by_ref, self.node_identity
                        )
                        self._hidden[r.id] = not allowed
        return {i for i in ids if self._hidden.get(i)}

    def fingerprint(self, ids: Sequence[str]) -> str:
        """HMAC-SHA256 of the ids under a key derived from the node key (hex, 128 bits)."""
        message = "\n".join(ids).encode()
        return hmac.new(self._fingerprint_key, message, hashlib.sha256).hexdigest()[:32]

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
        self._lookup = _StoreLookup(
            store, audience.ceiling, signer.identity_id, _derive_key(signer, _FINGERPRINT_INFO)
        )
        self._lineage: list[dict[str, Any]] = []
        self._seal: CursorSeal | None = None
        self.withheld: Counter[str] = Counter()

    # -- next tokens --------------------------------------------------------------------

    def _cursor_seal(self) -> CursorSeal:
        if self._seal is None:
            self._seal = CursorSeal.for_signer(self.signer)
        return self._seal

    def seal(self, position: Position) -> str:
        """The ``next`` token for ``position`` in this collection, for this audience."""
        context = cursor_context(self.collection.collection_id, self.audience.name)
        return self._cursor_seal().seal(position, context)

    def open_cursor(self, token: str) -> Position:
        """The position a ``next`` token holds; :class:`BadCursor` if this view did not
        issue it (forged, altered, or sealed for another collection or audience)."""
        context = cursor_context(self.collection.collection_id, self.audience.name)
        return self._cursor_seal().open(token, context)

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
        ceiling = self.audience.ceiling
        conditions = [
            *self.collection.selection.clauses(self.node_identity),
            sql_clause(ceiling, self.node_identity),
        ]
        if filters.versions != ("last",) or self.collection.is_inbox:
            # An older version goes out only while the object's current version may, too
            # (a read of current versions alone, the usual one, needs no such test).
            current = _CURRENT_VERSION
            conditions.append(
                or_(
                    s.objects.c.is_current.is_(True),
                    exists(
                        select(current.c.row_id).where(
                            current.c.id == s.objects.c.id,
                            current.c.is_current.is_(True),
                            sql_clause(ceiling, self.node_identity, current),
                        )
                    ),
                )
            )
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
        # Derived copies exist under every profile (``none`` removes hidden references).
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

    def _rows(
        self, filters: Filters, start: int | None, first_batch: int
    ) -> Iterator[tuple[Any, dict[str, Any]]]:
        """Candidate rows with their parsed bodies, the lookups for a batch made at once."""
        added = self._added_col()
        base = self._base(filters)
        batch = max(first_batch, 1)
        cursor_clause = (added >= start) if start is not None else None
        while True:
            query = base if cursor_clause is None else base.where(cursor_clause)
            query = query.order_by(added, s.objects.c.row_id).limit(batch)
            with self.store.engine.connect() as conn:
                rows = conn.execute(query).all()
            parsed = [orjson.loads(r.body) if self._needs_parsing(r) else None for r in rows]
            self._prime(rows, parsed)
            yield from zip(rows, parsed, strict=True)
            if len(rows) < batch:
                return
            cursor_clause = added > rows[-1].added
            batch = min(batch * 4, 5000)

    def _needs_parsing(self, row: Any) -> bool:
        """Whether a row's object must be read to decide on it: under a redaction profile,
        when it may reference something (the reference rule), or when this node signs it.
        Most rows a peer reads (indicators, observables) reference nothing: they go out as
        stored, unparsed."""
        return self.audience.profile.active or _may_refer(row.body) or self._signs(row)

    def _prime(self, rows: Sequence[Any], parsed: Sequence[dict[str, Any] | None]) -> None:
        """One query per batch for what :meth:`_decide` will ask of each row."""
        refs = [ref for obj in parsed if obj is not None for ref in referenced_ids(obj)]
        self._lookup.hidden([*refs, *(r.id for r in rows if not r.is_current)])
        if self.audience.profile.active and refs:
            self._lookup.objects(refs)

    # -- rows to items ------------------------------------------------------------------

    def _decide(self, row: Any, obj: dict[str, Any] | None) -> Outcome | None:
        """None when the ceiling refuses the row, else what the profile makes of it (an
        object left unparsed by :meth:`_needs_parsing` has nothing to judge: it passes)."""
        ceiling = self.audience.ceiling
        # Belt and braces over the SQL clauses: the version itself, then the object's
        # current version, whose marking classifies every version of the object.
        if not ceiling.allows_row(_LEVELS[row.tlp], row.created_by_ref, self.node_identity):
            return None
        if not row.is_current and row.id in self._lookup.hidden([row.id]):
            return None
        if obj is None:
            return PASS
        return self.audience.profile.judge(obj, self._lookup)

    def _signs(self, row: Any) -> bool:
        """Sign only what this node created and wrote itself: a peer may *claim* this node
        as the creator of what it sends, and signing that would vouch for the peer's words."""
        return row.created_by_ref == self.node_identity and row.source_kind in OWN_SOURCES

    def _expand(self, row: Any, obj: dict[str, Any] | None) -> list[Item]:
        outcome = self._decide(row, obj)
        if outcome is None:
            return []
        tlp = _LEVELS[row.tlp]
        profile = self.audience.profile
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
        if self._signs(row):
            assert obj is not None  # parsed: see _needs_parsing
            return [self._item(row, self.signer.sign_own(obj), "signed", tlp)]
        return [Item(row.id, row.type, row.added, tlp, row.body, "as-is", row.id, row.row_id, obj)]

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

    @staticmethod
    def _keep(item_id: str, item_type: str, filters: Filters) -> bool:
        if filters.ids and item_id not in filters.ids:
            return False
        return not (filters.types and item_type not in filters.types)

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
            for row, obj in self._rows(filters, start, limit + 1):
                key = (row.added, row.row_id)
                skip_parts = 0
                if position is not None:
                    if key < (position.added_us, position.row_id):
                        continue
                    if key == (position.added_us, position.row_id):
                        skip_parts = position.part
                parts = [p for p in self._expand(row, obj) if self._keep(p.id, p.type, filters)]
                for index in range(skip_parts, len(parts)):
                    if len(result.items) == limit:
                        result.more = True
                        result.next = self.seal(Position(row.added, row.row_id, index))
                        return result
                    result.items.append(parts[index])
            return result
        finally:
            self._flush_lineage()

    def count(self, filters: Filters) -> int | None:
        """Exactly how many items a read from the start returns, or None past
        :data:`COUNT_LIMIT` items.

        A count of candidate rows would include what redaction and the reference rule
        withhold, and so tell a peer how much it is not shown; this judges each row as a
        read would (without signing). The answer is None only when the *emitted* items
        exceed the limit, so whether a total is given depends on nothing the peer cannot see.
        """
        emitted = 0
        for row, obj in self._rows(filters, None, 1000):
            outcome = self._decide(row, obj)
            if outcome is None or outcome.action == "withhold":
                continue
            if outcome.action == "derive":
                assert outcome.derived is not None and outcome.relationship is not None
                parts = [
                    (str(outcome.derived["id"]), str(outcome.derived["type"])),
                    (str(outcome.relationship["id"]), "relationship"),
                ]
            else:
                parts = [(row.id, row.type)]
            emitted += sum(1 for i, kind in parts if self._keep(i, kind, filters))
            if emitted > COUNT_LIMIT:
                return None
        return emitted

    def iter_items(self, filters: Filters | None = None) -> Iterator[Item]:
        """Every item, in date_added order (for export, push and preview)."""
        filters = filters or Filters()
        for count, (row, obj) in enumerate(self._rows(filters, None, 1000), 1):
            for item in self._expand(row, obj):
                if self._keep(item.id, item.type, filters):
                    yield item
            if count % 1000 == 0:
                self._flush_lineage()
        self._flush_lineage()
