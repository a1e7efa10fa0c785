"""Quickstart: an OCPP 1.6J central system on ws://127.0.0.1:9000/ocpp/<charge point id>.

    python examples/quickstart.py            # serve, and log what real charge points do
    python examples/quickstart.py --demo     # also run a simulated charge point through a
                                             # charging session, print the transcript, exit

The central system uses the in-memory stores, seeded with the charge point ``CP-DEMO-1`` and
the id tag ``DEMO-TAG``; unknown charge points are registered as Pending. It needs the
``websockets`` extra (``pip install -e '.[websockets]'``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
from typing import Any

import anyio

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointConnected,
    ChargePointDisconnected,
    ChargePointRecord,
    Exchange,
    IdTagRecord,
    PeerViolationObserved,
    UnknownChargePointPolicy,
    memory_stores,
)
from ocpp16csms.codec import MessageCodec
from ocpp16csms.messages import (
    ConfigurationStatus,
    Direction,
    MessageTrigger,
    RegistrationStatus,
)
from ocpp16csms.transports.websockets import serve

CHARGE_POINT = "CP-DEMO-1"
ID_TAG = "DEMO-TAG"
CODEC = MessageCodec()


def transcript(event: Any) -> None:
    """Print each exchange as its wire payloads, the way an operator reads them."""
    if isinstance(event, Exchange):
        sender = "CP" if event.direction is Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM else "CS"
        answerer = "CS" if sender == "CP" else "CP"
        print(f"[{event.charge_point_id}] {sender} → {event.request.action} {_wire(event.request)}")
        answer = _wire(event.response) if event.error is None else f"error: {event.error}"
        print(f"[{event.charge_point_id}]   {answerer} ← {answer}")
    elif isinstance(event, ChargePointConnected | ChargePointDisconnected):
        print(f"[{event.charge_point_id}] {type(event).__name__}")
    elif isinstance(event, PeerViolationObserved):
        print(f"[{event.charge_point_id}] protocol violation: {event.description}")


def _wire(message: Any, limit: int = 110) -> str:
    text = json.dumps(CODEC.encode(message), separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def build_central_system() -> CentralSystem:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id=CHARGE_POINT, registration_status=RegistrationStatus.ACCEPTED
            )
        ],
        id_tags=[IdTagRecord(id_tag=ID_TAG)],
    )
    options = CentralSystemOptions(unknown_charge_points=UnknownChargePointPolicy.PENDING)
    cs = CentralSystem(stores, options)
    cs.observe(transcript)
    return cs


async def demo(cs: CentralSystem, url: str) -> None:
    """A simulated charge point charges once while the central system operates it."""
    from ocpp16csms.testing.websocket import connect_simulator

    async with connect_simulator(url, CHARGE_POINT) as cp:
        cp.configuration.update(
            {"MeterValueSampleInterval": ("60", False), "NumberOfConnectors": ("2", True)}
        )
        await cp.boot(vendor="Acme", model="Volt 22")
        configuration = await cs.core.get_configuration(CHARGE_POINT)
        assert configuration.configuration_key
        changed = await cs.core.change_configuration(CHARGE_POINT, "MeterValueSampleInterval", "30")
        assert changed.status is ConfigurationStatus.ACCEPTED
        await cs.remote_trigger.trigger_message(CHARGE_POINT, MessageTrigger.HEARTBEAT)
        async with anyio.create_task_group() as group:

            async def charge() -> None:
                session = await cp.charge(1, ID_TAG, meter_values=10, interval=0.2)
                print(f"\ntransaction {session.transaction_id}: {session.meter_stop} Wh")

            group.start_soon(charge)
            with anyio.fail_after(10):
                while not await cs.stores.transactions.active(charge_point_id=CHARGE_POINT):
                    await anyio.sleep(0.05)
            await anyio.sleep(0.5)  # let it charge for a while, then stop it remotely
            active = await cs.stores.transactions.active(charge_point_id=CHARGE_POINT)
            await cs.core.remote_stop_transaction(CHARGE_POINT, active[0].transaction_id)
    values = await cs.stores.transactions.meter_values(CHARGE_POINT)
    record = await cs.stores.transactions.get(values[0].transaction_id or 0)
    assert record is not None
    assert record.stop is not None
    print(f"meter values stored: {len(values)}; stopped: {record.stop.reason}")
    print("the demo session completed.")


async def main(host: str, port: int, with_demo: bool) -> None:
    cs = build_central_system()
    async with cs, await serve(cs, host, port) as server:
        url = f"ws://{host}:{server.port}/ocpp"
        print(f"OCPP 1.6J central system on {url}/<charge point id>")
        if with_demo:
            await demo(cs, url)
        else:
            await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="ocpp16csms quickstart")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--demo", action="store_true", help="run a simulated charge point")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C ends the server quietly
        anyio.run(main, args.host, args.port, args.demo)
