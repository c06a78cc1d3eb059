"""Access to the SDK's pure-data modules from any interpreter.

On Python >= 3.10 this is a normal import. IsaacGym runs on Python 3.8, where
the SDK package itself cannot be imported; the pure-data modules used here
(joint names and limits, skill layout) are then loaded from their files alone.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def _sdk_root() -> Path:
    """Where the dexscrew_sdk package is installed (a checkout or site-packages), found without importing it."""
    spec = importlib.util.find_spec("dexscrew_sdk")
    if spec is None or spec.origin is None:
        raise ImportError("dexscrew_sdk is not installed in this interpreter")
    return Path(spec.origin).parent


def load_standalone(dotted: str) -> ModuleType:
    """Execute dexscrew_sdk/<dotted>.py on its own, without the package's __init__."""
    alias = "_dexscrew_standalone_" + dotted.replace(".", "_")
    if alias in sys.modules:
        return sys.modules[alias]
    path = _sdk_root().joinpath(*dotted.split(".")).with_suffix(".py")
    spec = importlib.util.spec_from_file_location(alias, str(path))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load dexscrew_sdk.{dotted} from {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[alias] = module
    spec.loader.exec_module(module)
    return module


def sdk_module(dotted: str) -> ModuleType:
    """`dexscrew_sdk.<dotted>` (e.g. "joints", "skills.layout"), imported or loaded standalone."""
    if sys.version_info >= (3, 10):  # noqa: UP036 (IsaacGym runs 3.8)
        return importlib.import_module("dexscrew_sdk." + dotted)
    return load_standalone(dotted)


joints = sdk_module("joints")
layout = sdk_module("skills.layout")
