"""Operator tools: calibration, tactile checks, bus monitor. They work over the bus on any cell."""
