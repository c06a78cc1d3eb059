"""The results a node sends back are checked field by field before the SDK uses them."""

from __future__ import annotations

import math
from typing import Any

import pytest

from dexscrew_sdk import rpc
from dexscrew_sdk.errors import CodecError
from dexscrew_sdk.records import TaskProgress


def _progress(**over: Any) -> dict[str, Any]:
    good = {"turns_done": 0.5, "turns_required": 4.0, "fastened": False, "time_s": 1.0, "task": "nut",
            "shape": "square", "stalled": False, "unseated": False, "seat_torque_nm": 0.0,
            "object_pose": [0.1, 0.2, 0.3, 0.0, 0.0, 0.0]}  # fmt: skip
    return {**good, **over}


def test_a_well_formed_progress_passes_and_builds_a_task_progress() -> None:
    p = TaskProgress(**rpc.check_progress(_progress()))
    assert p.turns_done == 0.5 and p.object_pose == (0.1, 0.2, 0.3, 0.0, 0.0, 0.0)
    assert rpc.check_progress(_progress(object_pose=[]))["object_pose"] == []


@pytest.mark.parametrize(
    ("over", "match"),
    [
        ({"turns_done": math.nan}, "turns_done must be a finite float"),
        ({"turns_done": 1}, "turns_done must be a finite float"),
        ({"fastened": 1}, "fastened must be a bool"),
        ({"task": None}, "task must be a str"),
        ({"object_pose": [0.0] * 5}, "object_pose must be 0 or 6"),
        ({"object_pose": [0.0] * 5 + [math.inf]}, "object_pose must be 0 or 6"),
        ({"extra": 1}, "expected the fields"),
    ],
)
def test_a_malformed_progress_is_refused_naming_the_field(over: dict[str, Any], match: str) -> None:
    with pytest.raises(CodecError, match=match):
        rpc.check_progress(_progress(**over))


def test_a_progress_missing_a_field_is_refused() -> None:
    broken = _progress()
    del broken["stalled"]
    with pytest.raises(CodecError, match="expected the fields"):
        rpc.check_progress(broken)


def test_a_tick_result_carries_sim_time_and_every_worlds_progress() -> None:
    t, progress = rpc.check_tick_result({"sim_time_s": 0.05, "progress": {"world": _progress()}})
    assert t == 0.05 and set(progress) == {"world"}
    assert rpc.check_tick_result({"sim_time_s": 0.0, "progress": {}}) == (0.0, {})


@pytest.mark.parametrize(
    ("result", "match"),
    [
        ({"sim_time_s": 0.05}, "expected the fields"),
        ({"sim_time_s": -1.0, "progress": {}}, "sim_time_s must be"),
        ({"sim_time_s": math.inf, "progress": {}}, "sim_time_s must be"),
        ({"sim_time_s": 1, "progress": {}}, "sim_time_s must be"),
        ({"sim_time_s": 0.1, "progress": []}, "progress must be a map"),
        ({"sim_time_s": 0.1, "progress": {3: _progress()}}, "progress key must be a device name"),
        ({"sim_time_s": 0.1, "progress": {"world": _progress(time_s="1")}}, r"progress\['world'\]: time_s"),
        (None, "expected the fields"),
    ],
)
def test_a_malformed_tick_result_is_refused_naming_the_field(result: Any, match: str) -> None:
    with pytest.raises(CodecError, match=match):
        rpc.check_tick_result(result)
