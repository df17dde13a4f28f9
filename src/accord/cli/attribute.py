"""``accord attribute``, ``accord claim add|list`` and ``accord assess``.

Thin wrappers over :mod:`accord.attribute`: they open the node's store, call the API and
render the result as text (rich tables) or, with ``--json``, as the result document.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from accord.attribute.claims import SOURCE_KINDS, add_claim, assess
from accord.attribute.dissent import views
from accord.attribute.html import write_report
from accord.attribute.marking import shown_tlp
from accord.attribute.record import note_id
from accord.attribute.render import assessment_renderables, render_json, result_renderables
from accord.attribute.service import attribute_bundle, attribute_incident
from accord.cli.common import HomeOption, JsonOption, console, handle_errors, load_home, print_json
from accord.model.errors import InputError

TopOption = Annotated[
    int,
    typer.Option("--top", min=1, help="Hypotheses to list (UNKNOWN is always listed)."),
]


def _is_file(target: str) -> bool:
    path = Path(target)
    return not target.startswith(("incident--", "grouping--", "report--")) and path.is_file()


@handle_errors
def attribute_command(
    target: Annotated[
        str, typer.Argument(help="An incident id in the store, or a STIX bundle file.")
    ],
    top: TopOption = 10,
    save: Annotated[
        bool,
        typer.Option(
            "--save/--no-save",
            help="Store the result as this node's note about the incident (store incidents "
            "only; a bundle never changes the store).",
        ),
    ] = True,
    html: Annotated[
        Path | None,
        typer.Option(
            "--html",
            help="Also write the result as a self-contained HTML report, marked with its TLP "
            "(the most restrictive level of what it cites and of the other nodes' views it "
            "shows).",
            dir_okay=False,
        ),
    ] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Rank the actors that could be behind an incident, UNKNOWN included, on its evidence.

    Given a bundle file, its objects are laid over the store in memory and the incident in
    it is attributed; the store is left unchanged.

    Every output shows other nodes' views beside the result, so each is handled at the
    highest of the result's TLP and theirs: the HTML banner, the text title and, in
    ``--json``, ``tlp`` (the stored note keeps the result's own level).
    """
    node = load_home(home)
    with node.open_store() as store:
        if _is_file(target):
            result = attribute_bundle(store, Path(target), node.identity_id, top=top)
            note = None
        else:
            result = attribute_incident(store, target, node.identity_id, top=top, save=save)
            note = note_id(node.identity_id, result.incident) if save else None
        others = [v for v in views(store, [result.incident]) if v.author_id != node.identity_id]
    level = str(shown_tlp(result, [v.tlp for v in others]))
    if html is not None:
        write_report(html, result, others)
    if json_output:
        data: dict[str, Any] = render_json(result)
        data["tlp"] = level  # what is emitted includes the views
        data["dissent"] = [v.as_dict() for v in others]
        data["note"] = note
        data["html"] = str(html) if html is not None else None
        print_json(data)
        return
    for part in result_renderables(result, others, level):
        console.print(part, soft_wrap=False)
    if note:
        console.print(f"stored as {note}", style="dim")
    if html is not None:
        console.print(f"report written to {html} ({level})", style="dim")


claim_app = typer.Typer(help="Public allegations about incidents, recorded with their source.")


@claim_app.command("add")
@handle_errors
def claim_add_command(
    incident: Annotated[str, typer.Option("--incident", help="The incident's STIX id.")],
    actor: Annotated[
        str, typer.Option("--actor", help="The alleged actor: a name, alias or id (or a state).")
    ],
    claimant: Annotated[str, typer.Option("--claimant", help="Who makes the allegation.")],
    source_kind: Annotated[
        str, typer.Option("--source-kind", help=f"One of: {', '.join(SOURCE_KINDS)}.")
    ],
    published: Annotated[
        str, typer.Option("--published", help="Publication date (YYYY-MM-DD or ISO 8601).")
    ],
    url: Annotated[str | None, typer.Option("--url", help="Where it was published.")] = None,
    evidence: Annotated[
        list[str] | None,
        typer.Option(
            "--evidence",
            help="Evidence the claimant offers (id, ATT&CK id or name); repeat or separate "
            "with commas.",
        ),
    ] = None,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Record a public allegation that an actor (or a state) is behind an incident.

    The allegation is stored as a claim (an ``attributed-to`` relationship with its
    claimant and grade), never as evidence.
    """
    if source_kind not in SOURCE_KINDS:
        raise InputError("--source-kind", f"must be one of {', '.join(SOURCE_KINDS)}")
    refs = [r.strip() for item in evidence or [] for r in item.split(",") if r.strip()]
    node = load_home(home)
    with node.open_store() as store:
        claim_id = add_claim(
            store,
            node.identity_id,
            incident=incident,
            actor=actor,
            claimant=claimant,
            source_kind=source_kind,
            published=published,
            url=url,
            evidence=refs,
        )
    if json_output:
        print_json({"id": claim_id})
    else:
        console.print(f"claim recorded: {claim_id}")


@claim_app.command("list")
@handle_errors
def claim_list_command(
    incident: Annotated[str, typer.Argument(help="The incident's STIX id.")],
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """List the allegations recorded about an incident, with their sources and grades."""
    node = load_home(home)
    with node.open_store() as store:
        rows = []
        for src, prop in store.referencing(incident, "source_ref"):
            rel = store.get(src)
            if rel and rel.get("relationship_type") == "attributed-to" and prop == "source_ref":
                data = rel.get("x_accord_claim") or {}
                target = store.get(rel["target_ref"]) or {}
                rows.append(
                    {
                        "id": rel["id"],
                        "actor": target.get("name", rel["target_ref"]),
                        "claimant": data.get("claimant"),
                        "source_kind": data.get("source_kind"),
                        "published": data.get("published"),
                        "grade": data.get("grade"),
                    }
                )
    rows.sort(key=lambda r: (str(r["published"]), r["id"]))
    if json_output:
        print_json({"claims": rows})
        return
    if not rows:
        console.print("no claims recorded about this incident")
    for r in rows:
        console.print(
            f"{r['id']}  {r['actor']}  by {r['claimant']} ({r['source_kind']}, "
            f"{str(r['published'])[:10]}, grade {r['grade']})"
        )


@handle_errors
def assess_command(
    target: Annotated[str, typer.Argument(help="A claim id, or an incident id (all its claims).")],
    save: Annotated[
        bool,
        typer.Option("--save", help="Store each verdict as this node's opinion on the claim."),
    ] = False,
    home: HomeOption = None,
    json_output: JsonOption = False,
) -> None:
    """Judge allegations against the evidence: supported, consistent-but-unproven,
    unsupported or contradicted, with what would be needed to raise each verdict."""
    node = load_home(home)
    with node.open_store() as store:
        assessment = assess(store, target, node.identity_id, save=save)
    data = assessment.to_dict()
    if json_output:
        print_json(data)
        return
    for part in assessment_renderables(data["verdicts"]):
        console.print(part, soft_wrap=False)


def register(app: typer.Typer) -> None:
    app.command("attribute")(attribute_command)
    app.add_typer(claim_app, name="claim")
    app.command("assess")(assess_command)
