"""``accord quickstart``: the example case end to end, on the embedded default (SQLite).

The quickstart is the composition root of the capabilities: it creates the two example
nodes (CSRO and its partner CERT), loads the knowledge bases offline, imports the case,
shares the partner's GREEN intelligence over TAXII, retro-hunts CSRO's logs, attributes the
incident and assesses the press allegation. Each step prints what it did; ``--json`` prints
one document with every step's figures.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer

from accord import examples
from accord.attribute import add_claim, assess, attribute_incident, render_json, render_text
from accord.attribute.dissent import views
from accord.attribute.html import write_report
from accord.cli.common import JsonOption, console, handle_errors, print_json
from accord.hunt import build_timeline, run_hunt, write_example_logs
from accord.ingest.context import ImportContext
from accord.ingest.importer import import_file
from accord.ingest.kb import update_actors, update_attack
from accord.ingest.warninglists import update_warninglists
from accord.model.errors import AccordError
from accord.model.stix import display_name
from accord.model.tlp import TLP
from accord.share.demo import share_between
from accord.store.home import NodeHome


def register(app: typer.Typer) -> None:
    app.command("quickstart")(quickstart)


@dataclass
class Step:
    name: str
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)


@dataclass
class Quickstart:
    home: Path
    steps: list[Step] = field(default_factory=list)

    @contextmanager
    def step(self, name: str, quiet: bool):
        current = Step(name)
        if not quiet:
            console.rule(f"[bold]{name}")
        started = time.perf_counter()
        yield current
        current.seconds = round(time.perf_counter() - started, 2)
        self.steps.append(current)
        if not quiet:
            for line in current.lines:
                console.print(line, highlight=False)

    def as_dict(self) -> dict[str, Any]:
        return {
            "home": str(self.home),
            "steps": [{"step": s.name, "seconds": s.seconds, **s.facts} for s in self.steps],
        }


def _init_nodes(run: Quickstart, quiet: bool) -> tuple[NodeHome, NodeHome]:
    with run.step("1. Two sovereign nodes", quiet) as step:
        csro = NodeHome.init(
            run.home / "csro",
            examples.CSRO_NAME,
            country="RR",
            sector="government",
            identity_id=examples.CSRO_IDENTITY_ID,
        )
        partner = NodeHome.init(
            run.home / "partner",
            examples.PARTNER_NAME,
            country="VD",
            sector="government",
            identity_id=examples.PARTNER_IDENTITY_ID,
        )
        for node in (csro, partner):
            step.lines.append(
                f"node [bold]{node.config.name}[/]: {node.identity_id}, "
                f"key {node.identity['x_accord_key_id'][:16]}…, store {node.path / 'accord.db'}"
            )
        step.facts["nodes"] = {
            "csro": {"home": str(csro.path), "identity": csro.identity_id},
            "partner": {"home": str(partner.path), "identity": partner.identity_id},
        }
    return csro, partner


def _load_kbs(run: Quickstart, csro: NodeHome, quiet: bool) -> None:
    with run.step("2. Knowledge bases, offline", quiet) as step, csro.open_store() as store:
        attack = update_attack(store)
        actors = update_actors(store)
        lists = update_warninglists(store)
        counts = store.count_by_type()
        step.facts.update(
            attack=attack.as_dict(), actors=actors.as_dict(), warninglists=lists.as_dict()
        )
        step.lines.append(
            f"MITRE ATT&CK {attack.version}: {counts.get('attack-pattern', 0)} techniques, "
            f"{counts.get('malware', 0) + counts.get('tool', 0)} software, "
            f"{counts.get('intrusion-set', 0)} intrusion sets with the MISP catalogue "
            f"({actors.version})"
        )
        data = lists.as_dict()
        step.lines.append(
            f"warninglists: {data.get('lists', data.get('lists_total', '?'))} lists loaded"
        )


def _import_case(run: Quickstart, csro: NodeHome, partner: NodeHome, quiet: bool) -> None:
    with run.step("3. Each node imports what it holds", quiet) as step:
        for node, bundle in ((csro, examples.CSRO_BUNDLE), (partner, examples.PARTNER_BUNDLE)):
            with node.open_store() as store:
                ctx = ImportContext(identity_id=node.identity_id, source_name=bundle.name)
                report = import_file(store, bundle, ctx, "stix")
            step.facts[bundle.stem] = report.as_dict()
            step.lines.append(
                f"{node.config.name}: imported {report.result.stored} objects from {bundle.name}"
            )


def _share(run: Quickstart, csro: NodeHome, partner: NodeHome, quiet: bool) -> None:
    with run.step("4. The partner shares GREEN intelligence over TAXII 2.1", quiet) as step:
        demo = share_between(partner, csro, examples.PARTNER_BUNDLE, tlp_max=TLP.GREEN)
        step.facts.update(demo.as_dict())
        arrived = Counter(item["tlp"] for item in demo.arrived)
        step.lines.append(
            f"policy for CSRO: TLP ≤ GREEN on collection {demo.collection_id}; "
            f"{len(demo.arrived)} objects arrived, signed and verified "
            f"({', '.join(f'{n} {level}' for level, n in sorted(arrived.items()))})"
        )
        names = _labels(partner, [item["id"] for item in demo.stayed_home])
        for item in sorted(demo.stayed_home, key=lambda i: (i["tlp"], i["type"])):
            if item["type"] == "marking-definition":
                continue
            step.lines.append(
                f"  stayed home: TLP:{item['tlp']:<6} {item['type']:<12} {names[item['id']]}"
            )


def _hunt(run: Quickstart, csro: NodeHome, quiet: bool) -> None:
    with run.step("5. CSRO retro-hunts its logs with the new indicators", quiet) as step:
        logs = write_example_logs(csro.path / "logs")
        summary = run_hunt(csro, [csro.path / "logs"])
        with csro.open_store() as store:
            timeline = build_timeline(store, examples.INCIDENT_ID, identity_id=csro.identity_id)
        step.facts.update(
            logs=[str(p) for p in logs], hunt=summary.as_dict(), timeline=timeline.as_dict()
        )
        step.lines.extend(_lines(summary.render_text()))
        step.lines.extend(_lines(timeline.render_text()))


def _attribute(run: Quickstart, csro: NodeHome, quiet: bool, report: Path | None) -> None:
    with run.step("6. Attribution on the evidence", quiet) as step, csro.open_store() as store:
        result = attribute_incident(store, examples.INCIDENT_ID, csro.identity_id, top=5)
        step.facts["attribution"] = render_json(result)
        step.lines.extend(_lines(render_text(result)))
        if report is not None:
            others = [v for v in views(store, [result.incident]) if v.author_id != csro.identity_id]
            write_report(report, result, others)
            step.facts["report"] = str(report)
            step.lines.append(f"HTML report ({result.tlp}): {report}")


def _allegation(run: Quickstart, csro: NodeHome, quiet: bool) -> None:
    with run.step("7. The press allegation, and the denial", quiet) as step:
        with csro.open_store() as store:
            claim_id = add_claim(
                store,
                csro.identity_id,
                incident=examples.INCIDENT_ID,
                actor=examples.ALLEGED_STATE,
                claimant="The Ruritanian Courier, citing anonymous officials",
                source_kind="anonymous-official",
                published="2026-05-06",
            )
            store.put_objects(_denial(claim_id), "file", "freedonia-mfa-statement")
            assessment = assess(store, claim_id, csro.identity_id)
        step.facts.update(claim=claim_id, assessment=assessment.to_dict())
        for verdict in assessment.verdicts:
            step.lines.append(
                f'"{verdict.actor} did it", {verdict.claimant} (grade {verdict.grade}): '
                f"[bold]{verdict.verdict}[/] — {verdict.reason}"
            )
            step.lines.extend(f"  needed: {need}" for need in verdict.needed[:4])
            for opinion in verdict.opinions:
                step.lines.append(
                    f"  beside it, not averaged in — {opinion.get('author')}: "
                    f"{opinion.get('position')}: {opinion.get('explanation', '')}"
                )


def _denial(claim_id: str) -> list[dict[str, Any]]:
    """Freedonia's denial: an opinion by its foreign ministry on the claim (fictional)."""
    ministry = "identity--5b0c1f9e-6f0a-4d53-9a53-2f4b8c1d7e21"
    stamp = "2026-05-07T10:00:00.000Z"
    return [
        {
            "type": "identity",
            "spec_version": "2.1",
            "id": ministry,
            "created_by_ref": ministry,
            "created": stamp,
            "modified": stamp,
            "name": f"{examples.ALLEGED_STATE} Ministry of Foreign Affairs",
            "identity_class": "organization",
        },
        {
            "type": "opinion",
            "spec_version": "2.1",
            "id": "opinion--0d7a4a5e-1c2b-4f3e-9a8d-6b5c4e3f2a1b",
            "created_by_ref": ministry,
            "created": stamp,
            "modified": stamp,
            "opinion": "strongly-disagree",
            "explanation": "A groundless charge: Freedonia is itself a victim of cyber attacks "
            "and proposes a joint investigation.",
            "object_refs": [claim_id],
        },
    ]


