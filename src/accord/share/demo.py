"""Two nodes sharing under a policy, for ``accord quickstart`` and the documentation.

The partner node loads its bundle, offers it in one collection and grants that collection
to the CSRO node with a TLP:GREEN ceiling; the CSRO node pulls over real TAXII on a
loopback port. What arrives is the partner's GREEN (and CLEAR) material; AMBER and RED
objects stay home, and the result says which ones and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import select

from accord.model.errors import AccordError, NotFound
from accord.model.tlp import TLP
from accord.share.auth import create_token
from accord.share.collections import add_collection, get_collection
from accord.share.peers import get_peer, save_peer, set_policy
from accord.share.serving import ServerThread
from accord.share.sync import SyncReport, sync_peer
from accord.store import schema as s
from accord.store.home import NodeHome


@dataclass
class ShareDemo:
    collection_id: str
    policy: dict[str, Any]
    arrived: list[dict[str, Any]] = field(default_factory=list)
    stayed_home: list[dict[str, Any]] = field(default_factory=list)
    sync: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection_id,
            "policy": self.policy,
            "arrived": self.arrived,
            "stayed_home": self.stayed_home,
            "sync": self.sync,
        }


def _summary(obj: dict[str, Any], level: TLP) -> dict[str, Any]:
    return {
        "id": obj["id"],
        "type": obj["type"],
        "name": obj.get("name") or obj.get("value") or obj.get("relationship_type"),
        "tlp": level.label,
    }


def share_between(
    partner_home: NodeHome,
    csro_home: NodeHome,
    bundle: Path,
    *,
    collection: str = "partner-intel",
    tlp_max: TLP = TLP.GREEN,
    partner_name: str = "partner",
    csro_name: str = "csro",
) -> ShareDemo:
    """Share ``bundle`` from the partner node to the CSRO node under a ``tlp_max`` policy."""
    data = orjson.loads(Path(bundle).read_bytes())
    objects = data.get("objects") if isinstance(data, dict) else None
    if not isinstance(objects, list):
        raise AccordError(f"{bundle}: not a STIX bundle")
    with partner_home.open_store() as partner, csro_home.open_store() as csro:
        partner.put_objects(objects, "file", Path(bundle).name)
        try:
            offered = get_collection(partner, collection)
        except NotFound:
            offered = add_collection(
                partner,
                collection,
                description="What the partner CERT shares with peers, under each one's policy.",
                query=f"source=file:{Path(bundle).name}",
            )
        try:
            get_peer(partner, csro_name)
        except NotFound:
            save_peer(partner, partner_home.private_key(), csro_name, "http://127.0.0.1:9/")
        policy = set_policy(
            partner, csro_name, tlp_max=tlp_max, collections=[offered.collection_id]
        ).policy_dict()
        token = create_token(partner, csro_name, "quickstart")
        with ServerThread(partner_home, partner) as server:
            save_peer(
                csro,
                csro_home.private_key(),
                partner_name,
                server.discovery,
                token=token,
                remote_collections=[offered.collection_id],
                replace=_has_peer(csro, partner_name),
            )
            report: SyncReport = sync_peer(csro_home, csro, partner_name)
        if report.error:
            raise AccordError(f"sync from the partner node failed: {report.error}")
        with csro.engine.connect() as conn:
            received = {
                r.id
                for r in conn.execute(
                    select(s.objects.c.id).where(
                        s.objects.c.source_kind == "peer", s.objects.c.source_name == partner_name
                    )
                )
            }
        demo = ShareDemo(offered.collection_id, policy, sync=report.as_dict())
        rows = partner.get_many([o["id"] for o in objects if isinstance(o, dict) and "id" in o])
        for obj_id, row in rows.items():
            entry = _summary(row.obj, row.tlp)
            if obj_id in received:
                demo.arrived.append(entry)
            else:
                demo.stayed_home.append(entry)
        return demo


def _has_peer(store: Any, name: str) -> bool:
    try:
        get_peer(store, name)
    except NotFound:
        return False
    return True
