"""Pushing to a peer's writable inbox, under the same policy and redaction as its reads.

The push cursor (the local ``date_added`` of the last item the peer acknowledged) moves
only after the peer's status resource reports the envelope complete, so an interrupted
push resends at most one envelope, which the receiver recognises as duplicates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin

from sqlalchemy import update

from accord.model.errors import AccordError
from accord.share import tables as t
from accord.share.client import PeerError, TaxiiClient
from accord.share.egress import items_for_peer
from accord.share.peers import get_peer
from accord.share.sync import check_peer_identity, client_for
from accord.store.home import NodeHome
from accord.store.store import Store

ENVELOPE = 100


@dataclass
class PushReport:
    peer: str
    collection: str | None = None
    envelopes: int = 0
    sent: int = 0
    succeeded: int = 0
    failed: int = 0
    failures: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "peer": self.peer,
            "collection": self.collection,
            "envelopes": self.envelopes,
            "sent": self.sent,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "failures": self.failures[:50],
            "error": self.error,
        }


def _wait_complete(
    client: TaxiiClient, root_url: str, status: dict[str, Any], timeout: float = 600.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    delay = 0.05
    while status.get("status") != "complete":
        if time.monotonic() > deadline:
            raise PeerError(f"status {status.get('id')} still pending after {timeout:.0f} s")
        time.sleep(delay)
        delay = min(delay * 2, 2.0)
        status = client.get(urljoin(root_url, f"status/{status['id']}/")).data
    return status


def push_peer(
    home: NodeHome,
    store: Store,
    name: str,
    *,
    collection: str | None = None,
    envelope_size: int = ENVELOPE,
    progress: Callable[[int], None] | None = None,
) -> PushReport:
    """Send what ``name`` may receive and has not yet acknowledged to its inbox."""
    peer = get_peer(store, name)
    report = PushReport(peer.name)
    client = client_for(home, peer)
    try:
        root_url, info = client.api_root()
        check_peer_identity(store, peer, info)
        limit = int(info.get("max_content_length") or 0)
        writable = [c for c in client.collections(root_url) if c.get("can_write")]
        if collection:
            writable = [c for c in writable if collection in (c.get("id"), c.get("title"))]
        if not writable:
            raise PeerError(f"peer {peer.name} offers no writable collection to push into")
        target = writable[0]
        report.collection = str(target["id"])
        url = urljoin(root_url, f"collections/{target['id']}/objects/")
        batch: list[str] = []
        size = 0
        last_added = peer.stats.get("push_after_us")

        def send(bodies: list[str], upto: int) -> None:
            envelope = ('{"objects":[' + ",".join(bodies) + "]}").encode()
            reply = client.request("POST", url, body=envelope)
            status = _wait_complete(client, root_url, reply.data)
            report.envelopes += 1
            report.sent += len(bodies)
            report.succeeded += int(status.get("success_count", 0))
            report.failed += int(status.get("failure_count", 0))
            report.failures += list(status.get("failures", []))
            with store.transaction() as conn:
                conn.execute(
                    update(t.peers)
                    .where(t.peers.c.name == peer.name)
                    .values(push_after_us=upto, pushed=t.peers.c.pushed + len(bodies))
                )
            if progress:
                progress(report.sent)

        upto = last_added
        for item in items_for_peer(home, store, peer, added_after_us=last_added):
            body_size = len(item.body) + 1
            full = len(batch) >= envelope_size or (limit and size + body_size + 16 > limit)
            # Cut only between rows: a redacted row's two objects share one date_added.
            if batch and full and item.added_us != upto:
                send(batch, upto or 0)
                batch, size = [], 0
            batch.append(item.body)
            size += body_size
            upto = item.added_us
        if batch:
            send(batch, upto or 0)
    except AccordError as exc:
        report.error = str(exc)
    finally:
        client.close()
    return report
