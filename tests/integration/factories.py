"""Node factories used only by tests: a device of an unknown kind, factories breaking the contract."""

from __future__ import annotations

from dataclasses import dataclass

from dexscrew_sdk.interfaces import Device
from dexscrew_sdk.node import Hosted
from dexscrew_sdk.params import NodeContext
from dexscrew_sdk.records import DeviceInfo


class Gripper(Device):
    kind = "gripper"  # no proxy in the SDK knows this kind

    def info(self) -> DeviceInfo:
        return DeviceInfo("gripper", "test-gripper")


@dataclass
class NoParams:
    pass


def make_gripper(params: NoParams, ctx: NodeContext) -> Hosted:
    return Hosted({name: Gripper() for name in ctx.devices})


def make_untyped(params):  # type: ignore[no-untyped-def] - breaks the factory rule on purpose
    return Hosted({})


def make_failing(params: NoParams, ctx: NodeContext) -> Hosted:
    from dexscrew_sdk.errors import DeviceFault

    raise DeviceFault("the test hand is unplugged: check its USB cable")
