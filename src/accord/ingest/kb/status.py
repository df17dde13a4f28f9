"""What knowledge bases a store holds: versions recorded at load time, live object counts.

Counts come from the store itself (current versions by creator), not from the last load's
report, so that objects superseded by an imported MITRE bundle or retired since still
show up truthfully.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from accord.ingest.kb.actors import MISP_IDENTITY_ID
from accord.ingest.kb.attack import MITRE_IDENTITY_ID
from accord.store import Store
from accord.store import schema as s

KNOWLEDGE_BASES = {"attack": MITRE_IDENTITY_ID, "actors": MISP_IDENTITY_ID}
WARNINGLISTS_MODULE = "accord.ingest.warninglists"
# Meta key the warninglist loader records its last load under (read only, for status).
WARNINGLISTS_LOADED_AT = "warninglists.loaded_at"


def warninglists_updater() -> Callable[..., Any] | None:
    """The warninglist loader ``update_warninglists(store, progress=None)``, when this build
    ships it (it is another, optional capability), else None."""
    if importlib.util.find_spec(WARNINGLISTS_MODULE) is None:
        return None
    module = importlib.import_module(WARNINGLISTS_MODULE)
    update = getattr(module, "update_warninglists", None)
    return update if callable(update) else None


def warninglists_available() -> bool:
    return warninglists_updater() is not None


def kb_status(store: Store) -> dict[str, Any]:
    """Per knowledge base: version, galaxy cluster versions, last update, counts by type."""
    status: dict[str, Any] = {}
    for name, identity_id in KNOWLEDGE_BASES.items():
        clusters = store.get_meta(f"kb.{name}.clusters")
        live, revoked = _counts(store, identity_id)
        status[name] = {
            "loaded": bool(live),
            "version": store.get_meta(f"kb.{name}.version"),
            "clusters": json.loads(clusters) if clusters else {},
            "source": store.get_meta(f"kb.{name}.source"),
            "updated_at": store.get_meta(f"kb.{name}.updated_at"),
            "objects": live,
            "revoked": revoked,
        }
    with store.engine.connect() as conn:
        lists = conn.execute(select(func.count()).select_from(s.warninglists)).scalar_one()
        entries = conn.execute(select(func.count()).select_from(s.warninglist_entries)).scalar_one()
    status["warninglists"] = {
        "available": warninglists_available(),
        "lists": int(lists),
        "entries": int(entries),
        "loaded_at": store.get_meta(WARNINGLISTS_LOADED_AT),
    }
    return status


def _counts(store: Store, identity_id: str) -> tuple[dict[str, int], int]:
    query = (
        select(s.objects.c.type, s.objects.c.revoked, func.count())
        .where(s.objects.c.created_by_ref == identity_id, s.objects.c.is_current)
        .group_by(s.objects.c.type, s.objects.c.revoked)
    )
    live: dict[str, int] = {}
    revoked = 0
    with store.engine.connect() as conn:
        for obj_type, is_revoked, count in conn.execute(query):
            if is_revoked:
                revoked += int(count)
            else:
                live[obj_type] = live.get(obj_type, 0) + int(count)
    return dict(sorted(live.items())), revoked
