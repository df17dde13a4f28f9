"""The ``accord`` command: every sub-command is a thin wrapper over a capability package.

Each area of the command line lives in its own module of this package and exposes
``register(app)``. This module only knows which area provides which command, and imports
an area when one of its commands is run: ``accord hunt`` then pays for DuckDB but not
for FastAPI, MISP or the ATT&CK loaders, and starts in a fraction of the time that
importing every area eagerly took (seconds). ``--help`` still lists every command, by
importing all areas. ``tests/cli/test_main.py`` checks that the table below matches what
the areas register, so it cannot drift.
"""

from __future__ import annotations

import importlib

import typer
from typer.core import TyperCommand, TyperGroup

Command = TyperCommand | TyperGroup

# Command name -> area module, in --help order.
COMMANDS: dict[str, str] = {
    "init": "node",
    "status": "node",
    "import": "ingest",
    "export": "ingest",
    "check": "check",
    "show": "look",
    "search": "look",
    "related": "look",
    "serve": "share",
    "sync": "share",
    "push": "share",
    "verify": "share",
    "hunt": "hunt",
    "hits": "hunt",
    "timeline": "hunt",
    "attribute": "attribute",
    "assess": "attribute",
    "quickstart": "quickstart",
    "kb": "kb",
    "user": "share",
    "token": "share",
    "collection": "share",
    "peer": "share",
    "policy": "share",
    "key": "share",
    "quarantine": "share",
    "share": "share",
    "source": "hunt",
    "claim": "attribute",
}


def area_commands(area: str) -> dict[str, Command]:
    """Import one area and return the click commands it registers, by name."""
    sub = typer.Typer()

    @sub.callback()
    def _group() -> None:
        """Forces a group, so that an area with one command keeps its name."""

    importlib.import_module(f"accord.cli.{area}").register(sub)
    group = typer.main.get_command(sub)
    assert isinstance(group, TyperGroup)
    return dict(group.commands)


class LazyAreas(TyperGroup):
    """A group that imports an area only when one of its commands is looked up."""

    def list_commands(self, ctx: typer.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            for name, command in area_commands(COMMANDS[cmd_name]).items():
                self.commands.setdefault(name, command)
        return self.commands.get(cmd_name)


app = typer.Typer(
    name="accord",
    cls=LazyAreas,
    help="A sovereign node for cooperation on cyber incidents: STIX 2.1 store, "
    "TAXII 2.1 sharing by policy, retro-hunting, evidence-based attribution.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """A sovereign node for cooperation on cyber incidents."""


def main() -> None:
    app()
