"""A twin node process shared by the tests of one module, driven through Cell.connect."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dexscrew_sdk.cell import Cell
from tests.conftest import CONFIGS, connected_twin_cell

TWIN_CELL = CONFIGS / "twin_cell.toml"


@pytest.fixture(scope="module")
def cell() -> Iterator[Cell]:
    yield from connected_twin_cell()
