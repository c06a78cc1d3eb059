"""skill.json is checked field by field: the wrong type or an absurd range names the field, never torch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dexscrew_sdk import resources
from dexscrew_sdk.errors import SkillError
from dexscrew_sdk.skills.policy import read_metadata

SHIPPED = resources.shipped_skill("nut")


def _with(tmp_path: Path, edit: Any) -> Path:
    meta = json.loads((SHIPPED / "skill.json").read_text())
    edit(meta)
    path = tmp_path / "skill.json"
    path.write_text(json.dumps(meta))
    return path


def test_the_shipped_skill_metadata_reads_as_it_is() -> None:
    meta, perm = read_metadata(SHIPPED / "skill.json", SHIPPED / "skill.pt")
    assert meta.hist_len == 30 and meta.control_hz == 20.0 and sorted(perm) == list(range(12))


@pytest.mark.parametrize(
    "key, value, needle",
    [
        ("control_hz", "20", r"skill\.json\.control_hz must be a number, got '20'"),
        ("control_hz", 0, r"control_hz must be in \(0, 1000\], got 0"),
        ("action_scale", -0.04, r"action_scale must be in \(0, 1\] rad, got -0\.04"),
        ("action_scale", None, r"skill\.json\.action_scale must be a number, got None"),
        ("lower_rad", "low", r"skill\.json\.lower_rad must be a list"),
        ("lower_rad", [0.0] * 11, r"lower_rad must be 12 finite numbers"),
        ("masked_joints", "ring_j1", r"skill\.json\.masked_joints must be a list"),
        ("joint_order", [1] * 12, r"skill\.json\.joint_order\[0\] must be a string, got 1"),
        ("sha256", 7, r"skill\.json\.sha256 must be a string"),
        ("task", ["nut"], r"skill\.json\.task must be a string"),
        ("obs_layout", [], r"skill\.json\.obs_layout must be a table"),
    ],
)
def test_a_field_of_the_wrong_type_or_range_is_named(tmp_path: Path, key: str, value: Any, needle: str) -> None:
    path = _with(tmp_path, lambda m: m.__setitem__(key, value))
    with pytest.raises(SkillError, match=needle):
        read_metadata(path, SHIPPED / "skill.pt")


@pytest.mark.parametrize(
    "hist_len, needle",
    [
        (0, r"hist_len must be in \[1, 1000\], got 0"),
        (10**12, r"hist_len must be in \[1, 1000\], got 1000000000000"),
        ("30", r"obs_layout\.hist_len must be an integer, got '30'"),
        (30.0, r"obs_layout\.hist_len must be an integer"),
    ],
)
def test_hist_len_outside_what_a_skill_can_use_is_refused_before_any_memory_is_asked_for(
    tmp_path: Path, hist_len: Any, needle: str
) -> None:
    path = _with(tmp_path, lambda m: m["obs_layout"].__setitem__("hist_len", hist_len))
    with pytest.raises(SkillError, match=needle):
        read_metadata(path, SHIPPED / "skill.pt")


def test_an_unknown_field_or_a_non_object_file_is_refused(tmp_path: Path) -> None:
    path = _with(tmp_path, lambda m: m.__setitem__("acton_scale", 0.1))
    with pytest.raises(SkillError, match=r"unknown key \['acton_scale'\]"):
        read_metadata(path, SHIPPED / "skill.pt")
    path.write_text("[1, 2]")
    with pytest.raises(SkillError, match=r"skill\.json must be a table"):
        read_metadata(path, SHIPPED / "skill.pt")
