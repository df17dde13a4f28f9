"""``accord init`` and ``accord status``: create a node and see what it holds."""

from __future__ import annotations

from typing import Annotated

import typer

from accord.cli.common import (
    HomeOption,
    JsonOption,
    console,
    handle_errors,
    load_home,
    print_json,
    resolve_home,
)
from accord.model.errors import AccordError
from accord.model.tlp import TLP
from accord.store.home import NodeHome


def register(app: typer.Typer) -> None:
    app.command("init")(init)
    app.command("status")(status)


@handle_errors
def init(
    name: Annotated[str, typer.Option("--name", help="Organisation name of this node.")],
    country: Annotated[
        str | None, typer.Option(help="ISO 3166-1 alpha-2 country code of the organisation.")
    ] = None,
    sector: Annotated[
        str | None, typer.Option(help="STIX industry sector, e.g. government.")
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Store URL: default SQLite in the home; or postgresql://user@host/db.",
        ),
    ] = None,
    default_tlp: Annotated[
        str, typer.Option(help="TLP for data that arrives unmarked (not shared by default).")
    ] = "amber",
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """Create a node: its home, STIX identity, Ed25519 key pair and store."""
    try:
        level = TLP.parse(default_tlp)
    except ValueError as exc:
        raise AccordError(str(exc)) from None
    node = NodeHome.init(
        resolve_home(home),
        name,
        country=country,
        sector=sector,
        database_url=database_url,
        default_tlp=level,
    )
    info = {
        "home": str(node.path),
        "name": node.config.name,
        "identity": node.identity_id,
        "key_id": node.identity["x_accord_key_id"],
        "database": _redact_url(node.config.database_url),
    }
    if json:
        print_json(info)
        return
    console.print(f"Created node [bold]{name}[/] in {node.path}")
    console.print(f"  identity  {info['identity']}")
    console.print(f"  key id    {info['key_id']}")
    console.print(f"  database  {info['database']}")


@handle_errors
def status(home: HomeOption = None, json: JsonOption = False) -> None:
    """Show this node's identity, store and object counts."""
    node = load_home(home)
    with node.open_store() as store:
        counts = store.count_by_type()
        info = {
            "home": str(node.path),
            "name": node.config.name,
            "identity": node.identity_id,
            "database": _redact_url(node.config.database_url),
            "default_tlp": node.config.default_tlp.label,
            "objects": sum(counts.values()),
            "versions": store.count_versions(),
            "by_type": counts,
            "kb": {
                key: store.get_meta(f"kb.{key}.version")
                for key in ("attack", "actors", "warninglists")
            },
        }
    if json:
        print_json(info)
        return
    console.print(f"[bold]{info['name']}[/] ({info['identity']})")
    console.print(f"  home {info['home']}  database {info['database']}")
    console.print(f"  {info['objects']} objects, {info['versions']} versions")
    for obj_type, count in counts.items():
        console.print(f"    {obj_type:<24} {count:>8}")


def _redact_url(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
