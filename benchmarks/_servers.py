"""The servers under test of bench_scale.py and bench_fleet.py, one per implementation.

- ``ocpp16csms``: a :class:`~ocpp16csms.CentralSystem` with the in-memory stores (every
  charge point registered Accepted, the id tag ``TAG`` known) on the ``websockets`` adapter,
  with its default options.
- ``ocpp``: the ``ocpp`` package from PyPI (2.1.0): one ``ocpp.v16.ChargePoint`` per
  connection on ``websockets.serve``, trivial handlers, its default (validation in a thread).
- ``floor``: ``websockets.serve`` with ``json.loads``/``json.dumps`` and a fixed answer per
  action: what any Python server on this WebSocket library pays at least.

All three use the same WebSocket settings as the adapter: ``ocpp1.6`` subprotocol, pings
every 60 s, frames up to 1 MiB, no compression. Not a module of the SDK.
"""

from __future__ import annotations

import contextlib
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import attrs

__all__ = ["IMPLEMENTATIONS", "Served", "serve_implementation"]

IMPLEMENTATIONS = ("floor", "ocpp16csms", "ocpp")

WEBSOCKET_SETTINGS: dict[str, Any] = {
    "ping_interval": 60.0,
    "ping_timeout": 30.0,
    "max_size": 2**20,
    "compression": None,
}


@attrs.define
class Served:
    """A running server: its port, who is connected, and the operator's call."""

    port: int
    connected: Callable[[], list[str]]
    operator_call: Callable[[str], Awaitable[None]]


def _now() -> str:
    return datetime.now(UTC).isoformat()


@contextlib.asynccontextmanager
async def serve_implementation(
    implementation: str, ids: list[str], backlog: int
) -> AsyncIterator[Served]:
    """Serve ``implementation`` on a free loopback port until the block ends."""
    if implementation == "ocpp16csms":
        serving = _serve_ocpp16csms(ids, backlog)
    elif implementation == "ocpp":
        serving = _serve_ocpp(backlog)
    elif implementation == "floor":
        serving = _serve_floor(backlog)
    else:
        raise SystemExit(f"unknown implementation {implementation!r}")
    async with serving as served:
        yield served


@contextlib.asynccontextmanager
async def _serve_ocpp16csms(ids: list[str], backlog: int) -> AsyncIterator[Served]:
    from ocpp16csms import (
        CentralSystem,
        CentralSystemOptions,
        ChargePointRecord,
        IdTagRecord,
        memory_stores,
    )
    from ocpp16csms.messages import RegistrationStatus
    from ocpp16csms.transports.websockets import serve

    stores = memory_stores(
        charge_points=[
            ChargePointRecord(charge_point_id=cp, registration_status=RegistrationStatus.ACCEPTED)
            for cp in ids
        ],
        id_tags=[IdTagRecord(id_tag="TAG")],
    )
    cs = CentralSystem(stores, CentralSystemOptions())

    async def operator_call(charge_point_id: str) -> None:
        await cs.core.get_configuration(charge_point_id, ["HeartbeatInterval"])

    async with cs, await serve(cs, "127.0.0.1", 0, backlog=backlog) as server:
        yield Served(server.port, lambda: list(cs.connected_charge_points), operator_call)


@contextlib.asynccontextmanager
async def _serve_ocpp(backlog: int) -> AsyncIterator[Served]:
    from ocpp.routing import on
    from ocpp.v16 import ChargePoint, call, call_result
    from ocpp.v16.enums import Action, AuthorizationStatus, RegistrationStatus
    from websockets.asyncio.server import ServerConnection
    from websockets.asyncio.server import serve as websockets_serve
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Subprotocol

    transaction_ids = itertools.count(1)

    class Handlers(ChargePoint):  # type: ignore[misc]
        @on(Action.boot_notification)  # type: ignore[misc]
        def on_boot(self, **_: Any) -> Any:
            return call_result.BootNotification(
                current_time=_now(), interval=300, status=RegistrationStatus.accepted
            )

        @on(Action.heartbeat)  # type: ignore[misc]
        def on_heartbeat(self) -> Any:
            return call_result.Heartbeat(current_time=_now())

        @on(Action.status_notification)  # type: ignore[misc]
        def on_status(self, **_: Any) -> Any:
            return call_result.StatusNotification()

        @on(Action.meter_values)  # type: ignore[misc]
        def on_meter_values(self, **_: Any) -> Any:
            return call_result.MeterValues()

        @on(Action.start_transaction)  # type: ignore[misc]
        def on_start(self, **_: Any) -> Any:
            return call_result.StartTransaction(
                transaction_id=next(transaction_ids),
                id_tag_info={"status": AuthorizationStatus.accepted},
            )

        @on(Action.stop_transaction)  # type: ignore[misc]
        def on_stop(self, **_: Any) -> Any:
            return call_result.StopTransaction()

    live: dict[str, Handlers] = {}

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None
        charge_point_id = connection.request.path.rsplit("/", 1)[-1]
        charge_point = Handlers(charge_point_id, connection)
        live[charge_point_id] = charge_point
        try:
            await charge_point.start()
        except ConnectionClosed:
            pass
        finally:
            if live.get(charge_point_id) is charge_point:
                del live[charge_point_id]

    async def operator_call(charge_point_id: str) -> None:
        await live[charge_point_id].call(call.GetConfiguration(key=["HeartbeatInterval"]))

    server = await websockets_serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=[Subprotocol("ocpp1.6")],
        backlog=backlog,
        **WEBSOCKET_SETTINGS,
    )
    async with server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield Served(port, lambda: list(live), operator_call)


_FLOOR_ANSWERS: dict[str, Callable[[], dict[str, Any]]] = {
    "BootNotification": lambda: {"currentTime": _now(), "interval": 300, "status": "Accepted"},
    "Heartbeat": lambda: {"currentTime": _now()},
    "StartTransaction": lambda: {"transactionId": 1, "idTagInfo": {"status": "Accepted"}},
}


@contextlib.asynccontextmanager
async def _serve_floor(backlog: int) -> AsyncIterator[Served]:
    from websockets.asyncio.server import ServerConnection
    from websockets.asyncio.server import serve as websockets_serve
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Subprotocol

    live: dict[str, ServerConnection] = {}

    async def handler(connection: ServerConnection) -> None:
        assert connection.request is not None
        charge_point_id = connection.request.path.rsplit("/", 1)[-1]
        live[charge_point_id] = connection
        try:
            async for text in connection:
                message = json.loads(text)
                if message[0] == 2:
                    answer = _FLOOR_ANSWERS.get(message[2])
                    payload = answer() if answer is not None else {}
                    await connection.send(json.dumps([3, message[1], payload]))
        except ConnectionClosed:
            pass
        finally:
            if live.get(charge_point_id) is connection:
                del live[charge_point_id]

    async def operator_call(charge_point_id: str) -> None:
        raise NotImplementedError("the floor server makes no calls")

    server = await websockets_serve(
        handler,
        "127.0.0.1",
        0,
        subprotocols=[Subprotocol("ocpp1.6")],
        backlog=backlog,
        **WEBSOCKET_SETTINGS,
    )
    async with server:
        port = next(iter(server.sockets)).getsockname()[1]
        yield Served(port, lambda: list(live), operator_call)
