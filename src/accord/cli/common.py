"""What every command shares: the node home option, ``--json`` output, error reporting."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console

from accord.model.errors import AccordError
from accord.store.home import NodeHome, default_home

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        help="Node home directory (default: $ACCORD_HOME, else ~/.local/share/accord).",
        show_default=False,
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

F = TypeVar("F", bound=Callable[..., Any])


def resolve_home(home: Path | None) -> Path:
    return home.expanduser() if home is not None else default_home()


def load_home(home: Path | None) -> NodeHome:
    return NodeHome(resolve_home(home))


def print_json(data: Any) -> None:
    sys.stdout.write(
        orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS).decode() + "\n"
    )
    sys.stdout.flush()


def handle_errors(func: F) -> F:
    """Turn expected failures into a one-line message on stderr and exit status 2."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AccordError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", highlight=False, markup=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]
