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
