"""``accord check``: is a value on a MISP warninglist, and does that hide it or annotate it?"""

from __future__ import annotations

from typing import Annotated

import typer

from accord.cli.common import (
    HomeOption,
    JsonOption,
    console,
    err_console,
    handle_errors,
    load_home,
    print_json,
)
from accord.ingest.warninglists import CheckResult, check_values, loaded_list_count

NOT_LOADED_HINT = (
    "no warninglists are loaded in this node yet: run `accord kb update warninglists` "
    "(offline, about a minute)"
)


def register(app: typer.Typer) -> None:
    app.command("check")(check)


@handle_errors
def check(
    values: Annotated[
        list[str],
        typer.Argument(
            metavar="VALUE...",
            help="IPs, networks, domains, URLs, email addresses or hashes to check.",
            show_default=False,
        ),
    ],
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """Tell which MISP warninglists name each value.

    A list that *suppresses* marks benign infrastructure or special-use values (private
    ranges, CDNs, public resolvers, the top 10,000 sites, benign hashes): imports and
    retro-hunts may drop such a value. A list that *annotates* only adds context (top-1M
    popularity, VPN ranges, dynamic DNS…). Exit status 1 when a value cannot be read as an
    observable.
    """
    node = load_home(home)
    with node.open_store() as store:
        loaded = loaded_list_count(store)
        results = check_values(store, values)
    invalid = any(r.error for r in results)
    if json:
        report: dict[str, object] = {
            "warninglists_loaded": loaded,
            "results": [r.as_dict() for r in results],
        }
        if not loaded:
            report["hint"] = NOT_LOADED_HINT
        print_json(report)
    else:
        if not loaded:
            err_console.print(f"[yellow]note:[/] {NOT_LOADED_HINT}", highlight=False)
        for result in results:
            _print_result(result)
    if invalid:
        raise typer.Exit(1)


def _print_result(result: CheckResult) -> None:
    if result.observable is None:
        err_console.print(f"[bold red]error:[/] {result.error}", highlight=False)
        return
    obs = result.observable
    verdict = "[bold red]suppressed[/]" if result.suppressed else ""
    console.print(f"[bold]{result.value}[/]  {obs.kind} {obs.value}  {verdict}", highlight=False)
    if not result.matches:
        console.print("  on no warninglist", highlight=False)
        return
    for m in result.matches:
        style = "red" if m.effect == "suppress" else "yellow"
        via = f" ({m.matched_on} {m.entry})" if m.matched_on != "value" else ""
        note = f" — {m.note}" if m.note else ""
        console.print(f"  [{style}]{m.effect:<8}[/] {m.name}{via}{note}", highlight=False)
