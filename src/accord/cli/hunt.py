"""``accord source``, ``accord hunt``, ``accord hits`` and ``accord timeline``.

The hunt machinery (DuckDB, Arrow) is imported inside the commands, so that other commands
do not pay for loading it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

from accord.cli.common import HomeOption, JsonOption, console, handle_errors, load_home, print_json
from accord.model.errors import AccordError
from accord.model.timestamps import parse_user_date, to_micros

source_app = typer.Typer(help="Log sources to retro-hunt.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(source_app, name="source")
    app.command("hunt")(hunt)
    app.command("hits")(hits)
    app.command("timeline")(timeline)


FORMATS = ("auto", "zeek", "zeek-json", "eve", "csv", "jsonl", "parquet", "ocsf")


def _parse_map(items: list[str] | None) -> dict[str, list[str]]:
    from accord.hunt import fields as F

    try:
        return F.parse_map(items or [])
    except ValueError as exc:
        raise AccordError(str(exc)) from None


FormatOption = Annotated[
    str,
    typer.Option("--format", help=f"Log format: {', '.join(FORMATS)} (auto: from content)."),
]
MapOption = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        help="Field mapping for csv/jsonl/parquet: KIND=FIELD[,FIELD] with KIND ip, domain, "
        "url, hash, email or time (repeatable).",
    ),
]
TimezoneOption = Annotated[
    str | None,
    typer.Option("--timezone", help="IANA zone of timestamps written without an offset."),
]


@source_app.command("add")
@handle_errors
def source_add(
    name: Annotated[str, typer.Argument(help="A name for the source, e.g. zeek-dmz.")],
    path: Annotated[str, typer.Argument(help="A file, a directory or a glob (quote it).")],
    fmt: FormatOption = "auto",
    timezone: TimezoneOption = None,
    field_map: MapOption = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Redefine an existing source.")
    ] = False,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a log source for `accord hunt`."""
    from accord.hunt.runner import add_source

    node = load_home(home)
    with node.open_store() as store:
        source = add_source(
            store,
            name,
            path,
            fmt,
            timezone=timezone,
            field_map=_parse_map(field_map) or None,
            replace=replace,
        )
    if as_json:
        print_json(source.as_dict())
    else:
        console.print(f"Log source [bold]{source.name}[/]: {source.path} ({source.format})")


@source_app.command("list")
@handle_errors
def source_list(home: HomeOption = None, as_json: JsonOption = False) -> None:
    """List the registered log sources."""
    from accord.hunt.runner import list_sources

    node = load_home(home)
    with node.open_store() as store:
        sources = list_sources(store)
    if as_json:
        print_json([x.as_dict() for x in sources])
        return
    if not sources:
        console.print("No log source (add one with `accord source add NAME PATH`).")
    for x in sources:
        last = x.as_dict()["last_hunt"] or "never hunted"
        console.print(f"{x.name}: {x.path} ({x.format}) — {last}", highlight=False)


