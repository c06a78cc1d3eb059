"""Backends: Python 3.8 compatibility of the IsaacGym path, its missing-engine error, PyBullet workers."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

REPO = Path(__file__).resolve().parents[2]
VERMIN = Path(sys.executable).with_name("vermin")
# loaded by file (policies.rl.sdk) rather than imported, on Python 3.8
STANDALONE = [REPO / "dexscrew_sdk" / name for name in ("joints.py", "skills/layout.py", "errors.py", "atomic.py")]


def _module_file(name: str) -> Path | None:
    base = REPO.joinpath(*name.split("."))
    for p in (base.with_suffix(".py"), base / "__init__.py"):
        if p.is_file():
            return p
    return None


def _closure(entry: list[str]) -> set[Path]:
    """Files reached from the entry modules through module-level imports of this repository's packages
    (function-level imports are the backends chosen at run time)."""
    seen: set[Path] = set()
    todo = list(entry)
    while todo:
        name = todo.pop()
        parts = name.split(".")
        for i in range(1, len(parts) + 1):  # packages' __init__ run too
            f = _module_file(".".join(parts[:i]))
            if f is None or f in seen:
                continue
            seen.add(f)
            for node in ast.parse(f.read_text()).body:
                stmts = [node] + [n for n in ast.walk(node) if isinstance(node, (ast.Try, ast.If))]
                for s in stmts:
                    if (
                        isinstance(s, ast.ImportFrom)
                        and s.module
                        and s.module.split(".")[0] in ("policies", "dexscrew_sdk", "twins")
                    ):
                        todo.append(s.module)
                        todo.extend(f"{s.module}.{a.name}" for a in s.names)
                    elif isinstance(s, ast.Import):
                        todo.extend(
                            a.name for a in s.names if a.name.split(".")[0] in ("policies", "dexscrew_sdk", "twins")
                        )
    return seen


def test_isaacgym_path_is_python38_compatible() -> None:
    files = _closure(["policies.rl.backends.isaacgym", "policies.rl.train", "policies.rl.runner"])
    assert not any(f.parts[-2] == "dexscrew_sdk" and f.name == "__init__.py" for f in files), (
        "the IsaacGym path must not import the SDK package (Python >= 3.10); use policies.rl.sdk"
    )
    files |= set(STANDALONE)
    assert REPO / "policies" / "rl" / "backends" / "isaacgym.py" in files and len(files) >= 12
    out = subprocess.run(
        [str(VERMIN), "--no-tips", "--violations", "-t=3.8-", *map(str, sorted(files))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    found = re.search(r"Minimum required versions?: (\d+)\.(\d+)", out.stdout)
    assert found, out.stdout + out.stderr
    assert (int(found.group(1)), int(found.group(2))) <= (3, 8), out.stdout


def test_standalone_loader_does_not_import_the_sdk_package() -> None:
    code = (
        "import sys; sys.version_info = (3, 8, 10); "  # take the path IsaacGym's interpreter takes
        "from policies.rl.sdk import layout, joints; "
        "print('dexscrew_sdk' in sys.modules, layout.POLICY_FROM_SDK[0], joints.HAND_DOF)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert out.stdout.split() == ["False", "3", "12"], out.stderr


def test_missing_isaacgym_says_how_to_get_it() -> None:
    pytest.importorskip("numpy")
    try:
        import isaacgym  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("IsaacGym is installed here")
    from policies.rl.backends import make_backend

    with pytest.raises(ImportError, match=r"Preview 4.*developer\.nvidia\.com/isaac-gym.*Python 3\.8"):
        make_backend("isaacgym", "nut", 8, 0)


def test_train_imports_isaacgym_before_torch(tmp_path: Path) -> None:
    """IsaacGym raises if torch is already imported; `train-rl --backend isaacgym` must import it first."""
    fake = tmp_path / "isaacgym"
    fake.mkdir()
    (fake / "__init__.py").write_text(
        "import sys\n"
        "if 'torch' in sys.modules:\n"
        "    raise ImportError('PyTorch was imported before isaacgym modules')\n"
        "print('isaacgym loaded before torch', flush=True)\n"
    )  # no gymapi/gymtorch: the backend then reports how to install the real one
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)])}
    args = ["teacher", "--task", "nut", "--backend", "isaacgym", "--out", str(tmp_path / "run")]
    out = subprocess.run(
        [sys.executable, "-m", "policies.rl.train", *args], capture_output=True, text=True, timeout=120, env=env
    )
    assert "isaacgym loaded before torch" in out.stdout, out.stdout + out.stderr
    assert "developer.nvidia.com/isaac-gym" in out.stderr  # then the missing gymapi is reported, clearly


def test_pybullet_backend_workers_match_one_process() -> None:
    """Several envs per world, split over 2 worker processes: same shapes, partial resets route right."""
    pytest.importorskip("pybullet")
    pytest.importorskip("twins.rl_world")
    from policies.rl.backends import make_backend

    b = make_backend("pybullet", "screwdriver", 4, 0, workers=2, randomise=False)
    try:
        assert b.workers == 2 and b.priv_dim > 0
        targets = torch.tensor(np.tile(b.state().q[0].numpy(), (4, 1)))
        for _ in range(3):
            b.step(targets)
        s = b.state()
        assert s.q.shape == (4, 12) and s.tips.shape == (4, 5, 3) and s.contact.dtype == torch.bool
        assert torch.isfinite(s.priv).all() and s.priv.shape == (4, b.priv_dim)
        q0 = torch.tensor(np.tile(s.q[0].numpy(), (1, 1)))
        b.reset(torch.tensor([3]), q0)
        after = b.state()
        assert torch.equal(after.q[:3], s.q[:3])  # other environments untouched
        assert float(after.angle[3]) == pytest.approx(0.0, abs=1e-6)
    finally:
        b.close()
    assert all(not p.is_alive() for p in b._procs) and b._procs == []


@pytest.mark.parametrize("pin", [True, False])
def test_pybullet_workers_get_a_core_each(pin: bool) -> None:
    """Pinned (the default), worker i runs on the i-th usable core only; unpinned, on all of them."""
    pytest.importorskip("twins.rl_world")
    from policies.rl.backends import make_backend
    from policies.rl.backends.pybullet import usable_cpus

    cpus = usable_cpus()
    if len(cpus) < 2 or not hasattr(os, "sched_getaffinity"):
        pytest.skip("needs two usable cores and Linux affinity")
    b = make_backend("pybullet", "nut", 2, 0, workers=2, randomise=False, pin_workers=pin)
    try:
        got = [os.sched_getaffinity(p.pid) for p in b._procs]
    finally:
        b.close()
    assert got == ([{cpus[0]}, {cpus[1]}] if pin else [set(cpus)] * 2)


@pytest.mark.slow
def test_short_teacher_and_student_runs_in_the_pybullet_world(tmp_path: Path) -> None:
    """CI smoke run of the real pipeline: a few iterations each, finite losses and rewards."""
    pytest.importorskip("twins.rl_world")
    from dexscrew_sdk.cli import main

    common = ["--task", "nut", "--num-envs", "4", "--workers", "1", "--horizon", "6", "--actor-hidden", "64", "64"]
    assert main(["train-rl", "teacher", *common, "--iterations", "2", "--out", str(tmp_path / "t")]) == 0
    teacher = str(tmp_path / "t" / "checkpoint_last.pt")
    assert (
        main(["train-rl", "student", *common, "--iterations", "2", "--out", str(tmp_path / "s"), "--teacher", teacher])
        == 0
    )
    import json

    for stage, key in (("t", "loss_value"), ("s", "loss_action")):
        rows = [json.loads(x) for x in (tmp_path / stage / "log.jsonl").read_text().splitlines()]
        assert len(rows) == 2 and all(np.isfinite(r[key]) and np.isfinite(r["reward_per_step"]) for r in rows)
    assert main(["export-skill", str(tmp_path / "s" / "checkpoint_last.pt"), "--out", str(tmp_path / "skill")]) == 0
    assert main(["export-skill", teacher, "--out", str(tmp_path / "x")]) == 2  # a teacher is refused


def test_isaacgym_assets_are_loadable_urdfs(tmp_path: Path) -> None:
    pb = pytest.importorskip("pybullet")
    pytest.importorskip("twins.bullet")
    import json

    from policies.rl.backends.isaacgym_assets import write_assets

    meta = json.loads(write_assets(tmp_path).read_text())
    assert set(meta) == {"nut", "screwdriver"} and len(meta["screwdriver"]["object_urdfs"]) == 2
    client = pb.connect(pb.DIRECT)
    try:
        for task in meta.values():
            for urdf in [task["hand_urdf"], *task["object_urdfs"]]:  # the object's is loaded last
                body = pb.loadURDF(str(tmp_path / urdf), useFixedBase=True, physicsClientId=client)
                assert body >= 0
            names = [pb.getJointInfo(body, j, physicsClientId=client)[1].decode() for j in range(1)]
            assert names == [task["object_joint"]]
        # the hand of the assets is the generated left hand (its hull meshes next to it), same as PyBullet's
        hand = pb.loadURDF(str(tmp_path / meta["nut"]["hand_urdf"]), useFixedBase=True, physicsClientId=client)
        n = pb.getNumJoints(hand, physicsClientId=client)
        links = {pb.getJointInfo(hand, j, physicsClientId=client)[12].decode(): j for j in range(n)}
        assert set(meta["nut"]["tip_links"]) <= set(links)
        tip = pb.getLinkState(hand, links["left_hand_index_rota_tip"], physicsClientId=client)[4]
        assert np.allclose(tip, (0.0265, -0.0065, -0.2057), atol=5e-4)
        assert pb.getCollisionShapeData(hand, links["left_hand_index_rota_link2"], physicsClientId=client)
    finally:
        pb.disconnect(client)


@pytest.mark.slow
def test_ctrl_c_leaves_a_checkpoint_that_resumes(tmp_path: Path) -> None:
    """SIGINT to a real training process: the iteration finishes, checkpoint_last.pt is written, the run resumes."""
    pytest.importorskip("twins.rl_world")
    import json
    import signal
    import subprocess
    import sys

    from tests.conftest import wait_until

    out = tmp_path / "t"
    args = [sys.executable, "-m", "policies.rl.train", "teacher", "--task", "nut", "--num-envs", "2"]
    args += ["--workers", "1", "--horizon", "4", "--actor-hidden", "32", "--save-every", "1000", "--out", str(out)]
    log = out / "log.jsonl"
    proc = subprocess.Popen([*args, "--iterations", "100000"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: log.is_file() and len(log.read_text().splitlines()) >= 2, 60.0, "two training iterations")
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=60.0)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, output
    assert "interrupted: saved" in output
    done = len(log.read_text().splitlines())
    assert done < 100000 and (out / "checkpoint_last.pt").is_file()
    resumed = subprocess.run(
        [*args, "--iterations", str(done + 2), "--resume", str(out / "checkpoint_last.pt")],
        capture_output=True,
        timeout=120.0,
    )
    assert resumed.returncode == 0, resumed.stderr.decode()
    assert f"at iteration {done}" in resumed.stdout.decode()
    rows = [json.loads(x) for x in log.read_text().splitlines()]
    assert [r["iteration"] for r in rows] == list(range(1, done + 3))
