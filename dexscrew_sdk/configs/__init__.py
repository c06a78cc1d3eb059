"""The shipped cell configurations (TOML), loaded by bare name: `dexscrew up twin_cell`."""
