"""The core never imports the other packages, torch or pybullet when it is imported."""

from __future__ import annotations

import subprocess
import sys


def test_importing_the_core_pulls_in_nothing_heavy() -> None:
    code = (
        "import sys, pkgutil, importlib, dexscrew_sdk\n"
        "for m in pkgutil.walk_packages(dexscrew_sdk.__path__, 'dexscrew_sdk.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = sorted(n for n in sys.modules if n.split('.')[0] in "
        "{'twins', 'drivers', 'policies', 'tools', 'torch', 'pybullet', 'rtde_control', 'rtde_receive'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "", f"the core imported {out.stdout.strip()}"
