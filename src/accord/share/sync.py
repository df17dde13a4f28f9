"""Pulling from peers: any TAXII 2.1 server (accord, medallion, others).

Per peer and remote collection, a cursor holds the ``added_after`` to ask from next. It is
written **in the same transaction** as the page it follows, so a sync killed at any moment
(even ``kill -9``) resumes with nothing lost and nothing stored twice. Within a run the
client follows ``next``; a server that sends ``more`` without ``next`` is followed with
``added_after`` set to its ``X-TAXII-Date-Added-Last``. After an interrupted run the cursor
is known to sit in the middle of a collection, so the next run asks from just before it
(several objects can share one ``date_added``) and the store recognises what it already has.
"""

from __future__ import annotations

import math
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urljoin

import httpx
from sqlalchemy import Connection, insert, select, update

from accord.model.errors import AccordError
from accord.model.timestamps import format_micros, stix_micros
from accord.share import tables as t
from accord.share.client import PeerError, RetryPolicy, TaxiiClient
from accord.share.intake import Intake, IntakeResult
from accord.share.peers import Peer, decrypt_secret, get_peer, list_peers, pin_identity
from accord.share.signing import KeyRing, identity_key
from accord.share.sqlutil import now_us
from accord.store.home import NodeHome
from accord.store.store import Store

DEFAULT_PAGE = 1000


@dataclass
class Progress:
    """What a progress display needs after each page."""

    peer: str
    collection: str
    pages: int
    objects: int
    rate: float
    pages_left: int | None


@dataclass
class CollectionReport:
    collection_id: str
    title: str
    pages: int = 0
    counts: IntakeResult = field(default_factory=IntakeResult)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.collection_id,
            "title": self.title,
            "pages": self.pages,
            **self.counts.counts(),
        }


@dataclass
class SyncReport:
    peer: str
    collections: list[CollectionReport] = field(default_factory=list)
    error: str | None = None
    retries: int = 0

    @property
    def totals(self) -> IntakeResult:
        total = IntakeResult()
        for c in self.collections:
            total.add(c.counts)
        return total

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            **self.totals.counts(),
            "retries": self.retries,
            "error": self.error,
            "collections": [c.as_dict() for c in self.collections],
        }


def client_for(
    home: NodeHome,
    peer: Peer,
    *,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[str], None] | None = None,
) -> TaxiiClient:
    """An HTTP client carrying the credentials this node holds for ``peer``."""
    auth: httpx.Auth | None = None
    token: str | None = None
    if peer.auth_kind in ("basic", "token") and peer.secret:
        secret = decrypt_secret(home.private_key(), peer.secret)
        if peer.auth_kind == "basic":
            auth = httpx.BasicAuth(peer.username or "", secret)
        else:
            token = secret
    verify: bool | ssl.SSLContext = True
    if peer.ca_cert:
        verify = ssl.create_default_context(cafile=peer.ca_cert)
    return TaxiiClient(
        peer.url, auth=auth, token=token, verify=verify, retry=retry, sleep=sleep, on_retry=on_retry
    )


def check_peer_identity(store: Store, peer: Peer, root_info: dict[str, Any]) -> None:
    """Pin the peer's key on first contact; afterwards accept only the pinned key or one
    that it handed over by a rotation signature."""
    identity = root_info.get("x_accord_identity")
    if not isinstance(identity, dict):
        if peer.key_id:
            raise PeerError(f"peer {peer.name}: a key is pinned, but it publishes no identity")
        return
    key = identity_key(identity)
    if key is None:
        raise PeerError(f"peer {peer.name}: its identity publishes no valid key")
    with store.transaction() as conn:
        ring = KeyRing.load(conn)
        if peer.key_id and key.key_id == peer.key_id and key.key_id not in ring.keys:
            probe = KeyRing({key.key_id: key})
            if probe.verify(identity).status != "valid":
                raise PeerError(f"peer {peer.name}: its identity is not signed by its key")
            ring.trust(conn, replace(key, source=f"pinned for peer {peer.name}"))
            why = ""
        else:
            why = ring.learn_identity(conn, identity, f"peer {peer.name} (first contact)")
    if why:
        raise PeerError(f"peer {peer.name}: its identity is not trusted here: {why}")
    if peer.key_id != key.key_id or peer.identity_id != key.identity_id:
        pin_identity(store, peer.name, key.identity_id, key.key_id)
        peer.key_id, peer.identity_id = key.key_id, key.identity_id


def _cursor(conn: Connection, peer: str, collection_id: str) -> Any:
    return conn.execute(
        select(t.cursors).where(
            t.cursors.c.peer_name == peer, t.cursors.c.collection_id == collection_id
        )
    ).first()


def _save_cursor(
    conn: Connection, peer: str, collection_id: str, added_after: str | None, complete: bool
) -> None:
    values = {"complete": complete, "updated_us": now_us()}
    if added_after is not None:
        values["added_after"] = added_after
    if _cursor(conn, peer, collection_id) is None:
        conn.execute(
            insert(t.cursors).values(peer_name=peer, collection_id=collection_id, pages=1, **values)
        )
    else:
        conn.execute(
            update(t.cursors)
            .where(t.cursors.c.peer_name == peer, t.cursors.c.collection_id == collection_id)
            .values(pages=t.cursors.c.pages + 1, **values)
        )


