"""The lazy command table: complete, exact, and actually lazy."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import accord.cli
from accord.cli.main import COMMANDS, area_commands

NOT_AREAS = {"common", "main"}


def test_table_names_exactly_what_each_area_registers() -> None:
    areas = {m.name for m in pkgutil.iter_modules(accord.cli.__path__)} - NOT_AREAS
    assert areas == set(COMMANDS.values())
    for area in sorted(areas):
        registered = set(area_commands(area))
        mapped = {name for name, owner in COMMANDS.items() if owner == area}
        assert registered == mapped, area


def test_running_one_command_imports_only_its_area() -> None:
    probe = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from accord.cli.main import app\n"
        "result = CliRunner().invoke(app, ['hits', '--help'])\n"
        "assert result.exit_code == 0, result.output\n"
        "assert 'Show recorded hits' in result.output\n"
        "loaded = sorted(m for m in ('accord.cli.share', 'accord.cli.attribute', "
        "'accord.cli.quickstart', 'fastapi', 'misp_stix_converter') if m in sys.modules)\n"
        "print(','.join(loaded))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == ""


def test_help_lists_every_command() -> None:
    from typer.testing import CliRunner

    from accord.cli.main import app

    result = CliRunner().invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in COMMANDS:
        assert f" {name} " in result.output


def _leaves(name: str, command: object) -> list[tuple[str, object]]:
    from typer.core import TyperGroup

    if isinstance(command, TyperGroup):
        return [leaf for n, c in command.commands.items() for leaf in _leaves(f"{name} {n}", c)]
    return [(name, command)]


def test_every_command_has_help_and_json_except_the_server() -> None:
    areas = sorted(set(COMMANDS.values()))
    leaves = [leaf for a in areas for n, c in area_commands(a).items() for leaf in _leaves(n, c)]
    assert len(leaves) > 40
    for name, command in leaves:
        assert (command.help or "").strip(), f"{name} has no --help text"
        if name == "serve":  # runs until stopped; prints no result
            continue
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        assert "--json" in options, f"{name} has no --json"


def test_a_confirmation_is_json_under_json(tmp_path) -> None:
    import orjson
    from typer.testing import CliRunner

    from accord.cli.main import app

    home = ["--home", str(tmp_path / "node")]
    runner = CliRunner()
    assert runner.invoke(app, ["init", "--name", "Node A", *home]).exit_code == 0
    added = runner.invoke(app, ["peer", "add", "b", "http://127.0.0.1:9/", "--no-fetch-key", *home])
    assert added.exit_code == 0, added.output
    removed = runner.invoke(app, ["peer", "remove", "b", "--json", *home])
    assert removed.exit_code == 0, removed.output
    assert orjson.loads(removed.stdout) == {"peer": "b", "removed": True}
