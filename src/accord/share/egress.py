"""Everything a given peer may receive, outside TAXII: for export, push and preview.

These functions read through the same :class:`~accord.share.view.View` as the TAXII
server, so ``accord export --peer``, ``accord push`` and ``accord policy preview`` emit
exactly what a TAXII read by that peer would: nothing above its ceiling, never RED, never
unmarked data, redacted copies instead of sensitive originals, and this node's signature on
what it created.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterator
from typing import Any

from sqlalchemy import func, select

from accord.model.tlp import TLP, standard_marking
from accord.share.collections import get_collection
from accord.share.peers import Peer, get_peer
from accord.share.redaction import Profile
from accord.share.settings import load_settings
from accord.share.signing import Signer
from accord.share.view import OWN_SOURCES, Audience, Filters, Item, View
from accord.store import schema as s
from accord.store.export import marking_level
from accord.store.home import NodeHome
from accord.store.store import Store


def peer_views(home: NodeHome, store: Store, peer: Peer) -> list[View]:
    """One view per collection granted to ``peer``, under its policy."""
    signer = Signer.from_home(home)
    settings = load_settings(store)
    profile = Profile(peer.redact, home.identity_id, settings.internal_domains)
    audience = Audience(peer.name, peer.ceiling, profile)
    return [View(store, signer, get_collection(store, cid), audience) for cid in peer.grants]


def items_for_peer(
    home: NodeHome, store: Store, peer: Peer, *, added_after_us: int | None = None
) -> Iterator[Item]:
    """Items of all granted collections, in date_added order, each version once."""
    views = peer_views(home, store, peer)
    streams = [v.iter_items(Filters(added_after_us=added_after_us)) for v in views]
    seen: set[tuple[str, str]] = set()
    for item in heapq.merge(*streams, key=lambda i: (i.added_us, i.row_id)):
        key = (item.id, item.version)
        if key in seen:
            continue
        seen.add(key)
        yield item


class PeerObjects:
    """The STIX objects one peer may receive, signed and redacted as they would leave, and
    the marking definitions they reference that the peer may receive too.

    :func:`accord.store.export.write_bundle` appends referenced marking definitions; it asks
    :meth:`marking_for` here (the peer's ceiling) instead of using the bundle's ``tlp_max``.
    """

    def __init__(self, home: NodeHome, store: Store, peer: Peer) -> None:
        self.home = home
        self.store = store
        self.peer = peer

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for item in items_for_peer(self.home, self.store, self.peer):
            yield item.parsed()

    def marking_for(self, ref: str) -> dict[str, Any] | None:
        """A standard TLP definition as published; a stored one only under the peer's
        ceiling (its own level, its own marking, its creator), signed if this node wrote it.
        """
        standard = standard_marking(ref)
        if standard is not None:
            return standard
        row = self.store.get_row(ref)
        if row is None or row.type != "marking-definition":
            return None
        obj = row.obj
        creator = obj.get("created_by_ref")
        if not self.peer.ceiling.allows_row(marking_level(row), creator, self.home.identity_id):
            return None
        if creator == self.home.identity_id and row.source_kind in OWN_SOURCES:
            return Signer.from_home(self.home).sign_own(obj)
        return obj


def objects_for_peer(home: NodeHome, store: Store, peer_name: str) -> PeerObjects:
    """The STIX objects ``peer_name`` may receive, signed and redacted as they would leave.

    For ``accord export --peer NAME``: write them as a bundle.
    """
    return PeerObjects(home, store, get_peer(store, peer_name))


def preview(home: NodeHome, store: Store, peer_name: str) -> dict[str, Any]:
    """What ``peer_name`` would receive, item by item, and what stays home, by reason."""
    peer = get_peer(store, peer_name)
    views = peer_views(home, store, peer)
    items: list[dict[str, Any]] = []
    seen: set[tuple[str, str]] = set()
    for view in views:
        for item in view.iter_items():
            key = (item.id, item.version)
            if key in seen:
                continue
            seen.add(key)
            items.append(
                {
                    "id": item.id,
                    "type": item.type,
                    "version": item.version,
                    "tlp": item.tlp.label,
                    "action": item.action,
                    "source_id": item.source_id,
                    "collection": view.collection.name,
                }
            )
    withheld: Counter[str] = Counter()
    for view in views:
        withheld.update(view.withheld)
    own = func.coalesce(s.objects.c.created_by_ref == home.identity_id, False).label("own")
    stays_home: Counter[str] = Counter()
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(s.objects.c.tlp, own, func.count())
            .where(s.objects.c.is_current.is_(True))
            .group_by(s.objects.c.tlp, own)
        ).all()
    for level, is_own, count in sorted(rows, key=lambda r: (r[0], bool(r[1]))):
        # Received AMBER stays home for a peer of another organisation (policy.py).
        if not peer.ceiling.allows(TLP(level), third_party=not is_own):
            stays_home[TLP(level).label] += count
    return {
        "peer": peer.name,
        "policy": peer.policy_dict(),
        "count": len(items),
        "items": items,
        "withheld_by_redaction": dict(withheld),
        "stays_home_by_tlp": dict(stays_home),
    }
