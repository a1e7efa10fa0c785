"""kill -9 soak of the SQLite store: nothing acknowledged is lost, ids are never reused.

A child process serves a :class:`~ocpp16csms.CentralSystem` over WebSocket with
:func:`~ocpp16csms.sqlite_stores` on one database file. A charge point client sends
StartTransaction, MeterValues and StopTransaction one at a time, as charge points do, and
remembers every answer it got. At a random moment the child gets SIGKILL, mid-write or not;
a new child opens the same file, and the client, like a charge point, sends again what was not
answered, then carries on. Each round checks, on the database itself:

* every acknowledged StartTransaction is there, under the id it was answered with;
* every acknowledged StopTransaction and MeterValues is there;
* no transaction id was ever given to two different starts;
* a StartTransaction sent again after the restart gets the id it got before, whether its
  first answer arrived or was lost with the killed process.

    python benchmarks/soak_sqlite_kill.py [--rounds 50] [--db PATH]
    python benchmarks/soak_sqlite_kill.py --child DB     # one server (used by the above)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.typing import Subprotocol

CHARGE_POINT = "KILL1"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


# --- the child: one server ------------------------------------------------------------------


async def _serve_child(path: str) -> None:
    from ocpp16csms import (
        CentralSystem,
        CentralSystemOptions,
        ChargePointRecord,
        IdTagRecord,
        sqlite_stores,
    )
    from ocpp16csms.messages import RegistrationStatus
    from ocpp16csms.transports.websockets import serve

    async with sqlite_stores(path) as stores:
        if await stores.charge_points.get(CHARGE_POINT) is None:
            await stores.charge_points.save(
                ChargePointRecord(
                    charge_point_id=CHARGE_POINT, registration_status=RegistrationStatus.ACCEPTED
                )
            )
            await stores.id_tags.save(IdTagRecord(id_tag="TAG"))
        async with CentralSystem(stores, CentralSystemOptions(heartbeat_interval=3600)) as cs:
            server = await serve(cs, "127.0.0.1", 0)
            async with server:
                print(f"PORT {server.port}", flush=True)
                await server.serve_forever()


def _start_child(path: str) -> tuple[subprocess.Popen[str], int]:
    child = subprocess.Popen(
        [sys.executable, __file__, "--child", path],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if not line.startswith("PORT "):
        child.kill()
        raise RuntimeError(f"the server did not start: {line!r}")
    return child, int(line.split()[1])


# --- the charge point: what it sent and what was acknowledged -------------------------------


@attrs.define
class Ledger:
    """What the charge point was told, across every restart."""

    started: dict[str, int] = attrs.field(factory=dict)  # start key → transaction id
    stopped: set[int] = attrs.field(factory=set)
    meter_values: dict[int, list[str]] = attrs.field(factory=dict)  # id → timestamps
    acknowledged: int = 0
    retried_same_id: int = 0  # starts sent again that got the id they had
    lost_answer_same_id: int = 0  # of those, starts whose first answer died with the server


def _start_payload(serial: int) -> dict[str, Any]:
    return {
        "connectorId": 1 + serial % 2,
        "idTag": "TAG",
        "meterStart": serial * 1000,
        "timestamp": (T0 + timedelta(minutes=serial)).isoformat().replace("+00:00", "Z"),
    }


class _ChargePoint:
    def __init__(self, ledger: Ledger, rng: random.Random) -> None:
        self.ledger = ledger
        self.rng = rng
        self.serial = 0
        # The charge point's queue: messages not answered yet, sent again after a reconnect.
        self.queue: list[tuple[str, dict[str, Any]]] = []
        self.open: int | None = None  # the transaction in progress
        self.message = 0
        #: The id a queued (unanswered) start already has in the database, if it reached it.
        self.stored_before_kill: int | None = None

    def _plan(self) -> None:
        if self.queue:
            return
        if self.open is None:
            self.serial += 1
            self.queue.append(("StartTransaction", _start_payload(self.serial)))
            return
        transaction_id = self.open
        minute = self.serial * 10 + len(self.ledger.meter_values.get(transaction_id, ())) + 1
        when = (T0 + timedelta(hours=1, minutes=minute)).isoformat().replace("+00:00", "Z")
        if len(self.ledger.meter_values.get(transaction_id, ())) < 3:
            value = {"timestamp": when, "sampledValue": [{"value": str(minute)}]}
            payload = {"connectorId": 1, "transactionId": transaction_id, "meterValue": [value]}
            self.queue.append(("MeterValues", payload))
        else:
            payload = {"meterStop": self.serial * 1000 + 500, "timestamp": when}
            self.queue.append(("StopTransaction", {**payload, "transactionId": transaction_id}))

    async def _call(self, websocket: ClientConnection, action: str, payload: dict[str, Any]) -> Any:
        self.message += 1
        message_id = f"m{self.message}"
        await websocket.send(json.dumps([2, message_id, action, payload]))
        while True:
            reply = json.loads(await asyncio.wait_for(websocket.recv(), 10))
            if reply[1] == message_id:
                break
        if reply[0] != 3:
            raise AssertionError(f"{action} answered {reply}")
        return reply[2]

    def _acknowledged(self, action: str, payload: dict[str, Any], answer: Any) -> None:
        ledger = self.ledger
        ledger.acknowledged += 1
        if action == "StartTransaction":
            key = json.dumps(payload, sort_keys=True)
            transaction_id = answer["transactionId"]
            if self.stored_before_kill is not None:
                # Its answer was lost with the killed server, but the start was stored.
                if self.stored_before_kill != transaction_id:
                    raise AssertionError("a start stored before the kill got a new id")
                ledger.retried_same_id += 1
                ledger.lost_answer_same_id += 1
                self.stored_before_kill = None
            known = ledger.started.get(key)
            if known is not None:
                if known != transaction_id:
                    raise AssertionError(f"a retried start got {transaction_id}, not {known}")
                ledger.retried_same_id += 1
            if transaction_id in ledger.started.values() and known is None:
                raise AssertionError(f"transaction id {transaction_id} was given twice")
            ledger.started[key] = transaction_id
            self.open = transaction_id
        elif action == "MeterValues":
            stamps = ledger.meter_values.setdefault(payload["transactionId"], [])
            stamp = payload["meterValue"][0]["timestamp"]
            if stamp not in stamps:
                stamps.append(stamp)
        else:
            ledger.stopped.add(payload["transactionId"])
            self.open = None

    async def run(self, port: int, until: float) -> None:
        """Send and record until ``until`` or until the server goes away."""
        try:
            async with connect(
                f"ws://127.0.0.1:{port}/ocpp/{CHARGE_POINT}",
                subprotocols=[Subprotocol("ocpp1.6")],
                open_timeout=10,
            ) as websocket:
                done = [k for k, t in self.ledger.started.items() if t in self.ledger.stopped]
                if done and self.rng.random() < 0.5:
                    # Send an acknowledged start again: the same id must come back.
                    key = self.rng.choice(done)
                    answer = await self._call(websocket, "StartTransaction", json.loads(key))
                    if answer["transactionId"] != self.ledger.started[key]:
                        raise AssertionError("an acknowledged start, sent again, changed its id")
                    self.ledger.retried_same_id += 1
                while time.monotonic() < until:
                    self._plan()
                    action, payload = self.queue[0]
                    answer = await self._call(websocket, action, payload)
                    self.queue.pop(0)
                    self._acknowledged(action, payload, answer)
        except (ConnectionClosed, OSError, TimeoutError, InvalidHandshake):
            return  # killed: what was not answered stays queued


async def _check(path: str, ledger: Ledger, queued: dict[str, Any] | None = None) -> int | None:
    """Check the database against the ledger; return the id ``queued`` (an unanswered start)
    got in the database, if it got that far."""
    from ocpp16csms import sqlite_stores

    async with sqlite_stores(path) as stores:
        found = None
        if queued is not None:
            for active in await stores.transactions.active(charge_point_id=CHARGE_POINT):
                if (active.start.connector_id, active.start.meter_start) == (
                    queued["connectorId"],
                    queued["meterStart"],
                ):
                    found = active.transaction_id
        for key, transaction_id in ledger.started.items():
            record = await stores.transactions.get(transaction_id)
            if record is None:
                raise AssertionError(f"acknowledged transaction {transaction_id} is lost")
            start = json.loads(key)
            if (record.start.connector_id, record.start.meter_start) != (
                start["connectorId"],
                start["meterStart"],
            ):
                raise AssertionError(f"transaction {transaction_id} holds another start")
            if transaction_id in ledger.stopped and record.stop is None:
                raise AssertionError(f"the acknowledged stop of {transaction_id} is lost")
            kept = {
                stored.meter_value.timestamp
                for stored in await stores.transactions.meter_values(
                    CHARGE_POINT, transaction_id=transaction_id
                )
            }
            for stamp in ledger.meter_values.get(transaction_id, ()):
                if datetime.fromisoformat(stamp) not in kept:
                    raise AssertionError(f"an acknowledged meter value of {transaction_id} is lost")
        return found


async def soak(rounds: int, path: str, *, seed: int = 1, longest: float = 1.0) -> Ledger:
    """Kill the server ``rounds`` times at random moments; raise AssertionError on a loss."""
    rng = random.Random(seed)
    ledger = Ledger()
    charge_point = _ChargePoint(ledger, rng)
    for _ in range(rounds):
        child, port = _start_child(path)
        try:
            until = time.monotonic() + rng.uniform(0.05, longest)
            client = asyncio.create_task(charge_point.run(port, until + 10))
            await asyncio.sleep(until - time.monotonic())
            child.send_signal(signal.SIGKILL)
            child.wait()
            await client
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()
            if child.stdout is not None:
                child.stdout.close()
        queued = charge_point.queue[0] if charge_point.queue else None
        start = queued[1] if queued is not None and queued[0] == "StartTransaction" else None
        charge_point.stored_before_kill = await _check(path, ledger, start)
    # Last, a server that is not killed: whatever was still queued goes through.
    child, port = _start_child(path)
    try:
        await charge_point.run(port, time.monotonic() + 0.5)
    finally:
        child.kill()
        child.wait()
        if child.stdout is not None:
            child.stdout.close()
    await _check(path, ledger)
    if charge_point.queue:
        raise AssertionError(f"still not answered after the last restart: {charge_point.queue}")
    return ledger


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--child", metavar="DB", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--db", help="database file (default: a temporary one)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.child:
        asyncio.run(_serve_child(args.child))
        return
    with tempfile.TemporaryDirectory() as directory:
        path = args.db or str(Path(directory) / "kill.sqlite3")
        started = time.monotonic()
        ledger = asyncio.run(soak(args.rounds, path, seed=args.seed))
        print(
            json.dumps(
                {
                    "rounds": args.rounds,
                    "seconds": round(time.monotonic() - started, 1),
                    "acknowledged_messages": ledger.acknowledged,
                    "transactions": len(ledger.started),
                    "stopped": len(ledger.stopped),
                    "meter_values": sum(len(v) for v in ledger.meter_values.values()),
                    "starts_sent_again_with_the_same_id": ledger.retried_same_id,
                    "of_which_first_answer_lost_in_the_kill": ledger.lost_answer_same_id,
                    "lost": 0,  # any loss stops the run with an AssertionError
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
