"""Fixtures: a store and hunting through the Python API, per engine."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.hunt import HuntSummary, run_hunt
from accord.model.tlp import TLP
from accord.store import Store

from .helpers import NODE


@pytest.fixture
def hstore(tmp_path: Path) -> Iterator[Store]:
    st = Store.open(f"sqlite:///{tmp_path / 'hunt.db'}", TLP.AMBER)
    try:
        yield st
    finally:
        st.close()


@pytest.fixture
def hunt(hstore: Store) -> Callable[..., HuntSummary]:
    def _hunt(*paths: Path | str, **options: Any) -> HuntSummary:
        return run_hunt(hstore, [str(p) for p in paths], identity_id=NODE, **options)

    return _hunt
