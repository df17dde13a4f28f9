"""``accord verify``: who signed an object, and does the signature hold?"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from accord.model.errors import InputError, NotFound
from accord.share.signing import KeyRing
from accord.store.store import Store


def _objects_in(data: Any) -> list[Mapping[str, Any]]:
    if isinstance(data, list):
        return [o for o in data if isinstance(o, Mapping)]
    if isinstance(data, Mapping):
        if isinstance(data.get("objects"), list):  # a bundle or a TAXII envelope
            return [o for o in data["objects"] if isinstance(o, Mapping)]
        return [data]
    return []


def verify_objects(store: Store, objects: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    ring = KeyRing.from_store(store)
    out: list[dict[str, Any]] = []
    names: dict[str, str | None] = {}
    for obj in objects:
        verdict = ring.verify(obj)
        signer = verdict.signer
        if signer and signer not in names:
            identity = store.get(signer)
            names[signer] = identity.get("name") if identity else None
        out.append(
            {
                "id": obj.get("id"),
                "type": obj.get("type"),
                "version": obj.get("modified") or obj.get("created"),
                "signer_name": names.get(signer) if signer else None,
                **verdict.as_dict(),
            }
        )
    return out


def verify_target(store: Store, target: str) -> list[dict[str, Any]]:
    """Verify a file (object, bundle, envelope or list) or every stored version of an id."""
    path = Path(target)
    if path.is_file():
        try:
            data = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise InputError(str(path), f"not JSON: {exc}") from None
        objects = _objects_in(data)
        if not objects:
            raise InputError(str(path), "holds no STIX object")
        return verify_objects(store, objects)
    versions = store.versions(target)
    if not versions:
        raise NotFound(f"{target!r} is neither a file nor an object id in the store")
    return verify_objects(store, [row.obj for row in versions])
