"""Loopback sockets of the emulated controller: RTDE, dashboard and script upload.

RTDE frames are `>HB` (size including the header, type) followed by a payload;
the emulator answers version, controller version, output/input recipe setup,
start and pause, streams output packages at each client's recipe frequency and
feeds input packages to the `EmulatedController`.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from twins.ur_emulator.controller import EmulatedController
from twins.ur_emulator.rtde_types import recipe_struct, var_type, width

log = logging.getLogger(__name__)

HEADER = struct.Struct(">HB")
V_REQUEST_PROTOCOL, V_CONTROLLER_VERSION, V_TEXT, V_DATA = 86, 118, 77, 85
V_SETUP_OUTPUTS, V_SETUP_INPUTS, V_START, V_PAUSE = 79, 73, 83, 80
CONTROLLER_VERSION = (5, 11, 1, 108318)
POLYSCOPE_VERSION = "URSoftware 5.11.1.108318 (Mar 22 2021)"


@dataclass(frozen=True)
class Ports:
    rtde: int = 30004
    dashboard: int = 29999
    script: int = 30003


class UREmulator:
    """Owns the listening sockets and threads; `advance(dt)` steps the simulation when given."""

    def __init__(
        self,
        controller: EmulatedController,
        host: str = "127.0.0.1",
        ports: Ports = Ports(),
        advance: Callable[[float], None] | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError(f"the UR emulator binds to loopback only, not {host!r}")
        self.controller = controller
        self.host = host
        self.ports = ports
        self._advance = advance
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._listeners: list[socket.socket] = []
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()

    # ------------------------------------------------------------------ lifecycle
    def start(self, bind_timeout_s: float = 10.0) -> UREmulator:
        """Bind every port (waiting while another emulator still holds them), then serve."""
        handlers = {self.ports.rtde: self._serve_rtde, self.ports.dashboard: self._serve_dashboard}
        handlers[self.ports.script] = self._serve_script
        deadline = time.monotonic() + bind_timeout_s
        for port, handler in handlers.items():
            sock = self._bind(port, deadline)
            self._listeners.append(sock)
            self._spawn(self._accept_loop, sock, handler)
        self._spawn(self._controller_loop)
        return self

    def stop(self) -> None:
        self._stop.set()
        for sock in self._listeners:
            _close(sock)
        with self._conns_lock:
            for conn in list(self._conns):
                _close(conn)
        for t in self._threads:
            t.join(timeout=2.0)

    def __enter__(self) -> UREmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _bind(self, port: int, deadline: float) -> socket.socket:
        while True:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((self.host, port))
                sock.listen(8)
                sock.settimeout(0.1)
                return sock
            except OSError as exc:
                sock.close()
                if time.monotonic() > deadline:
                    raise OSError(f"UR emulator: port {port} on {self.host} stays busy ({exc})") from None
                time.sleep(0.05)  # another emulator is shutting down; retry the bind

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        t = threading.Thread(target=target, args=args, daemon=True, name=f"ur-emulator-{target.__name__}")
        self._threads.append(t)
        t.start()

    def _accept_loop(self, listener: socket.socket, handler: Callable[[socket.socket], None]) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn.settimeout(None)
            with self._conns_lock:
                self._conns.add(conn)
            threading.Thread(target=self._run_conn, args=(conn, handler), daemon=True).start()

    def _run_conn(self, conn: socket.socket, handler: Callable[[socket.socket], None]) -> None:
        try:
            handler(conn)
        except (OSError, ConnectionError, struct.error) as exc:
            if not self._stop.is_set():
                log.debug("connection closed: %s", exc)
        finally:
            with self._conns_lock:
                self._conns.discard(conn)
            _close(conn)

    def _controller_loop(self) -> None:
        period = self.controller.period_s
        last = time.monotonic()
        deadline = last + period
        while not self._stop.is_set():
            delay = deadline - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            now = time.monotonic()
            deadline = max(deadline + period, now)
            with self.controller.lock:
                if self._advance is not None:
                    self._advance(now - last)
                self.controller.tick()
            last = now

    # ------------------------------------------------------------------ RTDE
    def _serve_rtde(self, conn: socket.socket) -> None:
        session = _RtdeSession(self, conn)
        while not self._stop.is_set():
            size, kind = HEADER.unpack(_recv_exact(conn, HEADER.size))
            session.handle(kind, _recv_exact(conn, size - HEADER.size))

    # ------------------------------------------------------------------ dashboard
    def _serve_dashboard(self, conn: socket.socket) -> None:
        conn.sendall(b"Connected: Universal Robots Dashboard Server\n")
        buf = b""
        while not self._stop.is_set():
            data = conn.recv(4096)
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                reply = self._dashboard_reply(line.decode(errors="replace").strip())
                conn.sendall(reply.encode() + b"\n")
                if reply == "Disconnected":
                    return

    def _dashboard_reply(self, command: str) -> str:
        c = self.controller
        s = c.state
        cmd = command.lower()
        safety = "ROBOT_EMERGENCY_STOP" if s.emergency_stop else "PROTECTIVE_STOP" if s.protective_stop else "NORMAL"
        replies: dict[str, Callable[[], str]] = {
            "polyscopeversion": lambda: POLYSCOPE_VERSION,
            "version": lambda: "5.11.1.108318",
            "get serial number": lambda: "20185500000",
            "get robot model": lambda: "UR5",
            "running": lambda: f"Program running: {str(s.script_running).lower()}",
            "robotmode": lambda: "Robotmode: RUNNING",
            "safetymode": lambda: f"Safetymode: {safety}",
            "safetystatus": lambda: f"Safetystatus: {safety}",
            "programstate": lambda: "PLAYING rtde_control" if s.script_running else "STOPPED <unnamed>",
            "is in remote control": lambda: "true",
            "isprogramsaved": lambda: "true <unnamed>",
            "get loaded program": lambda: "No program loaded",
            "unlock protective stop": lambda: (
                "Protective stop releasing"
                if c.unlock_protective_stop()
                else "Cannot unlock protective stop: the robot is not in protective stop"
            ),
            "close safety popup": lambda: "closing safety popup",
            "close popup": lambda: "closing popup",
            "stop": lambda: (c.stop_script(), "Stopped")[1],
            "pause": lambda: "Pausing program",
            "play": lambda: "Starting program",
            "power on": lambda: "Powering on",
            "power off": lambda: "Powering off",
            "brake release": lambda: "Brake releasing",
            "restart safety": lambda: "Restarting safety",
            "quit": lambda: "Disconnected",
        }
        if cmd in replies:
            return replies[cmd]()
        if cmd.startswith("popup"):
            return "showing popup"
        return f"could not understand: '{command}'"

    # ------------------------------------------------------------------ script upload
    def _serve_script(self, conn: socket.socket) -> None:
        buf = ""
        while not self._stop.is_set():
            data = conn.recv(65536)
            if not data:
                return
            buf += data.decode(errors="replace")
            text = buf.strip()
            if text.startswith("def ") and text.endswith("end"):
                self._run_program(text)
                buf = ""
            elif "\n" in buf and not text.startswith("def "):
                buf = ""  # a one-line secondary command (stopj, textmsg, ...): nothing to emulate

    def _run_program(self, text: str) -> None:
        name = text[4 : text.index("(")].strip()
        log.info("program %r received (%d bytes)", name, len(text))
        if name == "rtde_control":
            self.controller.start_script()


class _RtdeSession:
    """One RTDE client connection: its recipes and, once started, its output stream."""

    def __init__(self, server: UREmulator, conn: socket.socket) -> None:
        self.server = server
        self.conn = conn
        self.send_lock = threading.Lock()
        self.out_names: list[str] = []
        self.out_struct: struct.Struct | None = None
        self.out_width: list[int] = []
        self.frequency_hz = 125.0
        self.inputs: dict[int, tuple[list[str], struct.Struct, list[int]]] = {}
        self.streaming = threading.Event()
        self.sender: threading.Thread | None = None

    def send(self, kind: int, payload: bytes) -> None:
        with self.send_lock:
            self.conn.sendall(HEADER.pack(HEADER.size + len(payload), kind) + payload)

    def handle(self, kind: int, payload: bytes) -> None:
        if kind == V_REQUEST_PROTOCOL:
            self.send(kind, struct.pack(">B", 1))
        elif kind == V_CONTROLLER_VERSION:
            self.send(kind, struct.pack(">IIII", *CONTROLLER_VERSION))
        elif kind == V_SETUP_OUTPUTS:
            (self.frequency_hz,) = struct.unpack_from(">d", payload)
            self.out_names = [n for n in payload[8:].decode().split(",") if n]
            types = [var_type(n) for n in self.out_names]
            if None in types:
                log.warning(
                    "unknown output variables %s", [n for n, t in zip(self.out_names, types, strict=False) if t is None]
                )
                self.send(kind, b"\x00" + ",".join(t or "NOT_FOUND" for t in types).encode())
                return
            self.out_struct = recipe_struct(types)  # type: ignore[arg-type]
            self.out_width = [width(t) for t in types]  # type: ignore[arg-type]
            self.send(kind, b"\x01" + ",".join(types).encode())  # type: ignore[arg-type]
        elif kind == V_SETUP_INPUTS:
            names = [n for n in payload.decode().split(",") if n]
            types = [var_type(n) for n in names]
            if None in types:
                log.warning("unknown input variables %s", [n for n, t in zip(names, types, strict=False) if t is None])
                self.send(kind, b"\x00" + ",".join(t or "NOT_FOUND" for t in types).encode())
                return
            recipe_id = len(self.inputs) + 1
            self.inputs[recipe_id] = (names, recipe_struct(types), [width(t) for t in types])  # type: ignore[arg-type]
            self.send(kind, struct.pack(">B", recipe_id) + ",".join(types).encode())  # type: ignore[arg-type]
        elif kind == V_START:
            self.send(kind, b"\x01")
            self._start_stream()
        elif kind == V_PAUSE:
            self.streaming.clear()
            self.send(kind, b"\x01")
        elif kind == V_DATA:
            self._on_data(payload)
        elif kind == V_TEXT:
            log.info("client message: %r", payload[:200])

    def _on_data(self, payload: bytes) -> None:
        recipe = self.inputs.get(payload[0])
        if recipe is None:
            log.warning("data package for unknown input recipe %d", payload[0])
            return
        names, st, widths = recipe
        flat = list(st.unpack_from(payload, 1))
        values: dict[str, object] = {}
        for name, w in zip(names, widths, strict=True):
            values[name] = flat[:w] if w else flat[0]
            del flat[: max(w, 1)]
        self.server.controller.on_input(values)

    def _start_stream(self) -> None:
        self.streaming.set()
        if self.sender is None and self.out_struct is not None:
            self.sender = threading.Thread(target=self._stream, daemon=True, name="ur-emulator-rtde-out")
            self.sender.start()

    def _stream(self) -> None:
        assert self.out_struct is not None
        period = 1.0 / max(1.0, min(self.frequency_hz, 500.0))
        deadline = time.monotonic()
        stop = self.server._stop
        try:
            while not stop.is_set():
                deadline += period
                delay = deadline - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                else:
                    deadline = time.monotonic()
                if not self.streaming.is_set():
                    continue
                out = self.server.controller.outputs()
                flat: list[object] = []
                for name, w in zip(self.out_names, self.out_width, strict=True):
                    value = out.get(name)
                    if w:
                        flat.extend([0] * w if value is None else value)  # type: ignore[arg-type]
                    else:
                        flat.append(0 if value is None else value)
                self.send(V_DATA, b"\x01" + self.out_struct.pack(*flat))
        except OSError:
            _close(self.conn)  # the reader thread notices and cleans up


def _recv_exact(conn: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = conn.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed the connection")
        buf += chunk
    return bytes(buf)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
