"""``accord import`` and ``accord export``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, BinaryIO

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from accord.cli.common import (
    HomeOption,
    JsonOption,
    console,
    err_console,
    handle_errors,
    load_home,
    print_json,
)
from accord.ingest.context import ImportContext
from accord.ingest.detect import FORMATS
from accord.ingest.importer import import_file
from accord.model.errors import AccordError, InputError
from accord.model.timestamps import parse_user_date, to_micros
from accord.model.tlp import TLP
from accord.store.export import count_withheld, select_rows, write_bundle
from accord.store.home import NodeHome


def register(app: typer.Typer) -> None:
    app.command("import")(import_command)
    app.command("export")(export_command)


def _tlp(value: str | None, option: str) -> TLP | None:
    if value is None:
        return None
    try:
        return TLP.parse(value)
    except ValueError as exc:
        raise AccordError(f"{option}: {exc}") from None


@handle_errors
def import_command(
    files: Annotated[list[Path], typer.Argument(help="Files to import.", show_default=False)],
    tlp: Annotated[
        str | None,
        typer.Option(help="TLP for objects that carry no marking (index only; never altered)."),
    ] = None,
    source: Annotated[
        str | None, typer.Option(help="Source name recorded as provenance (default: the path).")
    ] = None,
    fmt: Annotated[
        str, typer.Option("--format", help=f"Input format: {', '.join(FORMATS)}.")
    ] = "auto",
    keep_private: Annotated[
        bool, typer.Option(help="Keep private and reserved IPs found in free text.")
    ] = False,
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """Import STIX 2.1 bundles, MISP events, CSV indicators or free text, atomically per file.

    An invalid file is refused whole, with the place and the reason; the others are stored.
    Re-importing the same file stores nothing new.
    """
    node = load_home(home)
    level = _tlp(tlp, "--tlp")
    reports = []
    failed = 0
    with node.open_store() as store:
        for path in files:
            ctx = ImportContext(
                identity_id=node.identity_id,
                source_name=source or str(path),
                tlp=level,
                keep_private=keep_private,
            )
            size = path.stat().st_size if path.is_file() else 0
            progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=err_console,
                disable=not err_console.is_terminal or size < 1_000_000,
                transient=True,
                # No refresh thread: a large STIX file is prepared in forked worker
                # processes, which the importer allows only in a single-threaded process.
                # The bar is redrawn on each position report instead (every chunk).
                auto_refresh=False,
            )
            with progress:
                task = progress.add_task(path.name, total=size)
                try:
                    report = import_file(
                        store,
                        path,
                        ctx,
                        fmt,
                        on_position=lambda pos, t=task, p=progress: p.update(
                            t, completed=pos, refresh=True
                        ),
                    )
                except InputError as exc:
                    failed += 1
                    reports.append({"file": str(path), "ok": False, "error": str(exc)})
                    if not json:
                        err_console.print(f"[bold red]refused[/] {exc}", highlight=False)
                    continue
            reports.append(report.as_dict())
            if not json:
                data = report.as_dict()
                console.print(
                    f"[green]imported[/] {path} ({report.format}): {data['stored']} stored, "
                    f"{data['duplicates']} already present"
                )
                for hit in report.warninglist_hits[:20]:
                    console.print(
                        f"  [yellow]warninglist[/] {hit.value} ({hit.effect}): "
                        f"{', '.join(hit.lists[:3])}"
                    )
                if len(report.warninglist_hits) > 20:
                    console.print(f"  … {len(report.warninglist_hits) - 20} more warninglist hits")
    if json:
        print_json({"files": reports, "failed": failed})
    if failed:
        raise typer.Exit(2)


@handle_errors
def export_command(
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Bundle file to write (default: stdout).")
    ] = None,
    types: Annotated[
        list[str] | None, typer.Option("--type", help="Only these STIX types (repeatable).")
    ] = None,
    tlp_max: Annotated[
        str | None,
        typer.Option(help="Highest TLP to include (default: the node's export_tlp_max)."),
    ] = None,
    since: Annotated[
        str | None, typer.Option(help="Only objects added to this store after DATE.")
    ] = None,
    all_versions: Annotated[
        bool, typer.Option(help="Every stored version, not just the latest.")
    ] = False,
    peer: Annotated[
        str | None,
        typer.Option(
            help="Export exactly what this peer may receive under its policy: its TLP "
            "ceiling, collections and redaction, signed as it would leave over TAXII."
        ),
    ] = None,
    home: HomeOption = None,
    json: JsonOption = False,
) -> None:
    """Export a STIX 2.1 bundle; nothing above the TLP ceiling ever leaves.

    With --peer, the peer's sharing policy decides instead (RED never leaves).
    """
    node = load_home(home)
    if peer is not None:
        if types or tlp_max or since or all_versions:
            raise AccordError("--peer applies the peer's policy; it takes no other filter")
        _export_for_peer(node, peer, output, json)
        return
    # TLP.CLEAR is 0 and falsy: compare with None, never use `or` on a level.
    ceiling = _tlp(tlp_max, "--tlp-max")
    if ceiling is None:
        ceiling = min(node.config.export_tlp_max, TLP.AMBER_STRICT)
    added_after = None
    if since:
        try:
            added_after = to_micros(parse_user_date(since))
        except ValueError as exc:
            raise AccordError(f"--since: {exc}") from None
    with node.open_store() as store:
        rows = select_rows(
            store,
            tlp_max=ceiling,
            types=types,
            added_after_us=added_after,
            all_versions=all_versions,
        )
        objects = (row.obj for row in rows)
        if output is None:
            result = write_bundle(objects, sys.stdout.buffer, store, ceiling)
            sys.stdout.flush()
        else:
            with _open_output(output) as handle:
                result = write_bundle(objects, handle, store, ceiling)
        result.withheld_above_tlp = count_withheld(store, ceiling, types)
    summary = {"output": str(output) if output else "-", "tlp_max": ceiling.label}
    summary.update(result.as_dict())
    if output is None:
        err_console.print(
            f"exported {result.objects} objects at or below {ceiling}; "
            f"{result.withheld_above_tlp} above it stayed home"
        )
        return
    if json:
        print_json(summary)
        return
    console.print(
        f"exported {result.objects} objects to {output} at or below {ceiling}; "
        f"{result.withheld_above_tlp} objects above it stayed home"
    )


def _export_for_peer(node: NodeHome, peer: str, output: Path | None, json: bool) -> None:
    from accord.share.egress import objects_for_peer

    with node.open_store() as store:
        objects = objects_for_peer(node, store, peer)
        if output is None:
            result = write_bundle(objects, sys.stdout.buffer, store, TLP.AMBER_STRICT)
            sys.stdout.flush()
        else:
            with _open_output(output) as handle:
                result = write_bundle(objects, handle, store, TLP.AMBER_STRICT)
    summary = {"output": str(output) if output else "-", "peer": peer, **result.as_dict()}
    if output is None:
        err_console.print(f"exported {result.objects} objects for peer {peer}")
    elif json:
        print_json(summary)
    else:
        console.print(f"exported {result.objects} objects for peer {peer} to {output}")


def _open_output(output: Path) -> BinaryIO:
    try:
        return output.open("wb")
    except OSError as exc:
        raise AccordError(f"{output}: cannot write: {exc.strerror or exc}") from None
