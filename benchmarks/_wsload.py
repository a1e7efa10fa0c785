"""Shared pieces of the multi-process benchmarks (bench_scale.py, bench_fleet.py).

- :class:`LoadClient`: a lean OCPP-J charge point connection for load generation, an
  ``asyncio.Protocol`` with the RFC 6455 client side written out (upgrade request, masked
  frames out, unmasked frames in, pings answered). The ``websockets`` client costs several
  times more CPU per message; the load generators share two cores with the server under test,
  so every microsecond they spend is one the server cannot.
- the control channel: the orchestrator drives each child process with one JSON object per
  line on its stdin and reads one JSON object per line from its stdout.
- server-side meters: CPU (``time.process_time``), garbage collection time (``gc.callbacks``)
  and resident memory (``/proc/self/status``).

Not a module of the SDK; loopback only.
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import random
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

__all__ = [
    "Child",
    "GcMeter",
    "LoadClient",
    "apply_gc_setting",
    "command_reader",
    "open_clients",
    "percentiles",
    "raise_fd_limit",
    "reply",
    "rss_kib",
]


def raise_fd_limit(wanted: int = 1 << 17) -> int:
    """Raise this process's open-file limit (10,000 sockets need more than the usual 1,024)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, max(hard, wanted)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def rss_kib() -> int:
    """Resident set size of this process in KiB (VmRSS)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class GcMeter:
    """Time spent in garbage collection, per generation, through ``gc.callbacks``."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.collections = [0, 0, 0]
        self.seconds_by_generation = [0.0, 0.0, 0.0]
        self._started = 0.0
        self.max_pause = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            spent = time.perf_counter() - self._started
            generation = info["generation"]
            self.seconds += spent
            self.max_pause = max(self.max_pause, spent)
            self.seconds_by_generation[generation] += spent
            self.collections[generation] += 1

    def reset(self) -> None:
        self.seconds = 0.0
        self.max_pause = 0.0
        self.collections = [0, 0, 0]
        self.seconds_by_generation = [0.0, 0.0, 0.0]

    def report(self) -> dict[str, Any]:
        return {
            "gc_seconds": self.seconds,
            "gc_collections": list(self.collections),
            "gc_seconds_by_generation": list(self.seconds_by_generation),
            "gc_max_pause": self.max_pause,
        }


def apply_gc_setting(setting: str) -> None:
    """``default``, ``freeze`` (gc.freeze() now), ``threshold:A,B,C`` or ``freeze+threshold:…``.

    The freeze is applied once more by the server after its startup (see the callers).
    """
    for part in setting.split("+"):
        if part.startswith("threshold:"):
            gc.set_threshold(*(int(n) for n in part.removeprefix("threshold:").split(",")))
        elif part == "disable":
            gc.disable()
        elif part not in ("default", "freeze", "refreeze"):
            raise SystemExit(f"unknown gc setting {part!r}")


def percentiles(values: list[float]) -> dict[str, float]:
    """p50, p99, max and count of ``values`` (empty: zeros)."""
    if not values:
        return {"count": 0, "p50": 0.0, "p99": 0.0, "max": 0.0}
    ordered = sorted(values)
    n = len(ordered)
    return {
        "count": n,
        "p50": ordered[min(n - 1, int(0.50 * n))],
        "p99": ordered[min(n - 1, int(0.99 * n))],
        "max": ordered[-1],
    }


