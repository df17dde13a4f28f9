"""Find intrusion sets by any of their names: ATT&CK name, alias, G-number, MISP synonym.

Attribution and the CLI start from a name an analyst typed ("Cozy Bear"); the store's
search text narrows the candidates in SQL, and the exact (case-insensitive) comparison on
the names happens here, so "APT2" does not find "APT29".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from sqlalchemy import select

from accord.ingest.kb.common import name_key
from accord.store import Store
from accord.store import schema as s


def intrusion_set_names(obj: Mapping[str, Any]) -> list[str]:
    """Every name an intrusion set answers to: name, aliases and ATT&CK external ids."""
    names = [str(obj.get("name") or "")]
    names += [str(a) for a in obj.get("aliases") or []]
    names += [
        str(ref["external_id"])
        for ref in obj.get("external_references") or []
        if isinstance(ref, Mapping)
        and ref.get("source_name") == "mitre-attack"
        and ref.get("external_id")
    ]
    return [n for n in names if n]


def find_intrusion_sets(
    store: Store, name: str, *, include_revoked: bool = False
) -> list[dict[str, Any]]:
    """Current intrusion sets (ATT&CK groups, MISP actors, anyone's) known under ``name``."""
    key = name_key(name)
    if not key:
        return []
    # The store's search text is lower-cased (not case-folded): narrow with the same form.
    needle = " ".join(name.lower().split())
    pattern = "%" + needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    query = select(s.objects.c.body).where(
        s.objects.c.type == "intrusion-set",
        s.objects.c.is_current,
        s.objects.c.search_text.like(pattern, escape="\\"),
    )
    if not include_revoked:
        query = query.where(s.objects.c.revoked.is_(False))
    found: list[dict[str, Any]] = []
    with store.engine.connect() as conn:
        for (body,) in conn.execute(query):
            obj = orjson.loads(body)
            if any(name_key(n) == key for n in intrusion_set_names(obj)):
                found.append(obj)
    return sorted(found, key=lambda o: o["id"])
