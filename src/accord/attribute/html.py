"""The attribution result as one self-contained HTML page, for a reader without accord.

An attribution is often read by people who will never run the tool: a minister's office,
a partner CERT, a journalist's fact-checker. The page carries everything the text and
JSON forms carry (summary, hypotheses, every evidence item with source, grade and weight,
the ACH matrix, next steps, dissenting views, the knowledge-base version and digest), so
the reader can check it step by step, and its TLP level, top and bottom, as TLP 2.0 asks
of any document. That level is the highest of the result's and of every view shown beside
it: the page carries other nodes' explanations verbatim.

Safety: every string from the store (actor names, labels, sources: all of it can come from
a hostile peer) is HTML-escaped, and a Content-Security-Policy allows no network access
and only this module's own inline style and script, by hash (so no inline ``style=``
attributes either: colours are classes, bars are ``<meter>``). The script is progressive
enhancement: choosing a hypothesis shows its evidence for and against and highlights its
ACH column; without it, every hypothesis's evidence is simply listed.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from pathlib import Path

from accord.attribute.dissent import View
from accord.attribute.language import percent
from accord.attribute.marking import shown_tlp
from accord.attribute.result import ATTRIBUTED, AttributionResult, HypothesisResult
from accord.model.errors import InputError
from accord.model.tlp import TLP

_STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 1rem;color:#111}
.tlp{background:#000;font:bold 15px monospace;padding:.3rem .6rem;margin:.6rem 0}
.tlp{display:inline-block}
.tlp.CLEAR{color:#FFFFFF}.tlp.GREEN{color:#33FF00}.tlp.AMBER{color:#FFC000}.tlp.RED{color:#FF2B2B}
h1{font-size:1.4rem;margin:.4rem 0}
h2{font-size:1.1rem;margin:1.4rem 0 .4rem;border-bottom:1px solid #ccc}
.verdict{font-weight:bold;padding:.1rem .4rem;border-radius:3px}
.verdict.attributed{background:#d7f5d7}.verdict.not-attributed{background:#fff0c2}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border:1px solid #ddd;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.hyp{cursor:pointer}tr.hyp.chosen{outline:2px solid #333}
meter{width:8rem;vertical-align:middle}
.ach td{text-align:center}.CC{background:#9ee09e}.C{background:#d7f5d7}.N{color:#999}
.I{background:#f7d0d0}.II{background:#ec9a9a}.ach .lit{outline:2px solid #333}
.for{color:#17612a}.against{color:#9b1c1c}.meta{color:#666;font-size:12px}
details{margin:.3rem 0}code{font-size:12px}
"""

_SCRIPT = """
(function(){
  var rows=document.querySelectorAll('tr.hyp');
  function choose(i){
    rows.forEach(function(r){r.classList.toggle('chosen',r.dataset.index===i);});
    document.querySelectorAll('details.weights').forEach(function(d){
      var on=d.dataset.index===i; d.hidden=!on; d.open=on;});
    document.querySelectorAll('.ach [data-col]').forEach(function(c){
      c.classList.toggle('lit',c.dataset.col===i);});
    document.getElementById('chosen').textContent=
      document.querySelector('tr.hyp[data-index="'+i+'"] .name').textContent;
  }
  rows.forEach(function(r){r.addEventListener('click',function(){choose(r.dataset.index);});});
  if(rows.length){choose(rows[0].dataset.index);}
})();
"""


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


def _csp() -> str:
    """No network, no plugins, no forms: only this module's own style and script."""
    return (
        "default-src 'none'; "
        f"style-src 'sha256-{_digest(_STYLE)}'; "
        f"script-src 'sha256-{_digest(_SCRIPT)}'; "
        "base-uri 'none'; form-action 'none'"
    )


def _tlp_banner(level: TLP) -> str:
    # TLP 2.0 colours, the label on a black background; AMBER+STRICT is amber.
    colour = "AMBER" if level is TLP.AMBER_STRICT else level.name
    return f'<div class="tlp {colour}">{escape(f"TLP:{level.label}")}</div>'


def _name(h: HypothesisResult) -> str:
    return h.name if h.actor_id else "UNKNOWN (an actor not in the knowledge base)"


def _hypotheses(result: AttributionResult) -> str:
    rows = []
    for index, h in enumerate(result.hypotheses):
        rows.append(
            f'<tr class="hyp" data-index="{index}">'
            f"<td class=num>{index + 1}</td>"
            f'<td class="name">{escape(_name(h))}</td>'
            f"<td>{escape(h.external_id or '')}</td>"
            f"<td class=num>{escape(percent(h.probability))} "
            f'<meter min=0 max=1 value="{h.probability:.4f}"></meter></td>'
            f"<td>{escape(h.estimative)}</td><td>{escape(h.confidence)}</td>"
            f"<td>{escape(', '.join(h.aliases))}</td></tr>"
        )
    if result.omitted.count:
        rows.append(
            f"<tr><td></td><td colspan=2>{result.omitted.count} more hypotheses</td>"
            f"<td class=num>{escape(percent(result.omitted.probability))}</td>"
            "<td colspan=3></td></tr>"
        )
    head = (
        "<tr><th>#</th><th>hypothesis</th><th>ATT&amp;CK</th><th>probability</th>"
        "<th>estimative</th><th>confidence</th><th>aliases</th></tr>"
    )
    return f"<table id=hypotheses>{head}{''.join(rows)}</table>"


