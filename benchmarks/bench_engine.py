"""Frame in → reply out through the whole central system, against the JSON floor and `ocpp`.

Each side gets a CALL frame and produces its CALLRESULT frame, one message at a time (closed
loop), in one process:

* ocpp16csms: a :class:`~ocpp16csms.CentralSystem` with memory stores and its default
  handlers, twice: "attach" pushes each frame in (``cs.attach``, ``connection.receive``) and
  the answer goes to a send function, the same shape as ``ocpp``'s ``route_message``; "serve
  (pipe)" serves one charge point over an in-memory connection (``cs.serve``), the frame
  going in through the connection and the reply coming out of it (a receive loop, a task
  per CALL and two trips through the event loop per message that the others do not make);
* the ``ocpp`` package from PyPI (``pip install ocpp``): ``ChargePoint.route_message`` with
  trivial handlers that answer like ours, its schema validation on, once in a worker thread
  (its default) and once inline (``ocpp.messages.ASYNC_VALIDATION = False``);
* the floor: ``json.loads`` of the frame + ``json.dumps`` of the same frame;
* the sans-IO ``Session`` alone with a fixed reply per action: the wire layer's share (every
  check of the frame and of the answer, no event loop, handler or store).

Three workloads: the mix (BootNotification, Heartbeat, StatusNotification, MeterValues with 10
sampled values), StartTransaction/StopTransaction pairs, and Heartbeat alone. Every frame is
unique where the central system deduplicates (timestamps, meter readings).

    python benchmarks/bench_engine.py [--seconds 3] [--backend asyncio|trio] [--per-action]
        [--runs 5] [--only Heartbeat]
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from ocpp16csms import CentralSystem, ChargePointRecord, memory_connection_pair, memory_stores
from ocpp16csms.messages import RegistrationStatus

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _stamp(i: int) -> str:
    return (T0 + timedelta(seconds=i)).isoformat().replace("+00:00", "Z")


def _sampled(i: int) -> list[dict[str, Any]]:
    measurands = [
        ("Energy.Active.Import.Register", "Wh"),
        ("Power.Active.Import", "W"),
        ("Current.Import", "A"),
        ("Voltage", "V"),
        ("SoC", "Percent"),
    ]
    return [
        {
            "value": str(1000 + i + k),
            "context": "Sample.Periodic",
            "measurand": measurands[k % 5][0],
            "unit": measurands[k % 5][1],
            "location": "Outlet",
            **({"phase": "L1"} if k % 3 == 0 else {}),
        }
        for k in range(10)
    ]


def mix() -> Iterator[str]:
    i = 0
    while True:
        i += 1
        yield json.dumps(
            [2, f"b{i}", "BootNotification", {"chargePointVendor": "Acme", "chargePointModel": "X"}]
        )
        yield json.dumps([2, f"h{i}", "Heartbeat", {}])
        yield json.dumps(
            [
                2,
                f"s{i}",
                "StatusNotification",
                {
                    "connectorId": 1,
                    "errorCode": "NoError",
                    "status": "Available",
                    "timestamp": _stamp(i),
                },
            ]
        )
        yield json.dumps(
            [
                2,
                f"m{i}",
                "MeterValues",
                {
                    "connectorId": 1,
                    "meterValue": [{"timestamp": _stamp(i), "sampledValue": _sampled(i)}],
                },
            ]
        )


def start_stop() -> Iterator[str]:
    i = 0
    while True:
        i += 1
        yield json.dumps(
            [
                2,
                f"a{i}",
                "StartTransaction",
                {"connectorId": 1, "idTag": "TAG1", "meterStart": i * 10, "timestamp": _stamp(i)},
            ]
        )
        # The central system numbers transactions from 1, one per start.
        yield json.dumps(
            [
                2,
                f"z{i}",
                "StopTransaction",
                {"transactionId": i, "meterStop": i * 10 + 5, "timestamp": _stamp(i)},
            ]
        )


def heartbeats() -> Iterator[str]:
    i = 0
    while True:
        i += 1
        yield json.dumps([2, f"h{i}", "Heartbeat", {}])


WORKLOADS: dict[str, Callable[[], Iterator[str]]] = {
    "mix": mix,
    "Start/Stop pairs": start_stop,
    "Heartbeat": heartbeats,
}


def _one_action(
    action: str, payload: Callable[[int], dict[str, Any]]
) -> Callable[[], Iterator[str]]:
    def frames() -> Iterator[str]:
        i = 0
        while True:
            i += 1
            yield json.dumps([2, f"{action[:2]}{i}", action, payload(i)])

    return frames


def _run_now(job: Any) -> Any:
    """The result of a coroutine that completes without waiting (a memory store's method)."""
    try:
        job.send(None)
    except StopIteration as done:
        return done.value
    raise RuntimeError("the store waited")


class _MatchedStops:
    """StopTransaction frames, each for a transaction of its own started while the frame is
    made (before the timing starts, as every frame): the usual stop. Without a store to start
    them in (the floor, the Session, ``ocpp``) the ids simply count up."""

    # Made and timed in batches of 50, as every other row: the transactions of a batch are
    # started before its time starts, so up to 50 run on CP1 at once, which changes the cost
    # of no stop (each is found by its id, and unindexed from a dict per charge point). Timed
    # one frame at a time instead (last round's figures) each message carried ~3 µs of timer
    # and cache disturbance from the untimed start in between, in every column alike.

    def __init__(self) -> None:
        self.i = 0
        self.store: Any = None

    def __iter__(self) -> _MatchedStops:
        return self

    def __next__(self) -> str:
        from ocpp16csms.messages import AuthorizationStatus
        from ocpp16csms.stores import TransactionStart

        self.i += 1
        transaction_id = self.i
        if self.store is not None:
            start = TransactionStart(
                charge_point_id="CP1",
                connector_id=1,
                id_tag="TAG1",
                meter_start=self.i,
                timestamp=T0 + timedelta(seconds=self.i),
                id_tag_status=AuthorizationStatus.ACCEPTED,
            )
            record, _ = _run_now(self.store.start(start))
            transaction_id = record.transaction_id
        payload = {
            "transactionId": transaction_id,
            "meterStop": self.i + 5,
            "timestamp": _stamp(self.i),
        }
        return json.dumps([2, f"St{self.i}", "StopTransaction", payload])


def _prepare(frames: Iterator[str], cs: CentralSystem) -> None:
    if isinstance(frames, _MatchedStops):
        frames.store = cs.stores.transactions


# Every action a charge point sends that both libraries serve (--per-action). Each frame is
# unique where the central system deduplicates. StopTransaction stops a transaction started
# for it; "StopTransaction (unmatched)" names transactions that never started (each kept for
# reconciliation and logged as a warning, which the timing includes).
PER_ACTION: dict[str, Callable[[], Iterator[str]]] = {
    "Authorize": _one_action("Authorize", lambda i: {"idTag": "TAG1"}),
    "BootNotification": _one_action(
        "BootNotification", lambda i: {"chargePointVendor": "Acme", "chargePointModel": "X"}
    ),
    "DataTransfer": _one_action(
        "DataTransfer", lambda i: {"vendorId": "com.example", "messageId": "m", "data": str(i)}
    ),
    "DiagnosticsStatusNotification": _one_action(
        "DiagnosticsStatusNotification", lambda i: {"status": "Uploaded"}
    ),
    "FirmwareStatusNotification": _one_action(
        "FirmwareStatusNotification", lambda i: {"status": "Installed"}
    ),
    "Heartbeat": heartbeats,
    "MeterValues": _one_action(
        "MeterValues",
        lambda i: {
            "connectorId": 1,
            "meterValue": [{"timestamp": _stamp(i), "sampledValue": _sampled(i)}],
        },
    ),
    "StartTransaction": _one_action(
        "StartTransaction",
        lambda i: {"connectorId": 1, "idTag": "TAG1", "meterStart": i, "timestamp": _stamp(i)},
    ),
    "StatusNotification": _one_action(
        "StatusNotification",
        lambda i: {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": "Available",
            "timestamp": _stamp(i),
        },
    ),
    "StopTransaction": lambda: _MatchedStops(),
    "StopTransaction (unmatched)": _one_action(
        "StopTransaction",
        lambda i: {"transactionId": 10**6 + i, "meterStop": i, "timestamp": _stamp(i)},
    ),
    "SecurityEventNotification": _one_action(
        "SecurityEventNotification",
        lambda i: {"type": "FirmwareUpdated", "timestamp": _stamp(i)},
    ),
    "LogStatusNotification": _one_action(
        "LogStatusNotification", lambda i: {"status": "Uploaded", "requestId": i}
    ),
    "SignedFirmwareStatusNotification": _one_action(
        "SignedFirmwareStatusNotification", lambda i: {"status": "Installed", "requestId": i}
    ),
}

Runner = Callable[[Iterator[str], float], Awaitable[float]]


class _Timer:
    """Times the work on frames only: each batch of 50 frames is made (json.dumps of a
    MeterValues costs more than parsing it) before its time starts."""

    def __init__(self, frames: Iterator[str], seconds: float) -> None:
        self.frames = frames
        self.seconds = seconds
        self.spent = 0.0
        self.n = 0

    def batches(self) -> Iterator[list[str]]:
        size = getattr(self.frames, "batch", 50)
        while self.spent < self.seconds:
            batch = [next(self.frames) for _ in range(size)]
            start = time.perf_counter()
            yield batch
            self.spent += time.perf_counter() - start
            self.n += len(batch)

    @property
    def per_message(self) -> float:
        """µs per message."""
        return self.spent / self.n * 1e6


async def _central_system() -> CentralSystem:
    """A central system with memory stores, CP1 registered and TAG1 accepted."""
    from ocpp16csms import IdTagRecord
    from ocpp16csms.messages import AuthorizationStatus

    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
            )
        ]
    )
    await stores.id_tags.save(IdTagRecord(id_tag="TAG1", status=AuthorizationStatus.ACCEPTED))
    return CentralSystem(stores)


