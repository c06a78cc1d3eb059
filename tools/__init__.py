"""Operator tools: calibration, arm and tactile checks, bus monitor, dataset plots. Any cell, over the bus."""