def _select_collections(
    peer: Peer, remote: list[dict[str, Any]], only: str | None
) -> list[dict[str, Any]]:
    wanted = [only] if only else peer.remote_collections
    readable = [c for c in remote if c.get("can_read")]
    if not wanted:
        return readable
    chosen = [c for c in readable if c.get("id") in wanted or c.get("title") in wanted]
    missing = set(wanted) - {c.get("id") for c in chosen} - {c.get("title") for c in chosen}
    if missing:
        raise PeerError(f"peer {peer.name} offers no readable collection {sorted(missing)}")
    return chosen


def sync_collection(
    store: Store,
    client: TaxiiClient,
    peer: Peer,
    root_url: str,
    collection: dict[str, Any],
    *,
    page_size: int = DEFAULT_PAGE,
    progress: Callable[[Progress], None] | None = None,
    node_identity: str | None = None,
) -> CollectionReport:
    cid = str(collection["id"])
    report = CollectionReport(cid, str(collection.get("title", cid)))
    url = urljoin(root_url, f"collections/{cid}/objects/")
    with store.engine.connect() as conn:
        cursor = _cursor(conn, peer.name, cid)
    added_after: str | None = None
    if cursor is not None and cursor.added_after:
        added_after = cursor.added_after
        if not cursor.complete:  # interrupted mid-collection: ask from just before
            added_after = format_micros(stix_micros(added_after) - 1)
    intake = Intake(store, peer.name, peer=peer, collection_id=cid, node_identity=node_identity)
    next_token: str | None = None
    started = time.monotonic()
    total: int | None = None
    while True:
        params: dict[str, Any] = {"limit": page_size}
        if added_after:
            params["added_after"] = added_after
        if next_token:
            params["next"] = next_token
        headers = {"X-Accord-Want-Total": "1"} if report.pages == 0 else None
        reply = client.get(url, params, headers=headers)
        if total is None and reply.headers.get("X-Accord-Total", "").isdigit():
            total = int(reply.headers["X-Accord-Total"])
        objects = reply.data.get("objects") or []
        if not isinstance(objects, list):
            raise PeerError(f"{url}: 'objects' is not a list")
        more = bool(reply.data.get("more"))
        last = reply.headers.get("X-TAXII-Date-Added-Last")

        def commit(
            conn: Connection, _result: IntakeResult, last: str | None = last, more: bool = more
        ) -> None:
            _save_cursor(conn, peer.name, cid, last, complete=not more)

        result = intake.ingest(objects, on_commit=commit)
        report.pages += 1
        report.counts.add(result)
        if progress:
            elapsed = max(time.monotonic() - started, 1e-6)
            left = None
            if total is not None:
                left = max(0, math.ceil((total - report.counts.received) / page_size))
            progress(
                Progress(
                    peer.name,
                    report.title,
                    report.pages,
                    report.counts.received,
                    report.counts.received / elapsed,
                    left,
                )
            )
        if not more:
            return report
        token = reply.data.get("next")
        if token:
            next_token = str(token)
        elif last:
            next_token = None
            if last == added_after and not objects:
                raise PeerError(f"{url}: the server says more but makes no progress")
            added_after = last
        else:
            raise PeerError(f"{url}: more results, but neither next nor X-TAXII-Date-Added-Last")


def _record(store: Store, peer: str, report: SyncReport) -> None:
    totals = report.totals
    values: dict[str, Any] = {
        "received": t.peers.c.received + totals.received,
        "stored": t.peers.c.stored + totals.stored,
        "duplicates": t.peers.c.duplicates + totals.duplicates,
        "quarantined": t.peers.c.quarantined + totals.quarantined,
        "flagged": t.peers.c.flagged + totals.flagged,
    }
    if report.error:
        values.update(last_error=report.error[:2000], last_error_us=now_us())
    else:
        values.update(last_success_us=now_us())
    with store.transaction() as conn:
        conn.execute(update(t.peers).where(t.peers.c.name == peer).values(**values))


def sync_peer(
    home: NodeHome,
    store: Store,
    name: str,
    *,
    collection: str | None = None,
    page_size: int = DEFAULT_PAGE,
    progress: Callable[[Progress], None] | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    on_retry: Callable[[str], None] | None = None,
) -> SyncReport:
    """Pull every selected collection of one peer; errors end up in the report."""
    peer = get_peer(store, name)
    report = SyncReport(peer.name)
    client = client_for(home, peer, retry=retry, sleep=sleep, on_retry=on_retry)
    try:
        root_url, info = client.api_root()
        check_peer_identity(store, peer, info)
        for remote in _select_collections(peer, client.collections(root_url), collection):
            report.collections.append(
                sync_collection(
                    store,
                    client,
                    peer,
                    root_url,
                    remote,
                    page_size=page_size,
                    progress=progress,
                    node_identity=home.identity_id,
                )
            )
    except AccordError as exc:
        report.error = str(exc)
    finally:
        report.retries = client.retries
        client.close()
        _record(store, peer.name, report)
    return report


def sync_all(home: NodeHome, store: Store, **kw: Any) -> list[SyncReport]:
    return [sync_peer(home, store, p.name, **kw) for p in list_peers(store)]


def cursors(store: Store, peer: str) -> list[dict[str, Any]]:
    with store.engine.connect() as conn:
        rows = conn.execute(select(t.cursors).where(t.cursors.c.peer_name == peer)).all()
    return [
        {
            "collection": r.collection_id,
            "added_after": r.added_after,
            "complete": bool(r.complete),
            "pages": r.pages,
            "updated": format_micros(r.updated_us),
        }
        for r in rows
    ]
