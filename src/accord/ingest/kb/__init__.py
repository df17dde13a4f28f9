"""Knowledge bases built offline from the MISP galaxies shipped in ``pymispgalaxies``.

* :mod:`.attack`: MITRE ATT&CK Enterprise (groups, techniques, software, ``uses``), with
  ATT&CK's own STIX ids;
* :mod:`.actors`: the MISP threat-actor catalogue, linked to ATT&CK groups by
  ``duplicate-of`` where names or aliases coincide;
* :mod:`.update`: loading them into the store, one atomic write each, idempotently;
* :mod:`.status`, :mod:`.lookup`: what is loaded, and finding groups by any name.

The builders are pure (no store, no network), so quickstart and attribution can use the
objects directly.
"""

from accord.ingest.kb.actors import MISP_IDENTITY_ID, build_actor_objects
from accord.ingest.kb.attack import MITRE_IDENTITY_ID, build_attack_objects
from accord.ingest.kb.lookup import find_intrusion_sets, intrusion_set_names
from accord.ingest.kb.status import kb_status, warninglists_available
from accord.ingest.kb.update import KbResult, load_kb, update_actors, update_attack

__all__ = [
    "MISP_IDENTITY_ID",
    "MITRE_IDENTITY_ID",
    "KbResult",
    "build_actor_objects",
    "build_attack_objects",
    "find_intrusion_sets",
    "intrusion_set_names",
    "kb_status",
    "load_kb",
    "update_actors",
    "update_attack",
    "warninglists_available",
]
