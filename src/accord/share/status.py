"""TAXII status resources, kept in the store so that any server process can answer them.

A small envelope is stored while the client waits and its status is ``complete`` at once.
A large one is kept in its status row (``payload``) and stored in the background, chunk by
chunk, with the counts updated as it goes; a lease lets another process finish the job if
the first one dies. Status resources stay readable for a week (the spec asks for 24 hours).
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from sqlalchemy import Connection, delete, insert, select, update

from accord.model.timestamps import format_micros
from accord.share import tables as t
from accord.share.collections import get_collection
from accord.share.intake import Intake, IntakeResult
from accord.share.peers import load_peer
from accord.share.sqlutil import now_us
from accord.store.store import Store

LEASE_US = 10 * 60 * 1_000_000
RETAIN_US = 7 * 24 * 3600 * 1_000_000
CHUNK = 1000


def new_status_id() -> str:
    return str(uuid.uuid4())


def _details(successes: list[Any], failures: list[Any], pendings: list[Any]) -> str:
    return orjson.dumps(
        {"successes": successes, "failures": failures, "pendings": pendings}
    ).decode()


def insert_status(
    conn: Connection,
    status_id: str,
    collection_id: str,
    principal: str,
    total: int,
    *,
    payload: str | None = None,
    pendings: list[dict[str, str]] | None = None,
) -> None:
    stamp = now_us()
    conn.execute(
        insert(t.status).values(
            status_id=status_id,
            collection_id=collection_id,
            principal=principal,
            status="pending" if payload is not None else "complete",
            total_count=total,
            success_count=0,
            failure_count=0,
            pending_count=total if payload is not None else 0,
            details=_details([], [], pendings or []),
            payload=payload,
            lease_until_us=None,
            request_us=stamp,
            updated_us=stamp,
        )
    )


def record_result(
    conn: Connection,
    status_id: str,
    result: IntakeResult,
    *,
    pendings: list[dict[str, str]] | None = None,
    done: bool,
) -> None:
    """Add a chunk's outcome to a status resource (inside the chunk's transaction)."""
    row = conn.execute(select(t.status).where(t.status.c.status_id == status_id)).first()
    if row is None:
        return
    details = orjson.loads(row.details or "{}")
    successes = details.get("successes", []) + result.successes
    failures = details.get("failures", []) + result.failures
    pend = pendings or []
    values: dict[str, Any] = {
        "success_count": len(successes),
        "failure_count": len(failures),
        "pending_count": len(pend),
        "details": _details(successes, failures, pend),
        "updated_us": now_us(),
    }
    if done:
        values.update(status="complete", payload=None, lease_until_us=None, pending_count=0)
        values["details"] = _details(successes, failures, [])
    conn.execute(update(t.status).where(t.status.c.status_id == status_id).values(**values))


def read_status(store: Store, status_id: str, principal: str) -> dict[str, Any] | None:
    with store.engine.connect() as conn:
        row = conn.execute(
            select(t.status).where(
                t.status.c.status_id == status_id, t.status.c.principal == principal
            )
        ).first()
    if row is None:
        return None
    details = orjson.loads(row.details or "{}")
    out: dict[str, Any] = {
        "id": row.status_id,
        "status": row.status,
        "request_timestamp": format_micros(row.request_us),
        "total_count": row.total_count,
        "success_count": row.success_count,
        "failure_count": row.failure_count,
        "pending_count": row.pending_count,
    }
    for key in ("successes", "failures", "pendings"):
        if details.get(key):
            out[key] = details[key]
    return out


def _claim(store: Store, status_id: str) -> Any:
    """Take the lease on a pending status; None when someone else holds it or it is done."""
    stamp = now_us()
    with store.transaction() as conn:
        row = conn.execute(select(t.status).where(t.status.c.status_id == status_id)).first()
        if row is None or row.status != "pending" or row.payload is None:
            return None
        if row.lease_until_us is not None and row.lease_until_us > stamp:
            return None
        conn.execute(
            update(t.status)
            .where(t.status.c.status_id == status_id)
            .values(lease_until_us=stamp + LEASE_US)
        )
        return row


def process_pending(store: Store, status_id: str, *, node_identity: str | None = None) -> None:
    """Store a large envelope in chunks, updating its status resource after each one.

    ``node_identity``: this node's identity id (the intake looks it up when omitted)."""
    row = _claim(store, status_id)
    if row is None:
        return
    objects = orjson.loads(row.payload)["objects"]
    collection = get_collection(store, row.collection_id)
    with store.engine.connect() as conn:
        peer = load_peer(conn, row.principal)
    intake = Intake(
        store,
        row.principal,
        peer=peer,
        collection_id=collection.collection_id,
        node_identity=node_identity,
    )
    for start in range(0, len(objects), CHUNK):
        chunk = objects[start : start + CHUNK]
        rest = objects[start + CHUNK :]
        done = not rest
        pendings = [
            {"id": str(o.get("id")), "version": str(o.get("modified") or o.get("created") or "")}
            for o in rest
            if isinstance(o, dict)
        ]

        def commit(conn: Connection, result: IntakeResult, p=pendings, d=done) -> None:
            record_result(conn, status_id, result, pendings=p, done=d)

        intake.ingest(chunk, inbox=collection.collection_id, on_commit=commit)


def resume_stale(
    store: Store, unclaimed_after_us: int = 60_000_000, *, node_identity: str | None = None
) -> list[str]:
    """Pending jobs whose lease ran out, or that nobody claimed (their process died)."""
    stamp = now_us()
    with store.engine.connect() as conn:
        ids = [
            sid
            for (sid,) in conn.execute(
                select(t.status.c.status_id).where(
                    t.status.c.status == "pending",
                    (t.status.c.lease_until_us < stamp)
                    | (
                        t.status.c.lease_until_us.is_(None)
                        & (t.status.c.request_us < stamp - unclaimed_after_us)
                    ),
                )
            )
        ]
    for sid in ids:
        process_pending(store, sid, node_identity=node_identity)
    return ids


def purge_old(store: Store) -> None:
    with store.transaction() as conn:
        conn.execute(
            delete(t.status).where(
                t.status.c.status == "complete", t.status.c.updated_us < now_us() - RETAIN_US
            )
        )
