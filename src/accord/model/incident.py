"""accord's incident timeline extension: the dates and scale an incident record needs.

STIX 2.1's ``incident`` SDO carries only a name and a description. Dwell time and the
"found months late" story need more, so accord defines one property extension, published as
an ``extension-definition`` object that travels with the incidents that use it:

``extensions[INCIDENT_TIMELINE_EXTENSION_ID]``:

* ``extension_type``: ``"property-extension"``
* ``detected``: when the victim detected the intrusion (STIX timestamp)
* ``disclosed``: when it was made public (STIX timestamp), optional
* ``reported_start``: the start the victim believed at detection time, optional
* ``records_affected``: number of records affected (integer ≥ 0), optional

The first trace of the compromise is *not* stored here: the retro-hunt derives it from
sightings, so it stays evidence-backed and recomputable.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from accord.model.timestamps import parse_stix_timestamp

INCIDENT_TIMELINE_EXTENSION_ID = "extension-definition--f4dddf20-ca37-44c1-a03b-7cf44b75115f"
ACCORD_PROJECT_IDENTITY_ID = "identity--563d7178-68aa-4e10-a45a-7a986bdfa89b"


def accord_project_identity() -> dict[str, Any]:
    """The identity that publishes accord's extension definitions."""
    return {
        "type": "identity",
        "spec_version": "2.1",
        "id": ACCORD_PROJECT_IDENTITY_ID,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "created_by_ref": ACCORD_PROJECT_IDENTITY_ID,
        "name": "accord project",
        "identity_class": "organization",
    }


def incident_timeline_extension_definition() -> dict[str, Any]:
    return {
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": INCIDENT_TIMELINE_EXTENSION_ID,
        "created_by_ref": ACCORD_PROJECT_IDENTITY_ID,
        "created": "2026-01-01T00:00:00.000Z",
        "modified": "2026-01-01T00:00:00.000Z",
        "name": "accord incident timeline",
        "description": "Detection and disclosure dates and the number of records affected, "
        "so that dwell time can be computed against the first sighting.",
        "schema": "https://github.com/accord-cti/accord/blob/main/docs/extensions.md",
        "version": "1.0.0",
        "extension_types": ["property-extension"],
    }


def incident_timeline(incident: Mapping[str, Any]) -> dict[str, Any]:
    """The timeline extension of an incident, validated; ``{}`` when absent."""
    ext = (incident.get("extensions") or {}).get(INCIDENT_TIMELINE_EXTENSION_ID)
    if not isinstance(ext, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key in ("detected", "disclosed", "reported_start"):
        if key in ext:
            parse_stix_timestamp(ext[key])
            out[key] = ext[key]
    if "records_affected" in ext:
        count = ext["records_affected"]
        if not isinstance(count, int) or count < 0:
            raise ValueError("records_affected must be a non-negative integer")
        out["records_affected"] = count
    return out