def _progress_bar(enabled: bool) -> Any:
    """A rich progress bar with bytes/s, lines/s and hits; silent when not on a terminal."""
    from accord.hunt.runner import FileReport
    from accord.hunt.runner import Progress as ProgressSink

    class _Bar(ProgressSink):
        def __init__(self, enabled: bool) -> None:
            self.enabled = enabled
            self.progress: Progress | None = None
            self.task: TaskID | None = None
            self.lines = 0
            self.hits = 0
            self.elapsed_start = 0.0

        def start(self, total_bytes: int) -> None:
            if not self.enabled or total_bytes <= 0:
                return
            self.elapsed_start = time.perf_counter()
            self.progress = Progress(
                TextColumn("hunting"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TextColumn("{task.fields[lines_s]} lines/s, {task.fields[hits]} hits"),
                TimeElapsedColumn(),
                console=console,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("hunt", total=total_bytes, lines_s="0", hits=0)

        def file_done(self, report: FileReport) -> None:
            if self.progress is None or self.task is None:
                return
            self.lines += report.lines
            self.hits += report.hits
            elapsed = max(time.perf_counter() - self.elapsed_start, 1e-6)
            self.progress.update(
                self.task,
                advance=report.bytes,
                lines_s=f"{self.lines / elapsed:,.0f}",
                hits=self.hits,
            )

        def stop(self) -> None:
            if self.progress is not None:
                self.progress.stop()

    return _Bar(enabled)


@handle_errors
def hunt(
    paths: Annotated[
        list[str] | None,
        typer.Argument(
            help="Log files, directories, globs or source names (default: all sources)."
        ),
    ] = None,
    fmt: FormatOption = "auto",
    engine: Annotated[str, typer.Option("--engine", help="duckdb (embedded) or spark.")] = "duckdb",
    spark_master: Annotated[
        str, typer.Option("--spark-master", help="Spark master URL for --engine spark.")
    ] = "local[2]",
    stage_dir: Annotated[
        Path | None,
        typer.Option("--stage-dir", help="Spark staging directory shared with the executors."),
    ] = None,
    new: Annotated[
        bool, typer.Option("--new", help="Only indicators added since each file was hunted.")
    ] = False,
    no_warninglists: Annotated[
        bool, typer.Option("--no-warninglists", help="Hunt values on benign-infrastructure lists.")
    ] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Stop at the first bad line.")] = False,
    field_map: MapOption = None,
    timezone: TimezoneOption = None,
    source: Annotated[
        str | None, typer.Option("--source", help="Source name for ad-hoc paths (default adhoc).")
    ] = None,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Retro-hunt logs for every active indicator; record hits and STIX sightings."""
    from accord.hunt.runner import HuntOptions, run_hunt

    node = load_home(home)
    options = HuntOptions(
        fmt=fmt,
        engine=engine,
        spark_master=spark_master,
        stage_dir=stage_dir,
        new=new,
        use_warninglists=not no_warninglists,
        strict=strict,
        field_map=_parse_map(field_map),
        timezone=timezone,
        source_name=source,
        progress=_progress_bar(not as_json and sys.stderr.isatty() and console.is_terminal),
    )
    summary = run_hunt(node, paths or [], options=options)
    if as_json:
        print_json(summary.as_dict())
    else:
        for line in summary.render_text():
            console.print(line, highlight=False, markup=False)


@handle_errors
def hits(
    indicator: Annotated[
        str | None, typer.Option("--indicator", help="Only hits of this indicator id.")
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only hits at or after this date (ISO 8601).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many hits.")] = 1000,
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """Show recorded hits: source, file, line, field, value, time and indicator."""
    from accord.hunt.hits import query_hits

    since_us = None
    if since:
        try:
            since_us = to_micros(parse_user_date(since))
        except ValueError as exc:
            raise AccordError(str(exc)) from None
    node = load_home(home)
    with node.open_store() as store:
        found = query_hits(store, indicator_id=indicator, since_us=since_us, limit=limit)
    if as_json:
        print_json([h.as_dict() for h in found])
        return
    if not found:
        console.print("No hit recorded.")
    for h in found:
        d = h.as_dict()
        console.print(
            f"{d['timestamp'] or '-'}  {d['file']}:{d['line']}  {d['log_type']}.{d['field']}="
            f"{d['observed']}  → {d['indicator']} ({d['kind']} {d['matched']})",
            highlight=False,
            markup=False,
        )


@handle_errors
def timeline(
    incident_id: Annotated[str, typer.Argument(help="The incident's STIX id.")],
    home: HomeOption = None,
    as_json: JsonOption = False,
) -> None:
    """First trace of an incident from sightings, its detection and disclosure, dwell time."""
    from accord.hunt.timeline import build_timeline

    node = load_home(home)
    with node.open_store() as store:
        result = build_timeline(store, incident_id, identity_id=node.identity_id)
    if as_json:
        print_json(result.as_dict())
    else:
        for line in result.render_text():
            console.print(line, highlight=False, markup=False)
