"""``accord init`` and ``accord status``."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from accord.cli.main import app
from accord.model.tlp import TLP
from accord.store.home import NodeHome
from tests.store.stix_helpers import bundle, malware, validation_errors

runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return runner.invoke(app, list(args), env=env)


def squeeze(text: str) -> str:
    """Text without any whitespace: rich folds long lines (see test_errors_are_one_line)."""
    return "".join(text.split())


def assert_error(result: Result, text: str, prefix: str = "error: ") -> None:
    """Exit status 2, a message naming ``text`` on stderr, and no traceback."""
    assert result.exit_code == 2, (result.stdout, result.stderr, result.exception)
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith(prefix)
    assert squeeze(text) in squeeze(result.stderr)


def test_init_creates_a_node(tmp_path: Path) -> None:
    home = tmp_path / "cert"
    result = run(
        "init", "--name", "Ruritania CERT", "--country", "rr", "--sector", "government",
        "--home", str(home), "--json",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    assert set(info) == {"home", "name", "identity", "key_id", "database"}
    assert info["name"] == "Ruritania CERT"
    assert info["database"] == f"sqlite:///{(home / 'accord.db').resolve()}"
    assert (home / "config.toml").is_file() and (home / "accord.db").is_file()
    key = home / "keys" / "node.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes()
    assert b"PUBLIC KEY" in (home / "keys" / "node.pub").read_bytes()

    node = NodeHome(home)
    identity = node.identity
    assert identity["id"] == info["identity"] == node.identity_id
    assert identity["created_by_ref"] == identity["id"]
    assert identity["name"] == "Ruritania CERT"
    assert identity["sectors"] == ["government"]
    assert identity["x_accord_country"] == "RR"
    assert identity["x_accord_key_id"] == info["key_id"]
    assert validation_errors(bundle([identity])) == []
    assert node.config.default_tlp is TLP.AMBER
    with node.open_store() as store:
        row = store.get_row(identity["id"])
        assert row is not None and row.obj == identity and row.tlp is TLP.CLEAR


def test_init_text_output(tmp_path: Path) -> None:
    result = run("init", "--name", "Ruritania CERT", "--home", str(tmp_path / "n"))
    assert result.exit_code == 0
    assert "Created node Ruritania CERT" in result.stdout
    assert "identity  identity--" in result.stdout


def test_init_refuses_to_overwrite_an_existing_node(node_home: NodeHome) -> None:
    before = node_home.identity
    key = (node_home.path / "keys" / "node.key").read_bytes()
    result = run("init", "--name", "Usurper", "--home", str(node_home.path))
    assert_error(result, f"{node_home.path} already holds an accord node; choose another --home")
    assert NodeHome(node_home.path).identity == before
    assert (node_home.path / "keys" / "node.key").read_bytes() == key


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--country", "Ruritania"], "--country must be an ISO 3166-1 alpha-2 code"),
        (["--country", "R1"], "--country must be an ISO 3166-1 alpha-2 code"),
        (["--default-tlp", "purple"], "unknown TLP level 'purple'"),
    ],
)
def test_init_rejects_bad_options(tmp_path: Path, args: list[str], message: str) -> None:
    home = tmp_path / "n"
    assert_error(run("init", "--name", "X", "--home", str(home), *args), message)
    assert not (home / "config.toml").exists()


def test_home_from_environment(tmp_path: Path) -> None:
    home = tmp_path / "from-env"
    env = {"ACCORD_HOME": str(home)}
    assert run("init", "--name", "Env CERT", env=env).exit_code == 0
    result = run("status", "--json", env=env)
    assert result.exit_code == 0
    assert json.loads(result.stdout)["home"] == str(home)


def test_status_json(node_home: NodeHome, tmp_path: Path) -> None:
    result = run("status", "--home", str(node_home.path), "--json")
    assert result.exit_code == 0
    info = json.loads(result.stdout)
    assert set(info) == {
        "home", "name", "identity", "database", "default_tlp", "objects", "versions",
        "by_type", "kb",
    }  # fmt: skip
    assert info["name"] == "Test CERT"
    assert info["identity"] == node_home.identity_id
    assert info["default_tlp"] == "AMBER"
    assert (info["objects"], info["versions"], info["by_type"]) == (1, 1, {"identity": 1})
    assert set(info["kb"]) == {"attack", "actors", "warninglists"}

    v1 = malware()
    v2 = {**v1, "modified": "2025-02-01T00:00:00Z"}
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle([v1, v2])))
    assert run("import", "--home", str(node_home.path), str(path)).exit_code == 0
    info = json.loads(run("status", "--home", str(node_home.path), "--json").stdout)
    assert (info["objects"], info["versions"]) == (2, 3)
    assert info["by_type"] == {"identity": 1, "malware": 1}


def test_status_text(node_home: NodeHome) -> None:
    result = run("status", "--home", str(node_home.path))
    assert result.exit_code == 0
    assert "Test CERT" in result.stdout and "1 objects, 1 versions" in result.stdout


def test_commands_outside_a_node_fail_cleanly(tmp_path: Path) -> None:
    for command in (["status"], ["show", "malware--x"], ["export"], ["search", "1.2.3.4"]):
        result = run(*command, "--home", str(tmp_path / "nowhere"))
        assert_error(result, f"no accord node at {tmp_path / 'nowhere'}")


def test_node_default_tlp_applies_to_unmarked_imports(tmp_path: Path) -> None:
    home = tmp_path / "green"
    assert run("init", "--name", "G", "--default-tlp", "green", "--home", str(home)).exit_code == 0
    obj = malware()
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle([obj])))
    assert run("import", "--home", str(home), str(path)).exit_code == 0
    node = NodeHome(home)
    assert node.config.default_tlp is TLP.GREEN
    with node.open_store() as store:
        assert store.get_row(obj["id"]).tlp is TLP.GREEN  # type: ignore[union-attr]


@pytest.mark.postgres
def test_node_on_postgresql(tmp_path: Path, pg_url: str) -> None:
    home = tmp_path / "pg"
    url = pg_url.replace("postgresql+psycopg://", "postgresql://")
    result = run("init", "--name", "PG CERT", "--database-url", url, "--home", str(home), "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["database"].startswith("postgresql://postgres@")
    obj = malware()
    path = tmp_path / "b.json"
    path.write_text(json.dumps(bundle([obj])))
    assert run("import", "--home", str(home), str(path)).exit_code == 0
    info = json.loads(run("status", "--home", str(home), "--json").stdout)
    assert info["by_type"] == {"identity": 1, "malware": 1}
    shown = json.loads(run("show", obj["id"], "--home", str(home), "--json").stdout)
    assert shown["object"] == obj


def test_errors_are_one_line(tmp_path: Path) -> None:
    home = tmp_path / ("a-rather-long-directory-name-for-a-node-home" * 2)
    result = run("status", "--home", str(home))
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr


def test_init_with_an_unreachable_database(tmp_path: Path) -> None:
    home = tmp_path / "n"
    bad = "postgresql://postgres@127.0.0.1:1/nowhere"
    result = run("init", "--name", "X", "--database-url", bad, "--home", str(home))
    assert_error(result, "127.0.0.1")
    assert run("init", "--name", "X", "--home", str(home)).exit_code == 0