def _weights(result: AttributionResult) -> str:
    labels = {e.ref: e.label for e in result.evidence}
    blocks = []
    for index, h in enumerate(result.hypotheses):
        items = [
            f'<li class="{side}">{w.weight:+.2f} · {escape(labels.get(w.ref) or w.label or w.ref)}'
            f" <code>{escape(w.ref)}</code></li>"
            for side, weights in (("for", h.evidence_for), ("against", h.evidence_against))
            for w in weights
        ]
        body = "".join(items) or "<li>no evidence weighs for or against it</li>"
        blocks.append(
            f'<details class="weights" data-index="{index}" open>'
            f"<summary>{escape(_name(h))}: evidence for and against (bans, log10)</summary>"
            f"<ul>{body}</ul></details>"
        )
    return "".join(blocks)


def _evidence(result: AttributionResult) -> str:
    head = (
        "<tr><th>kind</th><th>evidence</th><th>source</th><th>grade</th><th>corroborated</th>"
        "<th>spoofable</th><th>diagnosticity</th></tr>"
    )
    rows = [
        f"<tr><td>{escape(e.kind)}</td><td>{escape(e.label)}<br><code>{escape(e.ref)}</code>"
        + (f"<br><span class=meta>implied by {escape(e.implied_by)}</span>" if e.implied_by else "")
        + f"</td><td>{escape(e.source)}</td><td>{escape(e.grade)}</td>"
        f"<td>{'yes' if e.corroborated else 'no'} ({e.independent_sources})</td>"
        f"<td>{'yes' if e.spoofable else 'no'}</td>"
        f"<td class=num>{e.diagnosticity:.2f}</td></tr>"
        for e in result.evidence
    ]
    return f"<table id=evidence>{head}{''.join(rows)}</table>"


def _ach(result: AttributionResult) -> str:
    labels = {e.ref: e.label for e in result.evidence}
    columns = {h.name: i for i, h in enumerate(result.hypotheses)}
    head = "<tr><th>evidence</th>" + "".join(
        f'<th data-col="{columns.get(name, "")}">{escape(name)}</th>'
        for name in result.ach.hypotheses
    )
    rows = [
        f"<tr><td>{escape(labels.get(ref, ref))}</td>"
        + "".join(
            f'<td class="{escape(cell)}" data-col="{columns.get(name, "")}">{escape(cell)}</td>'
            for name, cell in zip(result.ach.hypotheses, cells, strict=True)
        )
        + "</tr>"
        for ref, cells in zip(result.ach.evidence, result.ach.matrix, strict=True)
    ]
    return f'<table class="ach" id=ach>{head}</tr>{"".join(rows)}</table>'


def _list(items: Sequence[str], ordered: bool = False) -> str:
    tag = "ol" if ordered else "ul"
    return f"<{tag}>" + "".join(f"<li>{escape(i)}</li>" for i in items) + f"</{tag}>"


def _views(views: Sequence[View]) -> str:
    head = "<tr><th>author</th><th>kind</th><th>position</th><th>explanation</th></tr>"
    rows = [
        f"<tr><td>{escape(v.author)}</td><td>{escape(v.kind)}</td>"
        f"<td>{escape(v.position)}</td><td>{escape(v.explanation)}</td></tr>"
        for v in views
    ]
    return f"<table id=views>{head}{''.join(rows)}</table>"


def render_html(result: AttributionResult, tlp: TLP, views: Sequence[View] = ()) -> str:
    """The whole page. ``tlp`` is the level of the most restricted material it shows."""
    title = result.incident_name or result.incident
    banner = _tlp_banner(tlp)
    verdict_class = "attributed" if result.verdict == ATTRIBUTED else "not-attributed"
    parts = [
        "<!doctype html><html lang=en><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{_csp()}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(f'TLP:{tlp.label} · Attribution · {title}')}</title>",
        f"<style>{_STYLE}</style></head><body>",
        banner,
        f"<h1>Attribution of “{escape(title)}”</h1>",
        f'<p>Verdict: <span class="verdict {verdict_class}" id=verdict>'
        f"{escape(result.verdict)}</span></p>",
        f"<p id=summary>{escape(result.summary)}</p>",
        "<h2>Hypotheses</h2>",
        _hypotheses(result),
        "<h2>Evidence for and against <span id=chosen></span></h2>",
        _weights(result),
    ]
    if result.evidence:
        parts += ["<h2>Evidence</h2>", _evidence(result)]
        parts += ["<h2>Analysis of competing hypotheses</h2>", _ach(result)]
    if result.unresolved:
        lines = [f"{u.get('label') or u['ref']}: {u['reason']}" for u in result.unresolved]
        parts += ["<h2>Not weighed</h2>", _list(lines)]
    if result.next_steps:
        parts += ["<h2>Next steps</h2>", _list(result.next_steps, ordered=True)]
    if views:
        parts += ["<h2>Views of other nodes and sources (side by side, not averaged)</h2>"]
        parts.append(_views(views))
    kb = result.kb
    parts += [
        f"<p class=meta id=provenance>incident <code>{escape(result.incident)}</code> · "
        f"knowledge base: {kb.actors} actors, {escape(kb.version)} · digest "
        f"<code>{escape(kb.digest)}</code> · method {escape(result.method)}</p>",
        banner,
        f"<script>{_SCRIPT}</script></body></html>",
    ]
    return "\n".join(parts)


def write_report(path: Path, result: AttributionResult, views: Sequence[View] = ()) -> TLP:
    """Write the page and return its level: the highest of the result's TLP and of each
    view's (``View.tlp``, the store's effective TLP of the view object and its author), since
    the page prints them all. A result or view without a level (computed without a store)
    counts as RED, the one level that cannot leak. A path that cannot be written is an
    input error naming it."""
    level = shown_tlp(result, [v.tlp for v in views])
    try:
        path.write_text(render_html(result, level, views), encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot write the report ({exc.strerror})") from exc
    return level
