"""ZeroMQ transport: state streams, a newest-wins command channel and RPC.

One node exposes three endpoints (`Endpoints`): PUB for state streams (topic
``<device>/state``), PULL for one-way streaming commands, ROUTER for request/
reply lifecycle calls. Clients use SUB, PUSH and DEALER. Every received message
goes through `codec.decode`, so a socket never hands garbage to the caller.
"""

from __future__ import annotations

import itertools
import os
import shutil
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.auth
from zmq.auth.thread import ThreadAuthenticator

from dexscrew_sdk import codec
from dexscrew_sdk.codec import Message
from dexscrew_sdk.errors import CodecError, ConfigError, DeviceTimeoutError, RemoteCallError
from dexscrew_sdk.messages import rpc_request

DEFAULT_HOST = "127.0.0.1"
# Plain ints: pyzmq's enum members cost microseconds per use on the hot path.
NOBLOCK = int(zmq.NOBLOCK)
POLLIN = int(zmq.POLLIN)
SNDMORE = int(zmq.SNDMORE)
RCVMORE = int(zmq.RCVMORE)
TRANSPORT_MAX_FRAME_BYTES = 16 * codec.MAX_MESSAGE_BYTES


@dataclass(frozen=True)
class Endpoints:
    """The three ports of one node; `base_port`, +1 and +2."""

    host: str = DEFAULT_HOST
    base_port: int = 5550

    @property
    def state(self) -> str:
        return f"tcp://{self.host}:{self.base_port}"

    @property
    def command(self) -> str:
        return f"tcp://{self.host}:{self.base_port + 1}"

    @property
    def rpc(self) -> str:
        return f"tcp://{self.host}:{self.base_port + 2}"


@dataclass(frozen=True)
class CurveKeys:
    """CURVE key material (zmq certificate files made by `dexscrew keygen`).

    A node needs its own secret certificate and a folder of authorised client
    public certificates; a client needs its own secret certificate and the
    node's public certificate.
    """

    own_secret_file: Path
    server_public_file: Path | None = None  # clients only
    authorized_clients_dir: Path | None = None  # nodes only

    def apply_server(self, sock: zmq.Socket) -> None:
        check_secret_file(self.own_secret_file)
        public, secret = _load_certificate(self.own_secret_file)
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        sock.curve_server = True

    def apply_client(self, sock: zmq.Socket) -> None:
        if self.server_public_file is None:
            raise ValueError("a CURVE client needs server_public_file")
        check_secret_file(self.own_secret_file)
        public, secret = _load_certificate(self.own_secret_file)
        server_public, _ = _load_certificate(self.server_public_file)
        sock.curve_secretkey = secret
        sock.curve_publickey = public
        sock.curve_serverkey = server_public


def _load_certificate(path: Path) -> tuple[bytes, bytes | None]:
    try:
        return zmq.auth.load_certificate(str(path))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"CURVE certificate {path} is missing or invalid ({exc}); create keys with `dexscrew keygen`"
        ) from None


def generate_keys(directory: Path, name: str) -> tuple[Path, Path]:
    """Write `<name>.key` (public, 0644) and `<name>.key_secret` (0600) into directory."""
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(directory), name)
    os.chmod(secret, 0o600)
    return Path(public), Path(secret)


def generate_cell_keys(directory: Path, nodes: list[str], client: str = "client") -> tuple[Path, Path]:
    """`dexscrew keygen`: DIR/node holds the nodes' key pairs and only the client's PUBLIC key (in
    node/clients, the authorised set); DIR/client (0700) holds the client's key pair and the nodes' public
    keys. Each side's folder is all its machine needs; no secret leaves the side it belongs to."""
    node_dir, client_dir = directory / "node", directory / "client"
    node_dir.mkdir(parents=True, exist_ok=True)
    client_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(client_dir, 0o700)
    for node in nodes:
        public, _ = generate_keys(node_dir, node)
        shutil.copyfile(public, client_dir / public.name)
    public, _ = generate_keys(client_dir, client)
    (node_dir / "clients").mkdir(exist_ok=True)
    shutil.copyfile(public, node_dir / "clients" / public.name)
    return node_dir, client_dir


