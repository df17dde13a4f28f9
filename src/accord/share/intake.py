"""Everything that arrives from a peer goes through here, whether pulled or pushed.

Each object is validated like any import, its signature checked against the key ring, and
its versioning checked against what the store holds. What fails goes to the quarantine
table with the reason; what passes is written through the store's writer as
``source_kind="peer"``, so provenance records which peer delivered which version and when.
Markings and every other property are kept exactly as received.

A store write is atomic, and one bad object must not lose a whole page: the checks run
before the write, and should the store still refuse an object (another writer got there
first), that object is quarantined and the page is written again without it.

Two rules keep a peer from using intake against this node:

* a refusal that depends on what the store holds (a version conflict, another creator, a
  revocation, a store refusal) is told to the peer only as "conflicts with a stored
  object": the detailed reason would describe objects the peer may not see (their
  creator, their ``created``); the node's own quarantine record keeps the details;
* nothing from a peer may claim this node as its creator, unless it is a copy of a version
  this node already holds: otherwise a peer could put words in this node's mouth, have
  them served back signed by it, or version and revoke this node's own objects.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson
from sqlalchemy import Connection, func, insert, select

from accord.model.errors import InputError
from accord.model.stix import check_object, is_versioned
from accord.model.timestamps import stix_micros
from accord.model.tlp import TLP, level_of_markings, marking_refs
from accord.share import tables as t
from accord.share.peers import Peer
from accord.share.signing import PUBLIC_KEY, KeyRing, creator_of, same_content
from accord.share.sqlutil import insert_ignore, now_us
from accord.store import schema as s
from accord.store.store import Store, content_hash

_PLACE_INDEX = re.compile(r"^object (\d+)\b")
# What a peer is told when a refusal depends on what this node stores.
CONFLICT = "conflicts with a stored object"
STORE_REFUSED = "refused by the store: conflicts with a stored object or cannot be stored"
OWN_CLAIM = "names this node as its creator; only this node writes its own objects"


class _Recorder(Protocol):
    """Quarantines or flags one object: ``reason`` for this node, ``told`` for the peer."""

    def __call__(
        self, index: int, obj: Any, action: str, reason: str, told: str | None = None
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class _Refusal:
    reason: str  # for this node's quarantine record
    told: str  # for the peer (the status resource, the push report)


@dataclass
class IntakeResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    flagged: int = 0
    successes: list[dict[str, str]] = field(default_factory=list)
    failures: list[dict[str, str]] = field(default_factory=list)

    def add(self, other: IntakeResult) -> None:
        self.received += other.received
        self.stored += other.stored
        self.duplicates += other.duplicates
        self.quarantined += other.quarantined
        self.flagged += other.flagged

    def counts(self) -> dict[str, int]:
        return {
            "received": self.received,
            "stored": self.stored,
            "duplicates": self.duplicates,
            "quarantined": self.quarantined,
            "flagged": self.flagged,
        }


@dataclass
class _Known:
    modified_us: int
    digest: str
    creator: str | None
    revoked: bool
    body: str | None = None


def _is_public_identity(obj: Any) -> bool:
    return (
        isinstance(obj, Mapping)
        and obj.get("type") == "identity"
        and PUBLIC_KEY in obj
        and level_of_markings(marking_refs(obj)) is None
    )


def _version_of(obj: Mapping[str, Any]) -> str:
    return str(obj.get("modified") or obj.get("created") or "")


def own_identity(conn: Connection) -> str | None:
    """This node's identity id as the store knows it: the identity that ``accord init``
    (or a key rotation) wrote from the node itself, naming itself as its creator."""
    o = s.objects
    return conn.execute(
        select(o.c.id)
        .where(o.c.type == "identity", o.c.source_kind == "node", o.c.created_by_ref == o.c.id)
        .limit(1)
    ).scalar()


class Intake:
    """Checks and stores objects delivered by one peer (or one posting login)."""

    def __init__(
        self,
        store: Store,
        source_name: str,
        *,
        peer: Peer | None = None,
        collection_id: str | None = None,
        node_identity: str | None = None,
    ) -> None:
        """``node_identity``: this node's identity id (looked up in the store if omitted)."""
        self.store = store
        self.source_name = source_name
        self.peer = peer
        self.collection_id = collection_id
        if node_identity is None:
            with store.engine.connect() as conn:
                node_identity = own_identity(conn)
        self.node_identity = node_identity

    def ingest(
        self,
        objects: Sequence[Any],
        *,
        inbox: str | None = None,
        on_commit: Callable[[Connection, IntakeResult], None] | None = None,
    ) -> IntakeResult:
        """Check, quarantine and store one batch atomically (with ``on_commit`` inside).

        Identities that publish a node key and carry no TLP marking are public by design
        (the node that made them stores them at CLEAR); they are stored first, at CLEAR, so
        that a relay can pass them on and receivers further away learn the key.
        """
        public = [o for o in objects if _is_public_identity(o)]
        rest = [o for o in objects if not _is_public_identity(o)] if public else list(objects)
        carry = IntakeResult()
        if public:
            carry = self._retrying(public, None, None, TLP.CLEAR, IntakeResult())
        return self._retrying(rest, inbox, on_commit, None, carry)

    def _retrying(
        self,
        objects: Sequence[Any],
        inbox: str | None,
        on_commit: Callable[[Connection, IntakeResult], None] | None,
        import_tlp: TLP | None,
        carry: IntakeResult,
    ) -> IntakeResult:
        refused: dict[int, _Refusal] = {}
        while True:
            try:
                return self._attempt(objects, refused, inbox, on_commit, import_tlp, carry)
            except InputError as exc:
                match = _PLACE_INDEX.match(exc.place)
                if match is None or int(match.group(1)) in refused:
                    raise
                # The store's reason names what it holds (creator, 'created'): keep it home.
                refused[int(match.group(1))] = _Refusal(
                    f"refused by the store: {exc.reason}", STORE_REFUSED
                )

    def _attempt(
        self,
        objects: Sequence[Any],
        refused: Mapping[int, _Refusal],
        inbox: str | None,
        on_commit: Callable[[Connection, IntakeResult], None] | None,
        import_tlp: TLP | None,
        carry: IntakeResult,
    ) -> IntakeResult:
        result = IntakeResult(received=len(objects))
        quarantine: list[dict[str, Any]] = []
        received_us = now_us()

        def record(index: int, obj: Any, action: str, reason: str, told: str | None = None) -> None:
            """Quarantine or flag one object: ``reason`` for this node, ``told`` (if it
            differs) for the peer."""
            ident = obj.get("id") if isinstance(obj, Mapping) else None
            version = _version_of(obj) if isinstance(obj, Mapping) else ""
            quarantine.append(
                {
                    "received_us": received_us,
                    "source": self.source_name,
                    "collection_id": self.collection_id,
                    "object_id": str(ident)[:300] if ident else None,
                    "version": version[:40],
                    "action": action,
                    "reason": reason,
                    "body": orjson.dumps(obj).decode() if action == "quarantined" else None,
                }
            )
            if action == "quarantined":
                result.quarantined += 1
                result.failures.append(
                    {
                        "id": str(ident or f"object {index}"),
                        "version": version,
                        "message": told or reason,
                    }
                )
            else:
                result.flagged += 1

        with self.store.writer("peer", self.source_name, import_tlp) as writer:
            conn = writer.conn
            ring = KeyRing.load(conn)
            valid: list[tuple[int, dict[str, Any]]] = []
            for index, obj in enumerate(objects):
                if index in refused:
                    record(index, obj, "quarantined", refused[index].reason, refused[index].told)
                    continue
                try:
                    check_object(obj)
                except ValueError as exc:
                    record(index, obj, "quarantined", f"invalid STIX: {exc}")
                    continue
                valid.append((index, obj))
            # Keys first: an identity and objects it signed may arrive in the same page.
            source = f"tofu via {self.source_name}"
            for index, obj in valid:
                if obj["type"] == "identity" and PUBLIC_KEY in obj:
                    if self._claims_this_node(obj):
                        continue  # this node's keys come from its home, never from a peer
                    why = ring.learn_identity(conn, obj, source)
                    if why:
                        reason = f"untrusted identity key: {why}"
                        refused = {**refused, index: _Refusal(reason, reason)}
            checked: list[tuple[int, dict[str, Any]]] = []
            for index, obj in valid:
                if index in refused:
                    record(index, obj, "quarantined", refused[index].reason, refused[index].told)
                    continue
                verdict = ring.verify(obj)
                if verdict.status == "invalid":
                    record(index, obj, "quarantined", f"bad signature: {verdict.reason}")
                    continue
                if verdict.status == "unknown-key":
                    record(
                        index,
                        obj,
                        "flagged",
                        f"signed with a key not trusted here ({verdict.key_id})",
                    )
                elif (
                    verdict.status == "unsigned"
                    and self.peer is not None
                    and self.peer.identity_id
                    and obj.get("created_by_ref") == self.peer.identity_id
                ):
                    record(
                        index, obj, "flagged", "unsigned, though this peer signs what it creates"
                    )
                checked.append((index, obj))
            accepted, sig_duplicates = self._check_versions(conn, checked, record)
            for index, obj in accepted:
                writer.put(obj, f"object {index}")
            writer.flush()
            result.stored = writer.result.stored
            result.duplicates = writer.result.duplicates + len(sig_duplicates)
            delivered = [obj for _, obj in accepted] + sig_duplicates
            result.successes = [{"id": o["id"], "version": _version_of(o)} for o in delivered]
            if quarantine:
                conn.execute(insert(t.quarantine), quarantine)
            result.add(carry)
            result.successes = carry.successes + result.successes
            result.failures = carry.failures + result.failures
            if inbox is not None and delivered:
                self._add_to_inbox(conn, inbox, delivered)
            if on_commit is not None:
                on_commit(conn, result)
        return result

    def _claims_this_node(self, obj: Mapping[str, Any]) -> bool:
        """Whether ``obj`` speaks for this node: names it as creator, or *is* its identity
        (whatever creator that copy names: a peer must not hand this node a new key)."""
        if self.node_identity is None:
            return False
        return creator_of(obj) == self.node_identity or obj.get("id") == self.node_identity

    def _check_versions(
        self,
        conn: Connection,
        checked: list[tuple[int, dict[str, Any]]],
        record: _Recorder,
    ) -> tuple[list[tuple[int, dict[str, Any]]], list[dict[str, Any]]]:
        """Apply the store's versioning rules ahead of the write, object by object.

        What a peer claims this node created passes only as a copy of a version held here
        (an echo of what this node shared): a new version, or a new object, is quarantined.
        """
        ids = list(dict.fromkeys(obj["id"] for _, obj in checked))
        known: dict[str, list[_Known]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = select(
                s.objects.c.id,
                s.objects.c.modified_us,
                s.objects.c.content_hash,
                s.objects.c.created_by_ref,
                s.objects.c.revoked,
                s.objects.c.row_id,
            ).where(s.objects.c.id.in_(chunk))
            for r in conn.execute(query):
                known.setdefault(r.id, []).append(
                    _Known(r.modified_us, r.content_hash, r.created_by_ref, bool(r.revoked))
                )
        accepted: list[tuple[int, dict[str, Any]]] = []
        sig_duplicates: list[dict[str, Any]] = []
        for index, obj in checked:
            obj_id = obj["id"]
            modified_us = stix_micros(obj["modified"]) if is_versioned(obj) else 0
            versions = known.setdefault(obj_id, [])
            digest = content_hash(obj)
            same = next((v for v in versions if v.modified_us == modified_us), None)
            if same is not None:
                if same.digest == digest:
                    accepted.append((index, obj))  # an exact duplicate: provenance is recorded
                elif self._same_modulo_signature(conn, obj_id, modified_us, same, obj):
                    sig_duplicates.append(obj)
                else:
                    record(
                        index,
                        obj,
                        "quarantined",
                        f"version conflict: {obj_id} version {_version_of(obj)} is already held "
                        "with different content",
                        CONFLICT,
                    )
                continue
            if self._claims_this_node(obj):
                record(
                    index,
                    obj,
                    "quarantined",
                    f"claims this node ({self.node_identity}) as its creator, and this "
                    "node holds no such version",
                    OWN_CLAIM,
                )
                continue
            creator = obj.get("created_by_ref")
            if versions and versions[0].creator != creator:
                record(
                    index,
                    obj,
                    "quarantined",
                    f"foreign creator: {obj_id} was created by "
                    f"{versions[0].creator or 'an unnamed producer'}, this version names "
                    f"{creator or 'no creator'}",
                    CONFLICT,
                )
                continue
            if not obj.get("revoked") and any(
                v.revoked and v.modified_us < modified_us for v in versions
            ):
                record(
                    index,
                    obj,
                    "quarantined",
                    f"revoked: {obj_id} was revoked permanently",
                    CONFLICT,
                )
                continue
            versions.append(_Known(modified_us, digest, creator, bool(obj.get("revoked"))))
            accepted.append((index, obj))
        return accepted, sig_duplicates

    @staticmethod
    def _same_modulo_signature(
        conn: Connection, obj_id: str, modified_us: int, known: _Known, obj: Mapping[str, Any]
    ) -> bool:
        if known.body is None:
            known.body = conn.execute(
                select(s.objects.c.body).where(
                    s.objects.c.id == obj_id, s.objects.c.modified_us == modified_us
                )
            ).scalar()
        return known.body is not None and same_content(orjson.loads(known.body), obj)

    def _add_to_inbox(self, conn: Connection, inbox: str, objs: list[dict[str, Any]]) -> None:
        pairs = {(o["id"], stix_micros(o["modified"]) if is_versioned(o) else 0) for o in objs}
        ids = sorted({i for i, _ in pairs})
        rows: list[int] = []
        for start in range(0, len(ids), 500):
            query = select(s.objects.c.row_id, s.objects.c.id, s.objects.c.modified_us).where(
                s.objects.c.id.in_(ids[start : start + 500])
            )
            rows += [r.row_id for r in conn.execute(query) if (r.id, r.modified_us) in pairs]
        top = conn.execute(
            select(func.max(t.inbox_objects.c.added_us)).where(
                t.inbox_objects.c.collection_id == inbox
            )
        ).scalar()
        base = max(now_us(), (top or 0) + 1)
        present = {
            r
            for (r,) in conn.execute(
                select(t.inbox_objects.c.row_id).where(
                    t.inbox_objects.c.collection_id == inbox, t.inbox_objects.c.row_id.in_(rows)
                )
            )
        }
        fresh = [r for r in sorted(rows) if r not in present]
        insert_ignore(
            conn,
            t.inbox_objects,
            [
                {"collection_id": inbox, "row_id": r, "added_us": base + n}
                for n, r in enumerate(fresh)
            ],
        )
