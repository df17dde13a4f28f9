"""Fixtures for the sharing tests: node homes on SQLite, open stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from accord.store.home import NodeHome
from accord.store.store import Store
from tests.share.helpers import make_node


@pytest.fixture
def node_a(tmp_path: Path) -> NodeHome:
    return make_node(tmp_path, "Node A", country="RR")


@pytest.fixture
def store_a(node_a: NodeHome) -> Iterator[Store]:
    with node_a.open_store() as store:
        yield store
