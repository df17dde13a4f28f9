"""MISP warninglists in the store: loading, lookup and checking of values.

* :func:`update_warninglists` loads the lists shipped with ``pymispwarninglists`` into the
  ``warninglists`` / ``warninglist_entries`` tables (one transaction, idempotent);
* :func:`lookup` tells, for many observables at once, which lists name them and whether
  that *suppresses* them (benign infrastructure) or only *annotates* them;
* :func:`check_values` does the same for bare values typed by a user (``accord check``).

Which list suppresses and which annotates is decided, with reasons, in
:mod:`accord.ingest.warninglists.policy`.
"""

from accord.ingest.warninglists.check import CheckResult, check_values
from accord.ingest.warninglists.load import WarninglistUpdate, update_warninglists
from accord.ingest.warninglists.lookup import (
    WarninglistMatch,
    is_suppressed,
    loaded_list_count,
    lookup,
)
from accord.ingest.warninglists.policy import ANNOTATE, SUPPRESS, ListPolicy, policy_for
from accord.ingest.warninglists.source import WarninglistSource, misp_sources

__all__ = [
    "ANNOTATE",
    "SUPPRESS",
    "CheckResult",
    "ListPolicy",
    "WarninglistMatch",
    "WarninglistSource",
    "WarninglistUpdate",
    "check_values",
    "is_suppressed",
    "loaded_list_count",
    "lookup",
    "misp_sources",
    "policy_for",
    "update_warninglists",
]
