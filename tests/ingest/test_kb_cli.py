"""``accord kb update`` and ``accord kb status`` on a node home."""

from __future__ import annotations

import json
from typing import Any

import pytest
from typer.testing import CliRunner

from accord.cli import kb as kb_cli
from accord.cli.main import app
from accord.store import Store
from accord.store.home import NodeHome

runner = CliRunner()


def run(*args: str) -> Any:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


def test_update_actors_then_status(node_home: NodeHome) -> None:
    home = str(node_home.path)
    first = json.loads(run("kb", "update", "actors", "--home", home, "--json").stdout)
    assert set(first) == {"actors"}
    assert first["actors"]["stored"] >= 800
    assert first["actors"]["by_type"]["intrusion-set"] >= 800

    again = run("kb", "update", "actors", "--home", home).output
    assert "stored 0 " in again
    assert "actors v" in again

    status = json.loads(run("kb", "status", "--home", home, "--json").stdout)
    assert status["actors"]["loaded"] is True
    assert status["actors"]["version"] == first["actors"]["version"]
    assert status["actors"]["objects"]["intrusion-set"] >= 800
    assert status["attack"]["loaded"] is False
    text = run("kb", "status", "--home", home).output
    assert "attack: not loaded" in text


def test_warninglists_unavailable_is_reported(
    node_home: NodeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kb_cli, "warninglists_updater", lambda: None)
    home = str(node_home.path)
    data = json.loads(run("kb", "update", "warninglists", "--home", home, "--json").stdout)
    assert data == {"warninglists": {"available": False, "message": kb_cli.UNAVAILABLE}}
    text = run("kb", "update", "warninglists", "--home", home).output
    assert "unavailable in this build" in text


def test_warninglists_loader_is_called_when_present(
    node_home: NodeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Store] = []

    class Done:
        def as_dict(self) -> dict[str, Any]:
            return {"lists_loaded": 3, "entries_stored": 42}

    def fake_update(store: Store, progress: Any = None) -> Done:
        calls.append(store)
        if progress is not None:
            progress(1, 1, "")
        return Done()

    monkeypatch.setattr(kb_cli, "warninglists_updater", lambda: fake_update)
    home = str(node_home.path)
    data = json.loads(run("kb", "update", "warninglists", "--home", home, "--json").stdout)
    assert data["warninglists"] == {"available": True, "lists_loaded": 3, "entries_stored": 42}
    assert len(calls) == 1


def test_unknown_knowledge_base_is_refused(node_home: NodeHome) -> None:
    result = runner.invoke(app, ["kb", "update", "mitre", "--home", str(node_home.path)])
    assert result.exit_code == 2
    assert "mitre" in result.output


def test_missing_home_is_a_clear_error(tmp_path: Any) -> None:
    result = runner.invoke(app, ["kb", "status", "--home", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no accord node" in result.output
