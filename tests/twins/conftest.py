"""A twin node process shared by the tests of one module, driven through Cell.connect."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from dexscrew_sdk.cell import Cell
from dexscrew_sdk.ports import free_base_port
from tests.conftest import CONFIGS, start_node

TWIN_CELL = CONFIGS / "twin_cell.toml"


@pytest.fixture(scope="module")
def cell() -> Iterator[Cell]:
    overrides = [f"nodes.twin.base_port={free_base_port()}"]
    node = start_node(TWIN_CELL, "twin", overrides)
    try:
        with Cell.connect(TWIN_CELL, overrides, connect_timeout_s=30.0) as c:
            yield c
    finally:
        node.kill(signal.SIGTERM)
