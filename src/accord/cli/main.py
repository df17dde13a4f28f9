"""The ``accord`` command: every sub-command is a thin wrapper over a capability package.

Each area of the command line lives in its own module of this package and exposes
``register(app)``; this module only assembles them, in the order ``--help`` lists them.
"""

from __future__ import annotations

import importlib
import importlib.util

import typer

app = typer.Typer(
    name="accord",
    help="A sovereign node for cooperation on cyber incidents: STIX 2.1 store, "
    "TAXII 2.1 sharing by policy, retro-hunting, evidence-based attribution.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

# Command areas, in --help order. A module missing from a build (an optional area) is
# skipped; a module that is present but broken fails loudly on import.
AREAS = (
    "node",
    "ingest",
    "kb",
    "check",
    "look",
    "share",
    "hunt",
    "attribute",
    "quickstart",
)

for _area in AREAS:
    _name = f"accord.cli.{_area}"
    if importlib.util.find_spec(_name) is not None:
        importlib.import_module(_name).register(app)


def main() -> None:
    app()