async def ours(frames: Iterator[str], seconds: float) -> float:
    """µs per message through CentralSystem.serve over an in-memory connection."""
    cs = await _central_system()
    _prepare(frames, cs)
    cs_end, cp_end = memory_connection_pair()
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, cs_end, "CP1")
        for _ in range(200):  # warm up: compiled validators, generated hooks
            await cp_end.send(next(frames))
            await cp_end.receive()
        timer = _Timer(frames, seconds)
        for batch in timer.batches():
            for frame in batch:
                await cp_end.send(frame)
                reply = await cp_end.receive()
        assert reply.startswith("[3,"), reply
        await cp_end.close()
        group.cancel_scope.cancel()
    return timer.per_message


class _Sink:
    """Where the answers go: a list, as the ``ocpp`` runner's connection."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        pass


async def ours_attached(frames: Iterator[str], seconds: float) -> float:
    """µs per message through CentralSystem.attach: the frame pushed in, the answer handed to
    a send function (the shape of ``ocpp``'s route_message, which the other columns time)."""
    cs = await _central_system()
    _prepare(frames, cs)
    sink = _Sink()
    async with cs.attach("CP1", sink) as connection:
        receive = connection.receive
        for _ in range(200):
            await receive(next(frames))
        timer = _Timer(frames, seconds)
        for batch in timer.batches():
            sink.sent.clear()
            for frame in batch:
                await receive(frame)
        assert len(sink.sent) == len(batch), sink.sent
        assert all(reply.startswith("[3,") for reply in sink.sent), sink.sent
    return timer.per_message


async def session_only(frames: Iterator[str], seconds: float) -> float:
    """µs per message through the sans-IO Session alone, answered at once by a fixed reply:
    decode, validate and structure the CALL; unstructure, validate and encode the answer.
    Every check of the wire, no event loop, no handler, no store."""
    from ocpp16csms import messages as m
    from ocpp16csms.session import CallReceived, Session

    now = datetime.now(UTC)
    replies: dict[str, Any] = {
        "BootNotification": m.BootNotificationResponse(
            current_time=now, interval=300, status=RegistrationStatus.ACCEPTED
        ),
        "Heartbeat": m.HeartbeatResponse(current_time=now),
        "StatusNotification": m.StatusNotificationResponse(),
        "MeterValues": m.MeterValuesResponse(),
        "StartTransaction": m.StartTransactionResponse(
            transaction_id=1, id_tag_info=m.IdTagInfo(status=m.AuthorizationStatus.ACCEPTED)
        ),
        "StopTransaction": m.StopTransactionResponse(),
        "Authorize": m.AuthorizeResponse(
            id_tag_info=m.IdTagInfo(status=m.AuthorizationStatus.ACCEPTED)
        ),
        "DataTransfer": m.DataTransferResponse(status=m.DataTransferStatus.UNKNOWN_VENDOR_ID),
        "DiagnosticsStatusNotification": m.DiagnosticsStatusNotificationResponse(),
        "FirmwareStatusNotification": m.FirmwareStatusNotificationResponse(),
        "SecurityEventNotification": m.SecurityEventNotificationResponse(),
        "LogStatusNotification": m.LogStatusNotificationResponse(),
        "SignedFirmwareStatusNotification": m.SignedFirmwareStatusNotificationResponse(),
    }
    session = Session("CP1", registration=RegistrationStatus.ACCEPTED)
    timer = _Timer(frames, seconds)
    for batch in timer.batches():
        for frame in batch:
            (event,) = session.receive_text(frame, 0.0)
            assert isinstance(event, CallReceived)
            session.send_result(event.message_id, replies[event.request.action])
            (reply,) = session.outgoing()
    assert reply.startswith("[3,"), reply
    return timer.per_message


async def ocpp_package(frames: Iterator[str], seconds: float) -> float:
    """µs per message through ocpp's ChargePoint.route_message with trivial handlers."""
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call_result
    from ocpp.v16.enums import Action, AuthorizationStatus, DataTransferStatus, RegistrationStatus

    class Sink:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, text: str) -> None:
            self.sent.append(text)

        async def recv(self) -> str:  # pragma: no cover - route_message does not read
            raise RuntimeError

    now = datetime.now(UTC).isoformat()

    class Handlers(ChargePoint):  # type: ignore[misc]
        transaction = 0

        @on(Action.boot_notification)  # type: ignore[misc]
        def boot(self, **kwargs: Any) -> Any:
            return call_result.BootNotification(
                current_time=now, interval=300, status=RegistrationStatus.accepted
            )

        @on(Action.heartbeat)  # type: ignore[misc]
        def heartbeat(self, **kwargs: Any) -> Any:
            return call_result.Heartbeat(current_time=now)

        @on(Action.status_notification)  # type: ignore[misc]
        def status(self, **kwargs: Any) -> Any:
            return call_result.StatusNotification()

        @on(Action.meter_values)  # type: ignore[misc]
        def meter_values(self, **kwargs: Any) -> Any:
            return call_result.MeterValues()

        @on(Action.start_transaction)  # type: ignore[misc]
        def start(self, **kwargs: Any) -> Any:
            Handlers.transaction += 1
            return call_result.StartTransaction(
                transaction_id=Handlers.transaction,
                id_tag_info={"status": AuthorizationStatus.accepted},
            )

        @on(Action.stop_transaction)  # type: ignore[misc]
        def stop(self, **kwargs: Any) -> Any:
            return call_result.StopTransaction()

        @on(Action.authorize)  # type: ignore[misc]
        def authorize(self, **kwargs: Any) -> Any:
            return call_result.Authorize(id_tag_info={"status": AuthorizationStatus.accepted})

        @on(Action.data_transfer)  # type: ignore[misc]
        def data_transfer(self, **kwargs: Any) -> Any:
            return call_result.DataTransfer(status=DataTransferStatus.unknown_vendor_id)

        @on(Action.diagnostics_status_notification)  # type: ignore[misc]
        def diagnostics(self, **kwargs: Any) -> Any:
            return call_result.DiagnosticsStatusNotification()

        @on(Action.firmware_status_notification)  # type: ignore[misc]
        def firmware(self, **kwargs: Any) -> Any:
            return call_result.FirmwareStatusNotification()

        @on(Action.security_event_notification)  # type: ignore[misc]
        def security_event(self, **kwargs: Any) -> Any:
            return call_result.SecurityEventNotification()

        @on(Action.log_status_notification)  # type: ignore[misc]
        def log_status(self, **kwargs: Any) -> Any:
            return call_result.LogStatusNotification()

        @on(Action.signed_firmware_status_notification)  # type: ignore[misc]
        def signed_firmware(self, **kwargs: Any) -> Any:
            return call_result.SignedFirmwareStatusNotification()

    sink = Sink()
    cp = Handlers("CP1", sink)
    for _ in range(200):
        await cp.route_message(next(frames))
    timer = _Timer(frames, seconds)
    for batch in timer.batches():
        for frame in batch:
            await cp.route_message(frame)
    assert sink.sent[-1].startswith("[3,"), sink.sent[-1]
    return timer.per_message