async def command_reader() -> asyncio.StreamReader:
    """This process's stdin as an asyncio stream (the control channel)."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=1 << 24)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


def reply(**fields: Any) -> None:
    """Send one JSON line to the orchestrator."""
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class LoadClient(asyncio.Protocol):
    """One charge point's WebSocket (``ocpp1.6`` subprotocol), framing done by hand.

    ``on_text(client, text)`` receives every text message; :meth:`call` is the simple
    request/answer form for setup phases (one CALL at a time, answers matched by arrival).
    """

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.transport: asyncio.Transport | None = None
        self.upgraded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.on_text: Callable[[LoadClient, str], None] | None = None
        #: Answers the server's CALLs while :meth:`call` waits for answers to ours.
        self.on_call: Callable[[LoadClient, str], None] | None = None
        self._buffer = bytearray()
        self._open = False
        self._waiter: asyncio.Future[str] | None = None
        self.sequence = 0

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode("ascii")
        transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                "Sec-WebSocket-Protocol: ocpp1.6\r\n\r\n"
            ).encode("ascii")
        )

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self._open:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buffer[:end])
            del buffer[: end + 4]
            status = head.split(b" ", 2)[1]
            if status != b"101":
                if not self.upgraded.done():
                    self.upgraded.set_exception(ConnectionError(head.split(b"\r\n", 1)[0]))
                assert self.transport is not None
                self.transport.close()
                return
            self._open = True
            if not self.upgraded.done():
                self.upgraded.set_result(None)
        self._frames()

    def connection_lost(self, exc: Exception | None) -> None:
        self._open = False
        error = ConnectionError("connection lost")
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or error)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(error)
        if not self.lost.done():
            self.lost.set_result(None)

    # -- frames -------------------------------------------------------------------------------

    def _frames(self) -> None:
        buffer = self._buffer
        size = len(buffer)
        position = 0
        while size - position >= 2:
            first = buffer[position]
            length = buffer[position + 1] & 0x7F
            header = 2
            if length == 126:
                if size - position < 4:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 4], "big")
                header = 4
            elif length == 127:
                if size - position < 10:
                    break
                length = int.from_bytes(buffer[position + 2 : position + 10], "big")
                header = 10
            end = position + header + length
            if end > size:
                break
            payload = bytes(buffer[position + header : end])
            position = end
            opcode = first & 0x0F
            if opcode == 1:
                self._text(payload.decode("utf-8"))
            elif opcode == 9:  # ping: answer with the same payload
                self._send_frame(0xA, payload)
            elif opcode == 8:  # close: echo it and let the server end the TCP connection
                self._send_frame(0x8, payload[:2])
                self._open = False
        if position:
            del buffer[:position]

    def _text(self, text: str) -> None:
        if self.on_text is not None:
            self.on_text(self, text)
        elif self.on_call is not None and text.startswith("[2"):
            self.on_call(self, text)
        elif self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(text)

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        n = len(payload)
        mask = random.getrandbits(32).to_bytes(4, "big")
        if n < 126:
            header = bytes((0x80 | opcode, 0x80 | n))
        elif n < 65536:
            header = bytes((0x80 | opcode, 0xFE)) + n.to_bytes(2, "big")
        else:
            header = bytes((0x80 | opcode, 0xFF)) + n.to_bytes(8, "big")
        masked = (
            int.from_bytes(payload, "big") ^ int.from_bytes((mask * (n // 4 + 1))[:n], "big")
        ).to_bytes(n, "big")
        transport.write(header + mask + masked)

    # -- API ----------------------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        """Send one text message."""
        self._send_frame(0x1, text.encode("utf-8"))

    def next_id(self) -> str:
        """A fresh message id for this connection."""
        self.sequence += 1
        return str(self.sequence)

    async def call(self, action: str, payload: str, timeout: float = 60.0) -> str:
        """Send a CALL (``payload`` already JSON) and return the raw answer frame."""
        waiter = asyncio.get_running_loop().create_future()
        self._waiter = waiter
        self.send_text(f'[2,"{self.next_id()}","{action}",{payload}]')
        try:
            return await asyncio.wait_for(waiter, timeout)
        finally:
            self._waiter = None

    def close(self) -> None:
        """Send a close frame; the server closes the TCP connection."""
        if self._open:
            self._send_frame(0x8, (1000).to_bytes(2, "big"))
            self._open = False
        elif self.transport is not None:
            self.transport.close()


async def open_clients(
    host: str, port: int, prefix: str, ids: list[str]
) -> tuple[list[LoadClient], int]:
    """Connect every id at once; returns the connected clients and the number that failed."""
    loop = asyncio.get_running_loop()

    async def one(charge_point_id: str) -> LoadClient | None:
        client = LoadClient(host, port, f"{prefix}/{charge_point_id}")
        try:
            await loop.create_connection(lambda: client, host, port)
            await asyncio.wait_for(client.upgraded, 60)
        except (TimeoutError, OSError, ConnectionError):
            if client.transport is not None:
                client.transport.close()
            return None
        return client

    results = await asyncio.gather(*(one(i) for i in ids))
    clients = [c for c in results if c is not None]
    return clients, len(ids) - len(clients)


class Child:
    """A child process spoken to over its stdin and stdout, one JSON object a line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, script: str, *arguments: str) -> Child:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            script,
            *arguments,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            limit=1 << 24,
        )
        return cls(process)

    async def read(self, timeout: float = 120.0) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"child {self.process.pid} ended")
        return dict(json.loads(line))

    async def ask(self, timeout: float = 120.0, **command: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write((json.dumps(command) + "\n").encode())
        await self.process.stdin.drain()
        return await self.read(timeout)

    async def stop(self) -> None:
        if self.process.returncode is None:
            if self.process.stdin is not None:
                self.process.stdin.close()
            try:
                await asyncio.wait_for(self.process.wait(), 20)
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
