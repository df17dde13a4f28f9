"""STIX sightings from hits: one per (indicator, log source), versioned, never duplicated.

The id is derived from the node, the indicator and the source (UUIDv5), so a re-run finds
the sighting it wrote before. A new version (new ``modified``) is written only when first
seen, last seen, count or marking changed; otherwise nothing is written. The marking is the
most restrictive of the indicator's TLP and the node's default: a sighting tells where an
indicator was seen, which is at least as sensitive as the indicator itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from accord.model.timestamps import format_micros, stix_micros
from accord.model.tlp import TLP, TLP2_IDS

SIGHTING_NAMESPACE = uuid.UUID("a1c2b7f0-5d1e-4f55-9c39-6c2f0e7b8d41")
MAX_COUNT = 999_999_999


def sighting_id(identity_id: str, indicator_id: str, source_name: str) -> str:
    key = f"{identity_id}|{indicator_id}|{source_name}"
    return f"sighting--{uuid.uuid5(SIGHTING_NAMESPACE, key)}"


@dataclass(frozen=True, slots=True)
class SightingFacts:
    indicator_id: str
    source_name: str
    first_us: int | None
    last_us: int | None
    count: int
    tlp: TLP


def build_sighting(
    facts: SightingFacts, identity_id: str, previous: dict[str, Any] | None, now_us: int
) -> dict[str, Any] | None:
    """The sighting for ``facts``; ``None`` when ``previous`` already says the same."""
    body: dict[str, Any] = {
        "sighting_of_ref": facts.indicator_id,
        "count": min(facts.count, MAX_COUNT),
        "where_sighted_refs": [identity_id],
        "object_marking_refs": [TLP2_IDS[facts.tlp]],
    }
    if facts.first_us is not None and facts.last_us is not None:
        body["first_seen"] = format_micros(facts.first_us)
        body["last_seen"] = format_micros(facts.last_us)
    if previous is not None:
        same = all(previous.get(k) == v for k, v in body.items())
        same = same and all(k in body for k in ("first_seen", "last_seen") if k in previous)
        if same:
            return None
        created = previous["created"]
        modified_us = max(now_us, stix_micros(previous["modified"]) + 1000)
    else:
        created = format_micros(now_us)
        modified_us = now_us
    return {
        "type": "sighting",
        "spec_version": "2.1",
        "id": sighting_id(identity_id, facts.indicator_id, facts.source_name),
        "created": created,
        "modified": format_micros(modified_us),
        "created_by_ref": identity_id,
        "description": f"Retro-hunt of log source {facts.source_name!r}.",
        "x_accord_log_source": facts.source_name,
        **body,
    }
