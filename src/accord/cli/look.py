"""``accord show``, ``accord search`` and ``accord related``: look and pivot."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from accord.cli.common import HomeOption, JsonOption, console, handle_errors, load_home, print_json
from accord.model.errors import AccordError, NotFound
from accord.model.timestamps import format_micros
from accord.store.graph import neighbourhood
from accord.store.search import search_objects, search_value


def register(app: typer.Typer) -> None:
    app.command("show")(show)
    app.command("search")(search)
    app.command("related")(related)


@handle_errors
def show(
    obj_id: Annotated[str, typer.Argument(metavar="ID", help="STIX id of the object.")],
    all_versions: Annotated[bool, typer.Option(help="Show every stored version.")] = False,
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """Show an object with its TLP, provenance and version history."""
    node = load_home(home)
    with node.open_store() as store:
        versions = store.versions(obj_id)
        if not versions:
            raise NotFound(f"{obj_id} is not in this store")
        current = next((v for v in versions if v.is_current), versions[-1])
        shown = versions if all_versions else [current]
        info: dict[str, Any] = {
            "id": obj_id,
            "tlp": current.tlp.label,
            "date_added": format_micros(current.date_added_us),
            "source": {"kind": current.source_kind, "name": current.source_name},
            "versions": len(versions),
            "provenance": [
                {
                    "modified": format_micros(p["modified_us"]) if p["modified_us"] else None,
                    "source_kind": p["source_kind"],
                    "source_name": p["source_name"],
                    "received": format_micros(p["received_us"]),
                }
                for p in store.provenance(obj_id)
            ],
            "object" if not all_versions else "objects": (
                current.obj if not all_versions else [v.obj for v in shown]
            ),
        }
    if json:
        print_json(info)
        return
    console.print(
        f"[bold]{obj_id}[/]  TLP:{info['tlp']}  added {info['date_added']}  "
        f"from {current.source_kind} {current.source_name}  ({len(versions)} version(s))"
    )
    for version in shown:
        console.print_json(version.body)


@handle_errors
def search(
    value: Annotated[
        str | None, typer.Argument(help="An IP, CIDR, domain, URL, email or hash.")
    ] = None,
    type_: Annotated[
        list[str] | None, typer.Option("--type", help="Only objects of this STIX type.")
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="Words that must all appear (names, text).")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many results.")] = 100,
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """Search by observable value (CIDR, parent domains, URL and hash aware), type or text."""
    if value is None and not type_ and not text:
        raise AccordError("give a VALUE, --type or --text")
    node = load_home(home)
    with node.open_store() as store:
        if value is not None:
            try:
                matches = search_value(store, value, limit)
            except ValueError as exc:
                raise AccordError(f"cannot search for {value!r}: {exc}") from None
            if type_:
                matches = [m for m in matches if m.type in type_]
            rows = [m.as_dict() for m in matches]
            names = store.get_many([m["id"] for m in rows])
            for row in rows:
                found = names.get(row["id"])
                row["name"] = found.obj.get("name", "") if found else ""
        else:
            rows = search_objects(
                store, types=type_, words=text.split() if text else None, limit=limit
            )
    if json:
        print_json({"query": value or text or "", "results": rows})
        return
    if not rows:
        console.print("no match")
        return
    table = Table(show_lines=False)
    for column in ("id", "type", "name") + (("kind", "value", "how") if value else ()):
        table.add_column(column)
    for row in rows:
        table.add_row(
            *(str(row.get(c, "")) for c in table.columns and [c.header for c in table.columns])
        )
    console.print(table)


@handle_errors
def related(
    obj_id: Annotated[str, typer.Argument(metavar="ID", help="STIX id to start from.")],
    depth: Annotated[int, typer.Option(help="How many steps to follow.")] = 1,
    limit: Annotated[int, typer.Option(help="At most this many objects.")] = 500,
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """The neighbourhood of an object through relationships and references."""
    if depth < 1:
        raise AccordError("--depth must be at least 1")
    node = load_home(home)
    with node.open_store() as store:
        if store.get_row(obj_id) is None:
            raise NotFound(f"{obj_id} is not in this store")
        result = neighbourhood(store, obj_id, depth, limit)
    if json:
        print_json(result.as_dict())
        return
    table = Table(title=f"within {depth} step(s) of {obj_id}")
    for column in ("distance", "type", "name", "id"):
        table.add_column(column)
    for node_info in result.nodes.values():
        table.add_row(
            str(node_info["distance"]), node_info["type"], node_info["name"], node_info["id"]
        )
    console.print(table)
    for edge in result.edges:
        console.print(f"  {edge.source} --{edge.label}--> {edge.target}")
    if result.truncated:
        console.print(f"[yellow]truncated at {limit} objects[/]")
