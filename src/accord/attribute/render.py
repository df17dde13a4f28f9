"""Renderers of the result document: JSON for machines, rich tables for a person.

They only format; every number comes from the result. The text form shows the same
document as ``--json``: the summary, the ranked hypotheses (with the mass ``--top`` cut),
the evidence with its grades and diagnosticity, the ACH matrix and the next steps.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from io import StringIO
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from accord.attribute.dissent import View
from accord.attribute.language import percent
from accord.attribute.marking import shown_level
from accord.attribute.result import ATTRIBUTED, AttributionResult

_ACH_STYLE = {"CC": "bold green", "C": "green", "N": "dim", "I": "red", "II": "bold red"}


def render_json(result: AttributionResult) -> dict[str, Any]:
    return result.to_dict()


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def hypotheses_table(result: AttributionResult) -> Table:
    table = Table(title="Hypotheses", title_justify="left", expand=False)
    table.add_column("#", justify="right")
    table.add_column("hypothesis")
    table.add_column("ATT&CK")
    table.add_column("p", justify="right")
    table.add_column("estimative")
    table.add_column("confidence")
    table.add_column("aliases", overflow="fold")
    for rank, h in enumerate(result.hypotheses, 1):
        name = h.name if h.actor_id else "UNKNOWN (not in the knowledge base)"
        table.add_row(
            str(rank),
            name,
            h.external_id or "",
            percent(h.probability),
            h.estimative,
            h.confidence,
            _short(", ".join(h.aliases), 60),
        )
    if result.omitted.count:
        table.add_row(
            "",
            f"{result.omitted.count} more hypotheses",
            "",
            percent(result.omitted.probability),
            "",
            "",
            "",
            style="dim",
        )
    return table


def evidence_table(result: AttributionResult) -> Table:
    leader = result.leader
    weights = {w.ref: w.weight for w in (*leader.evidence_for, *leader.evidence_against)}
    table = Table(title="Evidence (weights in bans, log10)", title_justify="left")
    table.add_column("kind")
    table.add_column("evidence", overflow="fold")
    table.add_column("source", overflow="fold")
    table.add_column("grade")
    table.add_column("spoofable")
    table.add_column("diagnosticity", justify="right")
    table.add_column(f"weight for {_short(leader.name, 18)}", justify="right")
    for e in result.evidence:
        table.add_row(
            e.kind,
            _short(e.label, 70),
            _short(e.source, 30),
            e.grade + (" ✓" if e.corroborated else ""),
            "yes" if e.spoofable else "no",
            f"{e.diagnosticity:.2f}",
            f"{weights.get(e.ref, 0.0):+.2f}",
        )
    return table


def ach_table(result: AttributionResult) -> Table:
    labels = {e.ref: e.label for e in result.evidence}
    table = Table(title="Analysis of competing hypotheses", title_justify="left")
    table.add_column("evidence", overflow="fold")
    for name in result.ach.hypotheses:
        table.add_column(_short(name, 14), justify="center")
    for ref, row in zip(result.ach.evidence, result.ach.matrix, strict=True):
        cells = [Text(c, style=_ACH_STYLE.get(c, "")) for c in row]
        table.add_row(_short(labels.get(ref, ref), 50), *cells)
    return table


def views_table(views: Sequence[View]) -> Table:
    table = Table(title="Views of other nodes and sources (side by side, not averaged)")
    table.add_column("author", overflow="fold")
    table.add_column("kind")
    table.add_column("position", overflow="fold")
    table.add_column("explanation", overflow="fold")
    for v in views:
        table.add_row(v.author, v.kind, v.position, _short(v.explanation, 160))
    return table


def result_renderables(
    result: AttributionResult, views: Sequence[View] = (), tlp: str | None = None
) -> list[RenderableType]:
    """The text form. ``tlp`` is the level of the whole rendering (with ``views``, see
    ``marking.shown_tlp``); the result's own by default."""
    style = "green" if result.verdict == ATTRIBUTED else "yellow"
    title = f"{result.incident_name or result.incident}  [{result.verdict}]"
    level = result.tlp if tlp is None else tlp
    if level:
        title = f"{level}  {title}"
    parts: list[RenderableType] = [
        Panel(Text(result.summary), title=title, border_style=style, title_align="left"),
        hypotheses_table(result),
    ]
    if result.evidence:
        parts += [evidence_table(result), ach_table(result)]
    if result.unresolved:
        lines = [f"• {u['label'] or u['ref']}: {u['reason']}" for u in result.unresolved]
        parts.append(Panel(Text("\n".join(lines)), title="Not weighed", title_align="left"))
    if result.next_steps:
        lines = [f"{i}. {step}" for i, step in enumerate(result.next_steps, 1)]
        parts.append(Panel(Text("\n".join(lines)), title="Next steps", title_align="left"))
    if views:
        parts.append(views_table(views))
    kb = result.kb
    parts.append(
        Text(
            f"incident {result.incident} · knowledge base: {kb.actors} actors, {kb.version} · "
            f"digest {kb.digest[:16]} · {result.method}",
            style="dim",
        )
    )
    return parts


def render_text(
    result: AttributionResult,
    views: Sequence[View] = (),
    width: int = 140,
    tlp: str | None = None,
) -> str:
    """The result for a person, as plain text (rich tables without colour codes)."""
    buffer = StringIO()
    console = Console(file=buffer, width=width, force_terminal=False, color_system=None)
    console.print(Group(*result_renderables(result, views, tlp)))
    return buffer.getvalue()


def assessment_renderables(verdicts: Iterable[Mapping[str, Any]]) -> list[RenderableType]:
    """One panel per verdict, titled with the level of what it shows: the verdict's own and
    that of each other node's opinion printed beside it."""
    parts: list[RenderableType] = []
    for v in verdicts:
        opinions = v.get("opinions") or []
        level = shown_level([str(v.get("tlp") or ""), *(str(o.get("tlp") or "") for o in opinions)])
        body = [
            f"claim: {v['claimant']} ({v['source_kind']}) alleges {v['actor']}",
            f"verdict: {v['verdict']} (grade {v['grade']}): {v['reason']}",
        ]
        if v.get("needed"):
            body.append("needed to raise it:")
            body += [f"  • {n}" for n in v["needed"]]
        for o in opinions:
            body.append(f"view of {o['author']}: {o['position']}: {_short(o['explanation'], 160)}")
        style = {"supported": "green", "contradicted": "red"}.get(v["verdict"], "yellow")
        title = f"{level}  {v['claim']}"
        parts.append(
            Panel(Text("\n".join(body)), title=title, border_style=style, title_align="left")
        )
    if not parts:
        parts.append(Text("no claims recorded about this incident"))
    return parts
