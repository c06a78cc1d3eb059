"""`--skill shipped|official|PATH`: one resolver for record, teleop, eval, the demo pipeline and the bench;
bad choices are refused before anything starts, and the skill's identity goes with the results."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from dexscrew_sdk import resources
from dexscrew_sdk.errors import SkillError
from dexscrew_sdk.skills.choice import load_skill, resolve_skill

REPO = Path(__file__).resolve().parents[2]


def _copy_shipped(dst: Path, task: str = "nut") -> Path:
    """An exported skill folder of our own (the shipped one's files; their weights do not matter here)."""
    src = resources.shipped_skill(task)
    dst.mkdir(parents=True)
    for name in ("skill.pt", "skill.json"):
        shutil.copy(src / name, dst / name)
    return dst


def test_shipped_resolves_to_the_shipped_file_with_the_metadata_sha256() -> None:
    chosen = resolve_skill("shipped", "nut")
    meta = json.loads((resources.shipped_skill("nut") / "skill.json").read_text())
    assert chosen.path == (resources.shipped_skill("nut") / "skill.pt").resolve()
    assert chosen.sha256 == meta["sha256"] and chosen.kind == "shipped"
    assert resolve_skill(None, "nut") == chosen  # the default


def test_official_resolves_to_the_released_checkpoint(monkeypatch, tmp_path) -> None:
    (tmp_path / "nut_bolt.pt").write_bytes(b"not loaded by the resolver")
    monkeypatch.setenv(resources.OFFICIAL_DIR_ENV, str(tmp_path))
    chosen = resolve_skill("official", "nut")
    assert chosen.path == (tmp_path / "nut_bolt.pt").resolve()
    assert chosen.sha256 == hashlib.sha256(b"not loaded by the resolver").hexdigest()  # no skill.json: the file's own
    with pytest.raises(SkillError, match=r"screwdriver\.pt not found.*DEXSCREW_OFFICIAL_DIR"):
        resolve_skill("official", "screwdriver")


def test_a_path_may_be_a_skill_folder_its_pt_or_a_folder_of_task_folders(tmp_path) -> None:
    folder = _copy_shipped(tmp_path / "skills" / "nut")
    for given in (folder, folder / "skill.pt", tmp_path / "skills"):
        chosen = resolve_skill(str(given), "nut")
        assert chosen.path == (folder / "skill.pt").resolve() and chosen.kind == "path"
        assert chosen.identity()["choice"] == str(given)
    with pytest.raises(SkillError, match=r"neither skill\.pt nor screwdriver/skill\.pt"):
        resolve_skill(str(tmp_path / "skills"), "screwdriver")


@pytest.mark.parametrize(
    "given, message",
    [("offical", "unknown skill name"), ("/no/such/skill", "no such file or folder"), ("", "empty")],
)
def test_an_unknown_name_or_a_missing_path_is_a_clear_error(given: str, message: str) -> None:
    with pytest.raises(SkillError, match=message):
        resolve_skill(given, "nut")


def test_a_skill_made_for_another_task_is_refused(tmp_path) -> None:
    folder = _copy_shipped(tmp_path / "nut_skill", "nut")
    with pytest.raises(SkillError, match="is a nut skill, this run needs a screwdriver skill"):
        load_skill(str(folder), "screwdriver")


def test_record_refuses_a_bad_skill_before_the_cell_starts(tmp_path) -> None:
    cmd = [sys.executable, "-m", "dexscrew_sdk.cli", "record", "--operator", "scripted", "--skill", "offical",
           "--out", str(tmp_path / "ds")]  # fmt: skip
    out = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2 and "--skill 'offical': unknown skill name" in out.stderr
    assert "[up]" not in out.stderr and not (tmp_path / "ds").exists()  # no node started, nothing written


def test_eval_methods_load_the_chosen_skill_and_keep_its_identity(tmp_path) -> None:
    from dexscrew_sdk.evaluation.methods import MethodConfig, check_methods

    folder = _copy_shipped(tmp_path / "mine" / "nut")
    cfg = MethodConfig(["direct_sim2real", "skill_follower"], skill=str(tmp_path / "mine"))
    check_methods(cfg, {"nut"})
    assert cfg.skill_identity["nut"]["path"] == str((folder / "skill.pt").resolve())
    with pytest.raises(SkillError, match="unknown skill name"):
        check_methods(MethodConfig(["direct_sim2real"], skill="offical"), {"nut"})


def test_the_demo_pipeline_passes_the_skill_to_recording_and_evaluation(tmp_path) -> None:
    from dexscrew_sdk.evaluation.demo_pipeline import DemoSize, plan_steps

    groups = plan_steps(tmp_path, DemoSize(skill="official"), "twin_cell", 2)
    steps = [s for g in groups for c in g for s in c]
    for step in steps:
        if step.stage in ("record", "eval"):
            i = step.argv.index("--skill")
            assert step.argv[i + 1] == "official", step.name
    assert {s.stage for s in steps if "--skill" in s.argv} == {"record", "eval"}
