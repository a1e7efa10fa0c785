"""Fuzz and soak a real WebSocket server with hostile frames from several clients.

A :class:`~ocpp16csms.CentralSystem` (in-memory or SQLite stores) is served by
``ocpp16csms.transports.websockets`` on a loopback port. ``--clients`` charge points (all
registered and Accepted, so frames reach validation and the handlers) each send their share of
``--frames`` frames: valid CALLs of every charge-point action, the same CALLs mutated (lone
surrogates, integers past 64 bits, extreme and odd timestamps, long strings, deep nesting,
unknown and missing fields), unknown actions, broken JSON, frames that are not OCPP-J,
answers to nothing, invalid UTF-8, pipelined bursts and, rarely, a frame over the size limit.
A probe charge point sends a Heartbeat every 100 ms and times the answer.

It reports, and the exit status fails on:

* crashes: errors the library logged with a traceback (a handler failing on a valid message,
  a frame that could not be processed or encoded) and ``InternalError`` answers;
* hangs: a CALL that expects an answer and has none after 5 s;
* unexpected closes: the server closing a connection other than for an oversized frame;

and it reports memory growth (RSS) and the probe's latency. Bounded by ``--frames`` and
``--seconds``, whichever ends first. ``--attach``: instead of the shipped adapter, a bare
websockets server of the host's own pushes each frame into ``CentralSystem.attach``.

    python benchmarks/fuzz_soak.py                      # 5,000 frames, a few seconds
    python benchmarks/fuzz_soak.py --frames 1000000     # the long soak
    python benchmarks/fuzz_soak.py --attach             # the push path
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import AsyncExitStack, suppress
from typing import Any

import attrs
from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection
from websockets.asyncio.server import serve as websockets_serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    IdTagRecord,
    Stores,
    memory_stores,
    sqlite_stores,
)
from ocpp16csms.messages import RegistrationStatus
from ocpp16csms.transports.websockets import WebSocketConnection, WebSocketOptions, serve

HANG_AFTER = 5.0
WINDOW = 16  # CALLs a client keeps waiting for at once
MAX_FRAME = 2**16  # the server's frame size limit in this run (small, so oversize is cheap)

NOW = "2024-05-01T12:00:00Z"
METER = {
    "timestamp": NOW,
    "sampledValue": [{"value": "12.5", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}],
}
VALID: dict[str, dict[str, Any]] = {
    "Authorize": {"idTag": "TAG"},
    "BootNotification": {"chargePointVendor": "Fuzz", "chargePointModel": "F1"},
    "DataTransfer": {"vendorId": "fuzz", "messageId": "m", "data": "payload"},
    "DiagnosticsStatusNotification": {"status": "Idle"},
    "FirmwareStatusNotification": {"status": "Installed"},
    "Heartbeat": {},
    "LogStatusNotification": {"status": "Idle", "requestId": 1},
    "MeterValues": {"connectorId": 1, "transactionId": 1, "meterValue": [METER]},
    "SecurityEventNotification": {"type": "StartupOfTheDevice", "timestamp": NOW},
    "SignCertificate": {
        "csr": "-----BEGIN CERTIFICATE REQUEST-----\nAA==\n-----END CERTIFICATE REQUEST-----"
    },
    "SignedFirmwareStatusNotification": {"status": "Idle", "requestId": 1},
    "StartTransaction": {"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": NOW},
    "StatusNotification": {
        "connectorId": 1,
        "errorCode": "NoError",
        "status": "Available",
        "timestamp": NOW,
    },
    "StopTransaction": {
        "meterStop": 10,
        "timestamp": NOW,
        "transactionId": 1,
        "reason": "Local",
        "transactionData": [METER],
    },
}
ACTIONS = sorted(VALID)


def _hostile_values(rng: random.Random) -> Any:
    choice = rng.randrange(22)
    if choice == 0:
        return "\ud800" + "x" * rng.randrange(4)
    if choice == 1:
        return 2**63 - 1
    if choice == 2:
        return 2**63
    if choice == 3:
        return -(2**63) - rng.randrange(2)
    if choice == 4:
        return 10 ** rng.randrange(19, 400)
    if choice == 5:
        return rng.choice(
            [
                "9999-12-31T23:59:59-23:59",
                "0001-01-01T00:00:00+00:01",
                "2016-12-31T23:59:60Z",
                "2024-05-01t12:00:00z",
                "2024-05-01T12:00:00.123456789123Z",
                "2024-05-01T12:00:00",
                "2024-02-30T00:00:00Z",
            ]
        )
    if choice == 6:
        return "x" * rng.choice([20, 21, 25, 26, 50, 51, 255, 256, 500, 501, 5000])
    if choice == 7:
        nested: Any = 1
        for _ in range(rng.randrange(10, 200)):
            nested = [nested]
        return nested
    if choice == 8:
        return None
    if choice == 9:
        return rng.choice([True, False])
    if choice == 10:
        return rng.random() * 10 ** rng.randrange(-5, 300)
    if choice == 11:
        return {"\udfff": 1, "k": ["\ud83d"]}
    if choice == 12:
        return -rng.randrange(10**6)
    if choice == 13:
        return "\x00\x01\x1b[31m\u202e"
    if choice == 14:
        return rng.choice(["", " ", "Accepted", "Wh", "Energy.Active.Import.Register"])
    if choice == 15:
        return 1.5
    if choice == 16:
        return []
    if choice == 17:
        return json.loads(json.dumps([METER] * rng.randrange(1, 50)))
    if choice == 18:
        return rng.randrange(-5, 5)
    if choice == 19:
        return "é" * rng.randrange(1, 60)
    if choice == 20:
        return 9223372036854775807.0
    return {"nested": "\ud800"}


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _mutated(payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    payload = json.loads(json.dumps(payload))  # a deep copy
    for _ in range(rng.randrange(1, 4)):
        paths = _paths(payload)
        kind = rng.randrange(4)
        if kind == 0 or not paths:
            target: Any = payload
            name = rng.choice(["extra", "\ud800", "", "a" * 100, "idTag", "connectorId"])
            target[name] = _hostile_values(rng)
            continue
        path = rng.choice(paths)
        parent: Any = payload
        for step in path[:-1]:
            parent = parent[step]
        if kind == 1 and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = _hostile_values(rng)
    return payload


def _garbage(rng: random.Random, serial: int) -> str | bytes:
    gid = f"g{serial}"
    choice = rng.randrange(18)
    if choice == 0:
        return ""
    if choice == 1:
        return "[" * rng.randrange(1000, MAX_FRAME - 1000)
    if choice == 2:
        return f'[2,"{gid}","Heartbeat",{{'
    if choice == 3:
        return json.dumps([2, gid])
    if choice == 4:
        return json.dumps([5, gid, "Heartbeat", {}])
    if choice == 5:
        return json.dumps({"not": "a frame"})
    if choice == 6:
        return json.dumps([3, gid, {"status": "Accepted"}])
    if choice == 7:
        return json.dumps([4, gid, "GenericError", "", {}])
    if choice == 8:
        return b"\xff\xfe\x00garbage"
    if choice == 9:
        return json.dumps([2, "x" * 37, "Heartbeat", {}])
    if choice == 10:
        return '[2,"\\ud800","Heartbeat",{}]'
    if choice == 11:
        return json.dumps([2, gid, rng.choice(["Reset", "", "X" * 5000, "\ud800"]), {}])
    if choice == 12:
        return '[2,"' + gid + '","Heartbeat",{"a":NaN}]'
    if choice == 13:
        return '[2,"' + gid + '","MeterValues",{"connectorId":1e400}]'
    if choice == 14:
        return json.dumps([2, gid, "Heartbeat", []])
    if choice == 15:
        return "null"
    if choice == 16:
        return json.dumps([2, 17, "Heartbeat", {}])
    return json.dumps([2, gid, "Heartbeat", {}, "extra"])


@attrs.define
class Report:
    """What one run found."""

    frames: int = 0
    seconds: float = 0.0
    calls_expected: int = 0
    answers: Counter[str] = attrs.field(factory=Counter)
    internal_errors: list[str] = attrs.field(factory=list)
    crashes: list[str] = attrs.field(factory=list)
    timeouts: list[str] = attrs.field(factory=list)
    hangs: list[str] = attrs.field(factory=list)
    unexpected_closes: list[str] = attrs.field(factory=list)
    oversize_closes: int = 0
    probe_latencies: list[float] = attrs.field(factory=list)
    probe_failures: int = 0
    rss_start_mib: float = 0.0
    rss_end_mib: float = 0.0
    max_rss_mib: float = 0.0

    @property
    def ok(self) -> bool:
        """No crash, hang, InternalError, unexpected close or failed probe."""
        return not (
            self.crashes
            or self.timeouts
            or self.hangs
            or self.internal_errors
            or self.unexpected_closes
            or self.probe_failures
        )

    def summary(self) -> dict[str, Any]:
        """The figures as a JSON-ready dict."""
        latencies = sorted(self.probe_latencies) or [float("nan")]
        return {
            "ok": self.ok,
            "frames": self.frames,
            "seconds": round(self.seconds, 1),
            "frames_per_second": round(self.frames / self.seconds) if self.seconds else 0,
            "calls_expecting_an_answer": self.calls_expected,
            "answers": dict(self.answers),
            "internal_errors": len(self.internal_errors),
            "crashes": len(self.crashes),
            "handler_timeouts": len(self.timeouts),
            "hangs": len(self.hangs),
            "unexpected_closes": len(self.unexpected_closes),
            "oversize_closes": self.oversize_closes,
            "probe": {
                "count": len(self.probe_latencies),
                "failures": self.probe_failures,
                "p50_ms": round(statistics.median(latencies) * 1000, 2),
                "p99_ms": round(
                    latencies[int(len(latencies) * 0.99) - 1 if len(latencies) > 1 else 0] * 1000, 2
                ),
                "max_ms": round(latencies[-1] * 1000, 2),
            },
            "rss_mib": {
                "start": round(self.rss_start_mib, 1),
                "end": round(self.rss_end_mib, 1),
                "growth": round(self.rss_end_mib - self.rss_start_mib, 1),
                "max": round(self.max_rss_mib, 1),
            },
            "samples": {
                "crashes": self.crashes[:5],
                "handler_timeouts": self.timeouts[:5],
                "internal_errors": self.internal_errors[:5],
                "hangs": self.hangs[:5],
                "unexpected_closes": self.unexpected_closes[:5],
            },
        }


def _rss_mib() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Crashes(logging.Handler):
    """Collects what the library logs at ERROR and above: each one is a finding (a handler
    past its deadline is counted apart: with a slow store it is load, not a bug)."""

    def __init__(self, report: Report) -> None:
        super().__init__(logging.ERROR)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "did not finish within" in text or "given up after" in text:
            self.report.timeouts.append(text[:300])
            return
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        self.report.crashes.append(text[:300])


class _Client:
    """One hostile charge point: sends its share of frames, tracks every CALL it expects
    answered, reconnects after an oversize close."""

    def __init__(self, name: str, url: str, rng: random.Random, report: Report) -> None:
        self.name = name
        self.url = url
        self.rng = rng
        self.report = report
        self.waiting: dict[str, tuple[float, str]] = {}
        self.window = asyncio.Semaphore(WINDOW)
        self.serial = 0
        self.closing_for_size = False

    def _next_frame(self) -> tuple[str | bytes, str | None]:
        """A frame and the id of the answer it must get (None: no answer is owed)."""
        self.serial += 1
        rng = self.rng
        roll = rng.random()
        if roll < 0.0005:
            self.closing_for_size = True
            return json.dumps(
                [2, f"o{self.serial}", "DataTransfer", {"vendorId": "v", "data": "x" * MAX_FRAME}]
            ), None
        if roll < 0.25:
            return _garbage(rng, self.serial), None
        message_id = f"e{self.serial}"
        action = rng.choice(ACTIONS) if roll < 0.95 else rng.choice(["Reset", "Nope", "heartbeat"])
        payload = VALID.get(action, {})
        if roll < 0.6:
            payload = _mutated(payload, rng)
        try:
            return json.dumps([2, message_id, action, payload]), message_id
        except (ValueError, RecursionError):  # nothing JSON can carry: send garbage instead
            return _garbage(rng, self.serial), None

    async def run(self, frames: int, deadline: float) -> None:
        sent = 0
        while sent < frames and time.monotonic() < deadline:
            async with connect(
                self.url + "/" + self.name,
                subprotocols=[Subprotocol("ocpp1.6")],
                max_size=None,
                open_timeout=10,
                compression=None,
            ) as websocket:
                self.closing_for_size = False
                reader = asyncio.create_task(self._read(websocket))
                try:
                    while sent < frames and time.monotonic() < deadline:
                        frame, expected = self._next_frame()
                        if expected is not None:
                            await self.window.acquire()
                            self.waiting[expected] = (
                                time.monotonic(),
                                frame if isinstance(frame, str) else "",
                            )
                            self.report.calls_expected += 1
                        try:
                            await websocket.send(frame)
                        except ConnectionClosed:
                            break
                        sent += 1
                        self.report.frames += 1
                        if self.closing_for_size:
                            break
                    if self.closing_for_size:
                        # The server closes (1009): let the reader see it.
                        await asyncio.wait([reader], timeout=2)
                    await self._drain(deadline)
                finally:
                    reader.cancel()
                    with suppress(asyncio.CancelledError):
                        await reader
            self._abandon()

    async def _drain(self, deadline: float) -> None:
        end = time.monotonic() + HANG_AFTER + 1
        while self.waiting and time.monotonic() < end and not self.closing_for_size:
            await asyncio.sleep(0.01)

    def _abandon(self) -> None:
        now = time.monotonic()
        for message_id, (sent_at, frame) in list(self.waiting.items()):
            if not self.closing_for_size and now - sent_at > HANG_AFTER:
                self.report.hangs.append(f"{self.name} {message_id}: {frame[:200]}")
            del self.waiting[message_id]
            self.window.release()

    async def _read(self, websocket: ClientConnection) -> None:
        try:
            async for text in websocket:
                self._reply(text)
        except ConnectionClosed:
            pass
        # The reader is cancelled before this client closes: any close seen here is the server's.
        code = websocket.close_code
        if code == 1009 and self.closing_for_size:
            self.report.oversize_closes += 1
        else:
            self.report.unexpected_closes.append(
                f"{self.name}: closed {code} {websocket.close_reason!r}"
            )

    def _reply(self, text: str | bytes) -> None:
        frame = json.loads(text)
        if frame[0] == 2:
            return  # a CALL of the central system: this client never answers
        kind = "CALLRESULT" if frame[0] == 3 else frame[2]
        self.report.answers[kind] += 1
        waited = self.waiting.pop(frame[1], None)
        if waited is not None:
            self.window.release()
        if frame[0] == 4 and frame[2] == "InternalError":
            sent = waited[1] if waited else "?"
            self.report.internal_errors.append(
                f"{self.name} {frame[1]}: {frame[3]} <- {sent[:200]}"
            )

    def check_hangs(self) -> None:
        now = time.monotonic()
        for message_id, (sent_at, frame) in list(self.waiting.items()):
            if now - sent_at > HANG_AFTER:
                self.report.hangs.append(f"{self.name} {message_id}: {frame[:200]}")
                del self.waiting[message_id]
                self.window.release()


async def _probe(url: str, report: Report, stop: asyncio.Event) -> None:
    async with connect(
        url + "/PROBE", subprotocols=[Subprotocol("ocpp1.6")], open_timeout=10
    ) as websocket:
        serial = 0
        while not stop.is_set():
            serial += 1
            started = time.perf_counter()
            try:
                await websocket.send(json.dumps([2, f"p{serial}", "Heartbeat", {}]))
                async with asyncio.timeout(HANG_AFTER):
                    while True:
                        reply = json.loads(await websocket.recv())
                        if reply[1] == f"p{serial}":
                            break
                report.probe_latencies.append(time.perf_counter() - started)
            except (TimeoutError, ConnectionClosed):
                report.probe_failures += 1
                if isinstance(websocket.close_code, int):
                    return
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)


async def _attached_server(cs: CentralSystem, stack: AsyncExitStack) -> int:
    """A bare websockets server that pushes every frame into ``cs.attach``; its port."""

    async def handle(connection: ServerConnection) -> None:
        assert connection.request is not None
        charge_point_id = connection.request.path.rsplit("/", 1)[-1]
        async with cs.attach(charge_point_id, WebSocketConnection(connection)) as attached:
            with suppress(ConnectionClosed):
                async for message in connection:
                    await attached.receive(message)

    server = await stack.enter_async_context(
        websockets_serve(
            handle, "127.0.0.1", 0, subprotocols=[Subprotocol("ocpp1.6")], max_size=MAX_FRAME
        )
    )
    port: int = next(iter(server.sockets)).getsockname()[1]
    return port


async def run(
    *,
    frames: int = 5000,
    clients: int = 4,
    seconds: float = 60.0,
    seed: int = 1,
    store: str = "memory",
    configure: Callable[[CentralSystem], None] | None = None,
    attach: bool = False,
) -> Report:
    """One fuzz and soak run; see the module docstring. ``configure`` may change the central
    system before it serves (tests plant a fault this way to see it reported); ``attach``
    pushes the frames in through ``CentralSystem.attach`` instead of the adapter."""
    report = Report()
    names = [f"FUZZ{n}" for n in range(clients)]
    records = [
        ChargePointRecord(charge_point_id=cp, registration_status=RegistrationStatus.ACCEPTED)
        for cp in [*names, "PROBE"]
    ]
    crashes = _Crashes(report)
    library = logging.getLogger("ocpp16csms")
    level = library.level
    # Every refused CALL is logged at WARNING; only ERROR and above are findings.
    library.setLevel(logging.ERROR)
    library.addHandler(crashes)
    try:
        async with AsyncExitStack() as stack:
            stores: Stores
            if store == "sqlite":
                directory = stack.enter_context(tempfile.TemporaryDirectory())
                stores = await stack.enter_async_context(
                    sqlite_stores(os.path.join(directory, "fuzz.sqlite3"))
                )
                for record in records:
                    await stores.charge_points.save(record)
                await stores.id_tags.save(IdTagRecord(id_tag="TAG"))
            else:
                stores = memory_stores(charge_points=records, id_tags=[IdTagRecord(id_tag="TAG")])
            options = CentralSystemOptions(
                heartbeat_interval=3600,
                unknown_charge_points="accept",
                call_timeout=2.0,
                handler_timeout=HANG_AFTER - 1,
            )
            cs = await stack.enter_async_context(CentralSystem(stores, options))
            if configure is not None:
                configure(cs)
            if attach:
                port = await _attached_server(cs, stack)
            else:
                server = await serve(
                    cs, "127.0.0.1", 0, options=WebSocketOptions(max_frame_size=MAX_FRAME)
                )
                await stack.enter_async_context(server)
                port = server.port
            url = f"ws://127.0.0.1:{port}/ocpp"
            report.rss_start_mib = _rss_mib()
            started = time.monotonic()
            deadline = started + seconds
            stop = asyncio.Event()
            probe = asyncio.create_task(_probe(url, report, stop))
            rng = random.Random(seed)
            fuzzers = [_Client(name, url, random.Random(rng.random()), report) for name in names]
            share = [frames // clients + (1 if n < frames % clients else 0) for n in range(clients)]

            async def watchdog() -> None:
                while True:
                    await asyncio.sleep(0.5)
                    for client in fuzzers:
                        client.check_hangs()
                    report.max_rss_mib = max(report.max_rss_mib, _rss_mib())

            watcher = asyncio.create_task(watchdog())
            await asyncio.gather(*(c.run(n, deadline) for c, n in zip(fuzzers, share, strict=True)))
            report.seconds = time.monotonic() - started
            stop.set()
            await probe
            watcher.cancel()
            report.rss_end_mib = _rss_mib()
            report.max_rss_mib = max(report.max_rss_mib, report.rss_end_mib)
    finally:
        library.removeHandler(crashes)
        library.setLevel(level)
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--frames", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=900.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--store", choices=["memory", "sqlite"], default="memory")
    parser.add_argument("--attach", action="store_true", help="push frames into cs.attach")
    args = parser.parse_args()
    logging.basicConfig(level=logging.CRITICAL)  # findings are collected, not printed
    report = asyncio.run(
        run(
            frames=args.frames,
            clients=args.clients,
            seconds=args.seconds,
            seed=args.seed,
            store=args.store,
            attach=args.attach,
        )
    )
    print(json.dumps(report.summary(), indent=2, ensure_ascii=True))
    sys.exit(0 if report.ok else 1)


if __name__ == "__main__":
    main()
