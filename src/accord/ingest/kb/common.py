"""Shared rules for knowledge bases built from MISP galaxies: fixed dates, stable ids, refs.

A knowledge base must come out byte-identical from identical upstream data, so that a
re-run stores nothing (the store skips an identical ``id`` + ``modified`` + content). Hence:

* every galaxy-derived object is first created and modified at :data:`KB_EPOCH`, a date
  *before* any official ATT&CK STIX object. If a node also imports MITRE's own bundle
  (same ids, same creator), MITRE's versions are newer and win as the current version;
* ids accord mints (relationships, the MISP identity) are UUIDv5 over a fixed namespace;
* sets that pymispgalaxies hands out unordered (synonyms, refs) are sorted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any
from urllib.parse import urlsplit

from pymispgalaxies import Cluster, ClusterValue
from pymispgalaxies.api import PyMISPGalaxiesError

from accord.model.errors import AccordError, InputError
from accord.model.tlp import TLP, TLP2_IDS

KB_EPOCH = "2017-01-01T00:00:00.000Z"
# Namespace of every UUIDv5 accord mints for knowledge-base content. Never change it: the
# ids of relationships and of the MISP identity, on every node, derive from it.
KB_NAMESPACE = uuid.UUID("5f0c4a1e-8d2b-5b7e-9c41-6a0d3e2f1b87")
CLEAR_REFS = [TLP2_IDS[TLP.CLEAR]]


def stable_id(stix_type: str, *parts: str) -> str:
    """A deterministic STIX id: the same parts give the same id on every node, every run."""
    return f"{stix_type}--{uuid.uuid5(KB_NAMESPACE, '|'.join(parts))}"


def relationship(
    creator: str,
    source_ref: str,
    relationship_type: str,
    target_ref: str,
    **extra: Any,
) -> dict[str, Any]:
    """A relationship whose id is UUIDv5 over ``source|type|target``, so re-runs match it."""
    rel: dict[str, Any] = {
        "type": "relationship",
        "spec_version": "2.1",
        "id": stable_id("relationship", source_ref, relationship_type, target_ref),
        "created": KB_EPOCH,
        "modified": KB_EPOCH,
        "created_by_ref": creator,
        "relationship_type": relationship_type,
        "source_ref": source_ref,
        "target_ref": target_ref,
        "object_marking_refs": list(CLEAR_REFS),
    }
    rel.update(extra)
    return rel


def sdo(
    stix_type: str,
    galaxy_uuid: str,
    creator: str,
    name: str,
    description: str | None,
) -> dict[str, Any]:
    """The common part of a galaxy-derived SDO; the id keeps the galaxy (= upstream) UUID."""
    obj: dict[str, Any] = {
        "type": stix_type,
        "spec_version": "2.1",
        "id": f"{stix_type}--{galaxy_uuid}",
        "created": KB_EPOCH,
        "modified": KB_EPOCH,
        "created_by_ref": creator,
        "name": name,
    }
    if description:
        obj["description"] = description
    obj["object_marking_refs"] = list(CLEAR_REFS)
    return obj


def url_references(urls: Iterable[str], skip: Iterable[str] = ()) -> list[dict[str, str]]:
    """External references for bare URLs, named by host (STIX requires a ``source_name``)."""
    skipped = {_url_key(u) for u in skip}
    refs: list[dict[str, str]] = []
    for url in sorted(set(urls)):
        if not url or _url_key(url) in skipped:
            continue
        host = (urlsplit(url).hostname or "").removeprefix("www.")
        refs.append({"source_name": host or "reference", "url": url})
    return refs


def _url_key(url: str) -> str:
    return url.strip().rstrip("/").lower()


def aliases(name: str, synonyms: Iterable[str]) -> list[str]:
    """The name first (ATT&CK's convention), then the other synonyms, sorted, without repeats."""
    seen = {name}
    rest: list[str] = []
    for synonym in sorted(synonyms, key=lambda s: (s.casefold(), s)):
        synonym = synonym.strip()
        if synonym and synonym not in seen:
            seen.add(synonym)
            rest.append(synonym)
    return [name, *rest]


def name_key(text: str) -> str:
    """How names are compared across catalogues: case-insensitive, whitespace collapsed."""
    return " ".join(text.casefold().split())


def galaxy_uuid(value: ClusterValue, cluster: str) -> str:
    """The value's UUID, checked: it becomes the STIX id, so it must be a real UUID."""
    raw = value.uuid
    try:
        return str(uuid.UUID(str(raw)))
    except ValueError:
        raise InputError(f"galaxy {cluster}: {value.value!r}", f"invalid uuid {raw!r}") from None


def meta_props(value: ClusterValue) -> Mapping[str, Any]:
    """Meta fields that pymispgalaxies does not model as attributes (external_id, cfr-…)."""
    meta = value.meta
    return meta.additional_properties if meta is not None else {}


def synonyms(value: ClusterValue) -> list[str]:
    meta = value.meta
    return sorted(meta.synonyms) if meta is not None else []


def refs(value: ClusterValue) -> list[str]:
    meta = value.meta
    return sorted(meta.refs) if meta is not None else []


def str_list(value: object) -> list[str]:
    """A meta field as a list of strings (galaxies mix ``"x"`` and ``["x", "y"]``)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    return [str(item).strip() for item in items if str(item).strip()]


def load_clusters(names: Iterable[str]) -> dict[str, Cluster]:
    """The named clusters shipped inside pymispgalaxies (offline; no network)."""
    loaded: dict[str, Cluster] = {}
    for name in names:
        try:
            loaded[name] = Cluster(name)
        except FileNotFoundError:
            raise AccordError(
                f"pymispgalaxies {galaxies_package_version()} has no {name!r} cluster; "
                "install a release that ships it (pip install -U pymispgalaxies)"
            ) from None
        except (PyMISPGalaxiesError, KeyError, ValueError) as exc:
            raise AccordError(f"galaxy cluster {name!r} cannot be read: {exc}") from None
    return loaded


def galaxies_package_version() -> str:
    try:
        return package_version("pymispgalaxies")
    except PackageNotFoundError:
        return "unknown"
