"""The ``accord`` command: every sub-command is a thin wrapper over a capability package."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="accord",
    help="A sovereign node for cooperation on cyber incidents: STIX 2.1 store, "
    "TAXII 2.1 sharing by policy, retro-hunting, evidence-based attribution.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def main() -> None:
    app()