def _lines(rendered: str | list[str]) -> list[str]:
    """Renderers return text or a list of lines; the quickstart prints lines."""
    return rendered.splitlines() if isinstance(rendered, str) else list(rendered)


def _labels(node: NodeHome, ids: list[str]) -> dict[str, str]:
    """A short label per object, for the quickstart's listings."""
    with node.open_store() as store:
        rows = store.get_many(ids)
    labels = {}
    for obj_id in ids:
        obj = rows[obj_id].obj if obj_id in rows else {}
        labels[obj_id] = obj.get("abstract") or display_name(obj)
    return labels


@handle_errors
def quickstart(
    home: Annotated[
        Path | None,
        typer.Option(
            "--home",
            help="Directory for the example nodes (kept). Default: a temporary directory, "
            "removed at the end.",
        ),
    ] = None,
    json: JsonOption = False,
) -> None:
    """Run the example case end to end: nodes, knowledge bases, sharing, hunt, attribution."""
    keep = home is not None
    base = Path(home) if home is not None else Path(tempfile.mkdtemp(prefix="accord-quickstart-"))
    if keep and base.exists() and any(base.iterdir()):
        raise AccordError(f"{base} is not empty; give a new directory to --home")
    run = Quickstart(base)
    try:
        csro, partner = _init_nodes(run, json)
        _load_kbs(run, csro, json)
        _import_case(run, csro, partner, json)
        _share(run, csro, partner, json)
        _hunt(run, csro, json)
        _attribute(run, csro, json, base / "attribution-report.html" if keep else None)
        _allegation(run, csro, json)
    finally:
        if not keep:
            shutil.rmtree(base, ignore_errors=True)
    if json:
        print_json(run.as_dict())
    else:
        console.rule()
        where = f"the nodes are in {base}" if keep else "the temporary nodes were removed"
        console.print(f"Quickstart complete; {where}.")