def check_secret_file(path: Path) -> None:
    """Refuse a secret key that others can read (as ssh does): it would let them impersonate its owner."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return  # missing: the certificate loader says so, with what to do
    if mode & 0o077:
        raise ConfigError(
            f"CURVE secret key {path} is readable by others (mode {stat.S_IMODE(mode):o}); run chmod 600 {path}"
        )


class Context:
    """A zmq context plus the optional CURVE authenticator that guards it."""

    def __init__(self, curve: CurveKeys | None = None, server: bool = False) -> None:
        self.zmq = zmq.Context()
        self.curve = curve
        self._auth: ThreadAuthenticator | None = None
        if curve is not None and server:
            if curve.authorized_clients_dir is None:
                raise ValueError("a CURVE node needs authorized_clients_dir")
            self._auth = ThreadAuthenticator(self.zmq)
            self._auth.start()
            self._auth.configure_curve(domain="*", location=str(curve.authorized_clients_dir))

    def socket(self, kind: int, server: bool) -> zmq.Socket:
        sock = self.zmq.socket(kind)
        sock.linger = 0
        # zmq drops the *connection* of a peer exceeding this: keep it well above the codec's
        # limit so ordinary oversized messages are received, counted and refused by decode().
        sock.setsockopt(zmq.MAXMSGSIZE, TRANSPORT_MAX_FRAME_BYTES)
        if self.curve is not None:
            (self.curve.apply_server if server else self.curve.apply_client)(sock)
        return sock

    def close(self) -> None:
        if self._auth is not None:
            self._auth.stop()
        self.zmq.destroy(linger=0)


def recv_frames(sock: zmq.Socket, flags: int = 0) -> list[bytes]:
    """`recv_multipart` without its per-call enum overhead (most SDK messages are one frame)."""
    frames = [sock.recv(flags)]
    while sock.getsockopt(RCVMORE):
        frames.append(sock.recv(flags))
    return frames


def send(sock: zmq.Socket, topic: bytes, msg: Message, flags: int = 0) -> None:
    frames = codec.encode(topic, msg)
    if len(frames) == 1:  # every state and command the SDK has: one copied frame
        sock.send(frames[0], flags)
        return
    last = len(frames) - 1
    for i, frame in enumerate(frames):
        # the header frame is copied; large array frames (memoryviews) are sent without copying
        sock.send(frame, flags | (SNDMORE if i < last else 0), copy=not isinstance(frame, memoryview))


class StateSubscriber:
    """SUB socket on one node's state stream, with newest-wins reads per topic."""

    def __init__(self, ctx: Context, endpoint: str, topics: list[bytes], hwm: int = 1000) -> None:
        self.sock = ctx.socket(zmq.SUB, server=False)
        self.sock.rcvhwm = hwm
        for t in topics:
            self.sock.setsockopt(zmq.SUBSCRIBE, t + codec.TOPIC_END)  # exact topic match
        self.sock.connect(endpoint)
        self.rejected = 0
        self.latest: dict[bytes, Message] = {}
        self._poller = zmq.Poller()  # reused: Socket.poll() builds a new Poller per call
        self._poller.register(self.sock, zmq.POLLIN)

    def recv(self, timeout_s: float) -> tuple[bytes, Message] | None:
        """Next valid message within timeout_s, else None. Invalid ones are counted and skipped."""
        deadline = None
        while True:
            try:
                # State messages are small: bytes are cheaper than pinned zmq.Frame objects.
                frames = recv_frames(self.sock, NOBLOCK)
            except zmq.Again:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + timeout_s
                if now >= deadline or not self._poller.poll(max(1, int((deadline - now) * 1000))):
                    return None
                continue
            got = self._accept(frames)
            if got is not None:
                return got

    def drain(self) -> int:
        """Read everything queued, keeping the newest message per topic; returns the count."""
        n = 0
        while True:
            try:
                frames = recv_frames(self.sock, NOBLOCK)
            except zmq.Again:
                return n
            n += self._accept(frames) is not None

    def _accept(self, frames: list[bytes]) -> tuple[bytes, Message] | None:
        try:
            topic, msg = codec.decode(frames)
        except CodecError:
            self.rejected += 1
            return None
        self.latest[topic] = msg
        return topic, msg

    def close(self) -> None:
        self.sock.close(0)


class CommandSender:
    """PUSH side of the streaming command channel: never blocks, drops when the node is gone."""

    def __init__(self, ctx: Context, endpoint: str, hwm: int = 64) -> None:
        self.sock = ctx.socket(zmq.PUSH, server=False)
        self.sock.sndhwm = hwm
        self.sock.connect(endpoint)
        self.dropped = 0

    def send(self, topic: bytes, msg: Message) -> bool:
        try:
            send(self.sock, topic, msg, NOBLOCK)
            return True
        except zmq.Again:
            self.dropped += 1
            return False

    def close(self) -> None:
        self.sock.close(0)


class RpcClient:
    """DEALER side of request/reply with per-call timeouts; stale replies are discarded."""

    def __init__(self, ctx: Context, endpoint: str, timeout_s: float = 2.0) -> None:
        self.sock = ctx.socket(zmq.DEALER, server=False)
        self.sock.connect(endpoint)
        self.timeout_s = timeout_s
        self._ids = itertools.count(1)

    def call(self, device: str, method: str, args: dict[str, Any] | None = None, timeout_s: float | None = None) -> Any:
        return self.request(device, method, args, timeout_s).fields.get("result")

    def request(
        self, device: str, method: str, args: dict[str, Any] | None = None, timeout_s: float | None = None
    ) -> Message:
        """Send one call and return the node's reply message; raises on timeout or remote error."""
        request_id = next(self._ids)
        send(self.sock, b"rpc", rpc_request(request_id, device, method, args or {}))
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        while True:
            remaining_ms = int((deadline - time.monotonic()) * 1000)
            if remaining_ms <= 0 or not self.sock.poll(remaining_ms, zmq.POLLIN):
                raise DeviceTimeoutError(
                    f"no reply to {device}.{method} within {timeout_s or self.timeout_s:.2f} s; is the node running?"
                )
            try:
                _, reply = codec.decode(self.sock.recv_multipart())
            except CodecError:
                continue
            if reply.type != "rpc_reply" or reply.seq != request_id:
                continue  # a late reply to an earlier call that timed out
            if not reply.fields.get("ok", False):
                raise RemoteCallError(str(reply.fields.get("error_kind", "Error")), str(reply.fields.get("error", "")))
            return reply

    def close(self) -> None:
        self.sock.close(0)
