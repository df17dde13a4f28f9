"""Evidence-based attribution: ranked, calibrated hypotheses with an explicit UNKNOWN.

The public API (what ``accord attribute``, ``accord claim``, ``accord assess`` and
``accord quickstart`` call):

* :func:`attribute_incident` (a stored incident, saved as this node's note),
  :func:`attribute_bundle` (a bundle over the store, in memory), :func:`attribute_graph`
  (an in-memory :class:`KnowledgeGraph`, no database);
* :func:`render_text` / :func:`render_json` for the :class:`AttributionResult`;
* :func:`add_claim` and :func:`assess` for public allegations.

The method, its parameters and how they were fitted are in ``docs/attribution.md``.
"""

from accord.attribute.claims import Assessment, Verdict, add_claim, assess
from accord.attribute.graph import KnowledgeGraph
from accord.attribute.params import DEFAULT_PARAMETERS, Parameters
from accord.attribute.render import render_json, render_text
from accord.attribute.result import AttributionResult
from accord.attribute.service import attribute_bundle, attribute_graph, attribute_incident

__all__ = [
    "DEFAULT_PARAMETERS",
    "Assessment",
    "AttributionResult",
    "KnowledgeGraph",
    "Parameters",
    "Verdict",
    "add_claim",
    "assess",
    "attribute_bundle",
    "attribute_graph",
    "attribute_incident",
    "render_json",
    "render_text",
]
