"""`tactile-check` on the twin: every injected taxel fault found and named, healthy pads pass, pictures drawn."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dexscrew_sdk import joints
from tests.conftest import REPO
from tests.tools.conftest import TWIN_CELL, open_hand, twin
from tools import tactile_calibration, tactile_check
from twins import faults

pytestmark = [pytest.mark.integration, pytest.mark.slow]
TAXEL_FAULTS = ("dead_taxels", "stuck_taxels", "saturated_taxels", "noisy_taxels")


def _operator(operator_cell, wrong: dict[str, str] | None = None):
    """Presses the pad the tool asks for (or, per `wrong`, another one)."""

    def prompt(instruction: str) -> None:
        if instruction.startswith("Press the "):
            tip = instruction.split()[2]
            operator_cell.world.perturb(f"press_{(wrong or {}).get(tip, tip)}")

    return prompt


def test_every_injected_taxel_fault_is_found_and_named(fault_seed: int, tmp_path: Path) -> None:
    drawn = faults.draw(fault_seed, dead=2, stuck=2, saturated=1, noisy=2, offsets=0, backlash=0)
    table = {k: v for k, v in drawn.to_table().items() if k in TAXEL_FAULTS}
    with twin({"faults": table}) as (cell, operator):
        result = tactile_check.check(cell, 40, list(joints.FINGERTIP_NAMES), 2.0, _operator(operator), open_hand=True)
        pictures = tactile_check.write_pictures(result, tmp_path / "pads.png", tmp_path / "force.png", 0.05)
    found = {
        (p["fingertip"], kind, t)
        for p in result["pads"]
        for kind in ("dead", "stuck", "saturated", "noisy")
        for t in p[kind]
    }
    injected = {(r.pad, kind.removesuffix("_taxels"), r.taxel) for kind in TAXEL_FAULTS for r in getattr(drawn, kind)}
    assert found == injected, result["problems"]
    faulty_pads = {pad for pad, _, _ in injected}
    for p in result["pads"]:
        assert p["lit_up"] and p["covered_taxels"] >= 100 and not p["lit_by_other_presses"]
        assert p["ok"] == (p["fingertip"] not in faulty_pads)
    assert not result["ok"] and len(result["problems"]) == len({(pad, kind) for pad, kind, _ in injected})
    for png in pictures.values():
        import matplotlib.image

        assert matplotlib.image.imread(png).shape[2] in (3, 4)


def test_a_healthy_twin_passes_with_randomised_noise(tmp_path: Path) -> None:
    with twin() as (cell, operator):
        operator.world.reset("nut", "triangular", 7, {"enabled": True, "tactile_noise_n": 0.03})
        open_hand(cell)
        calibration = tactile_calibration.calibrate(cell, tmp_path / "tactile.json", 60, lambda _: None)
        assert calibration["max_noise_floor_n"] > 0.005  # the noise does reach the readings
        result = tactile_check.check(
            cell, 60, list(joints.FINGERTIP_NAMES), 2.0, _operator(operator), tmp_path / "tactile.json", open_hand=True
        )
    assert result["ok"], result["problems"]
    assert result["noise_floor_from"] == str(tmp_path / "tactile.json")


def test_the_press_test_names_a_finger_that_does_not_light_up(tmp_path: Path) -> None:
    with twin() as (cell, operator):
        result = tactile_check.check(cell, 20, ["thumb"], 2.0, _operator(operator, {"thumb": "ring"}), open_hand=True)
    pads = {p["fingertip"]: p for p in result["pads"]}
    assert pads["thumb"]["lit_up"] is False and pads["ring"]["lit_by_other_presses"] == ["thumb"]
    assert "thumb did not light up when pressed" in " ".join(result["problems"])
    assert "ring lit up while thumb was pressed" in result["problems"]


def test_live_heatmap_shows_every_pad() -> None:
    force = np.zeros(joints.TACTILE_SHAPE, dtype=np.float32)
    force[2, 17, 2] = 1.5
    text = tactile_check.heatmap_text(force, scale_n=2.0)
    assert all(t in text for t in joints.FINGERTIP_NAMES) and "middle:  1.50 N" in text
    assert text.count("\x1b[48;5;") == 5 * 120
    with twin() as (cell, _):
        out = io.StringIO()
        assert tactile_check.live(cell, out=out, frames=3) == 3
        assert out.getvalue().count("\x1b[H\x1b[2J") == 3


def test_the_command_line_checks_at_rest_and_writes_the_picture(tmp_path: Path) -> None:
    from dexscrew_sdk.ports import free_base_port
    from tests.conftest import start_node

    overrides = [f"nodes.twin.base_port={free_base_port()}"]
    node = start_node(TWIN_CELL, "twin", overrides, ready_timeout_s=60.0)
    try:
        cmd = [sys.executable, "-m", "tools.tactile_check", str(TWIN_CELL), "--set", overrides[0], "--press"]
        cmd += ["--rest-frames", "20", "--open-hand", "--yes", "--png", str(tmp_path / "pads.png")]
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=180)
    finally:
        node.kill()
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["ok"] and Path(report["pictures"]["png"]).stat().st_size > 10_000
    assert "thumb: pass" in done.stderr
