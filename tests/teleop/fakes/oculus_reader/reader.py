"""OculusReader(ip_address=None, port=5555).get_transformations_and_buttons() -> (poses, buttons); stop()."""

from __future__ import annotations

from typing import Any

import numpy as np

frames: list[tuple[dict[str, Any], dict[str, Any]]] = []  # what the headset "sends", one per read
instances: list[OculusReader] = []


class OculusReader:
    def __init__(self, ip_address: str | None = None, port: int = 5555, **kwargs: Any) -> None:
        self.ip_address, self.port, self.stopped = ip_address, port, False
        instances.append(self)

    def get_transformations_and_buttons(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        if not frames:
            return {}, {}  # the real reader answers empty dicts until the headset reports
        return frames.pop(0)

    def stop(self) -> None:
        self.stopped = True
