"""Free loopback ports for nodes started on the fly (tests, benchmarks, demos)."""

from __future__ import annotations

import socket

from dexscrew_sdk.bus import DEFAULT_HOST


def free_port(host: str = DEFAULT_HOST) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_base_port(host: str = DEFAULT_HOST, attempts: int = 100) -> int:
    """A base port p with p, p+1 and p+2 free (one node's state, command and RPC endpoints)."""
    for _ in range(attempts):
        base = free_port(host)
        if base + 2 > 65535:
            continue
        held: list[socket.socket] = []
        try:
            for port in (base + 1, base + 2):
                s = socket.socket()
                held.append(s)
                s.bind((host, port))
            return base
        except OSError:
            continue
        finally:
            for s in held:
                s.close()
    raise RuntimeError(f"no block of three free ports on {host} after {attempts} attempts")
