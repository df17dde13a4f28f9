"""``accord kb update`` and ``accord kb status``: the offline knowledge bases.

ATT&CK and the MISP threat actors come from the galaxies inside ``pymispgalaxies``; the
warninglists come from another capability of the build, called only when it is present.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from accord.cli.common import (
    HomeOption,
    JsonOption,
    console,
    err_console,
    handle_errors,
    load_home,
    print_json,
)
from accord.ingest.kb.status import WARNINGLISTS_MODULE, kb_status, warninglists_updater
from accord.ingest.kb.update import update_actors, update_attack
from accord.store import Store

UNAVAILABLE = (
    "warninglists are unavailable in this build "
    f"({WARNINGLISTS_MODULE} with update_warninglists is not installed)"
)


class KbName(StrEnum):
    attack = "attack"
    actors = "actors"
    warninglists = "warninglists"


kb_app = typer.Typer(
    help="Knowledge bases: MITRE ATT&CK, MISP threat actors and warninglists (offline).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(kb_app, name="kb")


@kb_app.command("update")
@handle_errors
def update_command(
    names: Annotated[
        list[KbName] | None,
        typer.Argument(
            help="Knowledge bases to update: attack, actors, warninglists (default: all).",
            show_default=False,
        ),
    ] = None,
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """Load or refresh knowledge bases from the installed packages, atomically each.

    Re-running with unchanged upstream data stores nothing; an entry changed upstream
    becomes a new version of the same object (same STIX id).
    """
    wanted = list(dict.fromkeys(names or list(KbName)))
    node = load_home(home)
    report: dict[str, Any] = {}
    with node.open_store() as store, _progress(quiet=json) as start:
        if KbName.attack in wanted:
            report["attack"] = update_attack(store, start("ATT&CK")).as_dict()
        if KbName.actors in wanted:
            report["actors"] = update_actors(store, start("MISP threat actors")).as_dict()
        if KbName.warninglists in wanted:
            report["warninglists"] = _update_warninglists(store, start)
    if json:
        print_json(report)
        return
    _print_report(report)


@kb_app.command("status")
@handle_errors
def status_command(home: HomeOption = None, json: JsonOption = False) -> None:
    """Show which knowledge bases are loaded: versions, last update, object counts."""
    node = load_home(home)
    with node.open_store() as store:
        status = kb_status(store)
    if json:
        print_json(status)
        return
    for name in ("attack", "actors"):
        info = status[name]
        if not info["loaded"]:
            console.print(f"[bold]{name}[/]: not loaded (run `accord kb update {name}`)")
            continue
        console.print(
            f"[bold]{name}[/] v{info['version']}, updated {info['updated_at']} "
            f"from {info['source']}",
            highlight=False,
        )
        counts = ", ".join(f"{n} {t}" for t, n in info["objects"].items())
        console.print(f"  {counts}; {info['revoked']} revoked", highlight=False)
    lists = status["warninglists"]
    note = "" if lists["available"] else " (loader unavailable in this build)"
    console.print(
        f"[bold]warninglists[/]: {lists['lists']} lists, {lists['entries']} entries{note}",
        highlight=False,
    )


ProgressStarter = Callable[[str], Callable[[int, int], None]]


@contextmanager
def _progress(*, quiet: bool) -> Iterator[ProgressStarter]:
    """A rich progress display (off when not a terminal); ``start(label)`` adds a bar."""
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        disable=quiet or not err_console.is_terminal,
        transient=True,
    )

    def start(label: str) -> Callable[[int, int], None]:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        return advance

    with progress:
        yield start


def _update_warninglists(store: Store, start: ProgressStarter) -> dict[str, Any]:
    update = warninglists_updater()
    if update is None:
        return {"available": False, "message": UNAVAILABLE}
    advance = start("warninglists")

    def on_list(done: int, total: int, _name: str = "") -> None:
        advance(done, total)

    return {"available": True, **update(store, progress=on_list).as_dict()}


def _print_report(report: dict[str, Any]) -> None:
    for name in ("attack", "actors"):
        data = report.get(name)
        if data is None:
            continue
        by_type = ", ".join(f"{n} {t}" for t, n in data["by_type"].items())
        console.print(
            f"[green]{name}[/] v{data['version']}: {data['objects']} objects ({by_type})",
            highlight=False,
        )
        console.print(
            f"  stored {data['stored']} (new {data['new']}, updated {data['updated']}, "
            f"retired {data['retired']}), unchanged {data['unchanged']}, kept {data['kept']}",
            highlight=False,
        )
    lists = report.get("warninglists")
    if lists is None:
        return
    if not lists.get("available"):
        err_console.print(f"[yellow]note:[/] {lists['message']}", highlight=False)
        return
    scalars = ", ".join(
        f"{key} {value}"
        for key, value in lists.items()
        if key != "available" and isinstance(value, int | float | str)
    )
    console.print(f"[green]warninglists[/]: {scalars}", highlight=False)