async def ocpp_package_inline(frames: Iterator[str], seconds: float) -> float:
    """The same, with ``ocpp.messages.ASYNC_VALIDATION = False``: its schema validation runs
    inline instead of in a worker thread (its fastest setting)."""
    import ocpp.messages

    previous = ocpp.messages.ASYNC_VALIDATION
    ocpp.messages.ASYNC_VALIDATION = False
    try:
        return await ocpp_package(frames, seconds)
    finally:
        ocpp.messages.ASYNC_VALIDATION = previous


async def floor(frames: Iterator[str], seconds: float) -> float:
    """µs per message for json.loads of the frame and json.dumps of the same frame (#16's
    definition of the floor)."""
    timer = _Timer(frames, seconds)
    for batch in timer.batches():
        for text in batch:
            json.dumps(json.loads(text))
    return timer.per_message


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--backend", choices=["asyncio", "trio"], default="asyncio")
    parser.add_argument(
        "--per-action",
        action="store_true",
        help="every charge-point action alone instead of the three workloads",
    )
    parser.add_argument(
        "--runs", type=int, default=5, help="runs per column; the best (least disturbed) counts"
    )
    parser.add_argument(
        "--only", action="append", default=[], help="just this workload or action (repeatable)"
    )
    args = parser.parse_args()
    runners: dict[str, Runner] = {"json floor": floor, "Session alone": session_only}
    runners["serve (pipe)"] = ours
    runners["attach"] = ours_attached
    try:
        import ocpp.v16  # noqa: F401
    except ImportError:
        print("(the ocpp package is not installed: pip install ocpp)")
    else:
        if args.backend == "trio":
            print("(the ocpp package runs on asyncio only: compare with an asyncio run)")
    if "ocpp" in sys.modules and args.backend == "asyncio":
        runners["ocpp (PyPI)"] = ocpp_package
        runners["ocpp inline"] = ocpp_package_inline
    runs = max(1, args.runs)
    print(
        f"backend {args.backend}; µs per message, best of {runs} runs of {args.seconds / runs:g} s"
    )
    width = 34 if args.per_action else 18
    print(
        f"{'workload':<{width}}" + "".join(f"{name:>14}" for name in runners) + f"{'× floor':>10}"
    )
    for workload, frames in (PER_ACTION if args.per_action else WORKLOADS).items():
        if args.only and workload not in args.only:
            continue
        # Round-robin over the columns, one run of each in turn: a burst of load on the
        # shared machine then spoils one run of every column rather than all of one column's.
        results: dict[str, list[float]] = {name: [] for name in runners}
        for _ in range(runs):
            for name, runner in runners.items():
                gc.collect()
                results[name].append(
                    anyio.run(runner, frames(), args.seconds / runs, backend=args.backend)
                )
        figures = {name: min(times) for name, times in results.items()}
        ratio = figures["attach"] / figures["json floor"]
        row = "".join(f"{figures[name]:>14.1f}" for name in runners)
        print(f"{workload:<{width}}{row}{ratio:>10.1f}")
        if "ocpp (PyPI)" in figures:
            for ours_name in ("attach", "serve (pipe)"):
                mine = figures[ours_name]
                print(
                    f"{'':<{width}}{ours_name}: {figures['ocpp (PyPI)'] / mine:.1f}× ocpp, "
                    f"{figures['ocpp inline'] / mine:.1f}× ocpp with inline validation"
                )


if __name__ == "__main__":
    main()
