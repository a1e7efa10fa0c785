"""Many charge points at once over real loopback WebSockets: sessions and messages per second.

Each simulated charge point connects to the WebSocket server, boots, runs ``--sessions``
charging sessions (Authorize, 4 StatusNotifications, StartTransaction, ``--meter-values``
MeterValues, StopTransaction) back to back, and disconnects; the central system answers
everything with the in-memory stores. Client and server share one process and event loop,
so the figures are a lower bound for the server alone.

    python benchmarks/bench_connections.py [--charge-points 200] [--sessions 5]
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    IdTagRecord,
    memory_stores,
)
from ocpp16csms.messages import RegistrationStatus
from ocpp16csms.testing.websocket import connect_simulator
from ocpp16csms.transports.websockets import serve


async def run(charge_points: int, sessions: int, meter_values: int) -> None:
    ids = [f"CP{n:05d}" for n in range(charge_points)]
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(charge_point_id=cp, registration_status=RegistrationStatus.ACCEPTED)
            for cp in ids
        ],
        id_tags=[IdTagRecord(id_tag="TAG")],
    )
    cs = CentralSystem(stores, CentralSystemOptions(heartbeat_interval=3600))
    async with await serve(cs, "127.0.0.1", 0) as server:
        url = f"ws://127.0.0.1:{server.port}/ocpp"
        connected = asyncio.Event()
        ready = 0

        async def charge_point(charge_point_id: str) -> None:
            nonlocal ready
            async with connect_simulator(url, charge_point_id) as cp:
                ready += 1
                if ready == charge_points:
                    connected.set()
                await connected.wait()
                await cp.boot()
                for _ in range(sessions):
                    await cp.charge(1, "TAG", meter_values=meter_values)

        start = time.perf_counter()
        async with asyncio.TaskGroup() as group:
            for cp in ids:
                group.create_task(charge_point(cp))
        elapsed = time.perf_counter() - start
    stored = 0
    for cp in ids:
        stored += len(await stores.transactions.meter_values(cp))
    per_session = 1 + 4 + 1 + meter_values + 1  # Authorize, statuses, Start, MeterValues, Stop
    messages = charge_points * (1 + sessions * per_session)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"charge points        {charge_points}")
    print(f"sessions             {charge_points * sessions} ({sessions} each)")
    print(f"CALLs answered       {messages}")
    print(f"meter values stored  {stored}")
    print(f"wall time            {elapsed:.2f} s (connect, boot, sessions, disconnect)")
    print(f"CALLs per second     {messages / elapsed:,.0f} (client and server in one process)")
    print(f"peak RSS             {peak_mb:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--charge-points", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--meter-values", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(args.charge_points, args.sessions, args.meter_values))


if __name__ == "__main__":
    main()
