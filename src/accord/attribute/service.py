"""The attribution API the CLI and ``accord quickstart`` call.

* :func:`attribute_graph`: pure, on an in-memory :class:`KnowledgeGraph`.
* :func:`attribute_incident`: on a store; stores the result as this node's note.
* :func:`attribute_bundle`: a bundle file laid over the store *in memory*; the store is
  only read, so it is left unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.attribute.collect import Collected, collect, is_incident
from accord.attribute.engine import Posterior, compute, weighable
from accord.attribute.evidence import EvidenceItem, Source
from accord.attribute.grading import Grade
from accord.attribute.graph import KnowledgeGraph
from accord.attribute.loader import kb_info, load_graph
from accord.attribute.marking import result_tlp
from accord.attribute.params import DEFAULT_PARAMETERS, Parameters
from accord.attribute.record import save_attribution
from accord.attribute.report import build_result
from accord.attribute.result import AttributionResult, KbInfo
from accord.ingest.context import ImportContext
from accord.ingest.stix_bundle import read_stix
from accord.model.errors import InputError
from accord.model.stix import check_object
from accord.store import Store

# The STIX reader needs an identity only for objects it would create; it creates none here.
_READER_IDENTITY = "identity--00000000-0000-4000-8000-000000000000"


@dataclass
class Analysis:
    """A result together with what produced it (used by claim assessment)."""

    result: AttributionResult
    graph: KnowledgeGraph
    collected: Collected
    posterior: Posterior
    items: list[EvidenceItem]


def claim_evidence(graph: KnowledgeGraph, claim: Mapping[str, Any]) -> tuple[list[str], Source]:
    """The references a claim offers as evidence, and the claimant as their source.

    What a claimant says was found (a hash, a technique) is a fact it reports, graded as
    the claimant; the allegation itself (who did it) is never evidence.
    """
    data = claim.get("x_accord_claim")
    data = data if isinstance(data, Mapping) else {}
    refs = [str(r) for r in data.get("evidence") or [] if str(r).strip()]
    grade_text = str(data.get("grade") or "F6")
    try:
        grade = Grade(Grade.parse(grade_text).reliability, 6)
    except ValueError:
        grade = Grade("F", 6)
    claimant_ref = claim.get("x_accord_claimant_ref")
    return refs, Source(
        identity=claimant_ref if isinstance(claimant_ref, str) else None,
        name=str(data.get("claimant") or "claimant"),
        origin=graph.origins.get(str(claim.get("id")), "local"),
        grade=grade,
        ref=str(claim.get("id")),
    )


def analyse(
    graph: KnowledgeGraph,
    incident_id: str,
    params: Parameters = DEFAULT_PARAMETERS,
    *,
    own_identity: str | None = None,
    top: int = 10,
    kb: KbInfo | None = None,
) -> Analysis:
    """Collect, weigh and describe; claim-offered evidence included, claims themselves not."""
    collected = collect(graph, incident_id, params, own_identity=own_identity)
    items = list(collected.items)
    extra_unresolved: list[dict[str, str]] = []
    for claim in collected.claims:
        refs, source = claim_evidence(graph, claim)
        if refs:
            offered = collect(
                graph,
                incident_id,
                params,
                own_identity=own_identity,
                extra_refs=refs,
                extra_source=source,
            )
            known = {item.key for item in items}
            items.extend(i for i in offered.items if i.key not in known or i.sources != [])
            extra_unresolved.extend(offered.unresolved)
    if len(items) != len(collected.items):
        from accord.attribute.evidence import merge

        items = merge(items)
    weighed = [i for i in items if weighable(graph, i)]
    unresolved = list(collected.unresolved) + [
        {"ref": i.ref, "kind": i.kind, "label": i.label, "reason": "no actor is tied to it"}
        for i in items
        if not weighable(graph, i)
    ]
    seen: set[str] = set()
    unique = []
    for entry in [*unresolved, *extra_unresolved]:
        if entry["ref"] not in seen:
            seen.add(entry["ref"])
            unique.append(entry)
    incident = collected.incident
    result = build_result(
        graph,
        incident["id"],
        weighed,
        params,
        incident_name=incident.get("name"),
        kb=kb or kb_info(None, graph),
        unresolved=sorted(unique, key=lambda u: u["ref"]),
        top=top,
    )
    return Analysis(result, graph, collected, compute(graph, weighed, params), weighed)


def attribute_graph(
    graph: KnowledgeGraph,
    incident_id: str,
    params: Parameters = DEFAULT_PARAMETERS,
    *,
    own_identity: str | None = None,
    top: int = 10,
    kb: KbInfo | None = None,
) -> AttributionResult:
    """Attribute an incident held in an in-memory graph (no database)."""
    return analyse(graph, incident_id, params, own_identity=own_identity, top=top, kb=kb).result


def analyse_incident(
    store: Store,
    incident_id: str,
    node_identity_id: str | None,
    *,
    params: Parameters = DEFAULT_PARAMETERS,
    top: int = 10,
    overlay: list[dict[str, Any]] | None = None,
) -> Analysis:
    graph = load_graph(store, focus=[incident_id], overlay=overlay or [], params=params)
    analysis = analyse(
        graph,
        incident_id,
        params,
        own_identity=node_identity_id,
        top=top,
        kb=kb_info(store, graph),
    )
    analysis.result.tlp = str(result_tlp(store, analysis.result, overlay or []))
    return analysis


def attribute_incident(
    store: Store,
    incident_id: str,
    node_identity_id: str | None,
    *,
    params: Parameters = DEFAULT_PARAMETERS,
    top: int = 10,
    save: bool = True,
) -> AttributionResult:
    """Attribute a stored incident; with ``save``, store the result as this node's note."""
    result = analyse_incident(store, incident_id, node_identity_id, params=params, top=top).result
    if save and node_identity_id:
        save_attribution(store, result, node_identity_id)
    return result


def read_bundle(path: Path) -> list[dict[str, Any]]:
    """Every object of a STIX file, validated as the store would, without storing them."""
    ctx = ImportContext(
        identity_id="identity--00000000-0000-4000-8000-000000000000", source_name=""
    )
    objects: list[dict[str, Any]] = []
    try:
        for place, obj in read_stix(path, ctx):
            try:
                check_object(obj)
            except ValueError as exc:
                raise InputError(place, str(exc)) from None
            objects.append(obj)
    except InputError as exc:
        raise exc.at(str(path)) from None
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror or exc}") from None
    return objects


def bundle_incident(objects: list[dict[str, Any]], path: Path) -> str:
    incidents = sorted(o["id"] for o in objects if is_incident(o))
    if not incidents:
        raise InputError(str(path), "holds no incident (or grouping/report of type incident)")
    if len(incidents) > 1:
        raise InputError(
            str(path),
            f"holds {len(incidents)} incidents ({', '.join(incidents)}): import it and "
            "attribute each by id",
        )
    return incidents[0]


def attribute_bundle(
    store: Store,
    path: Path,
    node_identity_id: str | None,
    *,
    params: Parameters = DEFAULT_PARAMETERS,
    top: int = 10,
) -> AttributionResult:
    """Attribute the incident in a bundle laid over the store in memory; nothing is stored."""
    objects = read_bundle(path)
    incident_id = bundle_incident(objects, path)
    return analyse_incident(
        store, incident_id, node_identity_id, params=params, top=top, overlay=objects
    ).result
