"""Write result files so a crash never leaves a half-written one behind (the SDK's one helper)."""

from __future__ import annotations

from dexscrew_sdk.atomic import point_link, write_json_atomic, write_json_new

__all__ = ["point_link", "write_json_atomic", "write_json_new"]
