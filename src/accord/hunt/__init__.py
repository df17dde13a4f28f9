"""Retro-hunt: match the store's indicators against logs, record hits and STIX sightings.

Public API: :func:`run_hunt` (→ :class:`HuntSummary`), :func:`build_timeline`
(→ :class:`Timeline`), log sources (:func:`add_source`, :func:`list_sources`), hits
(:func:`query_hits`) and :func:`write_example_logs` for the example case.
"""

from accord.hunt.examples import write_example_logs
from accord.hunt.hits import query_hits
from accord.hunt.runner import (
    HuntOptions,
    HuntSummary,
    add_source,
    get_source,
    list_sources,
    run_hunt,
)
from accord.hunt.timeline import Timeline, build_timeline

__all__ = [
    "HuntOptions",
    "HuntSummary",
    "Timeline",
    "add_source",
    "build_timeline",
    "get_source",
    "list_sources",
    "query_hits",
    "run_hunt",
    "write_example_logs",
]
