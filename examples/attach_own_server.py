"""A host that runs its own WebSocket server and pushes each frame into the central system.

    python examples/attach_own_server.py            # serve on ws://127.0.0.1:9000/ocpp/<id>
    python examples/attach_own_server.py --demo     # also charge once with a simulated
                                                    # charge point, print a summary, exit

``CentralSystem.serve`` reads the frames itself; a host whose server reads them (or calls back
per message) attaches the connection instead: ``cs.attach(id, sender)`` takes only the way
out, and ``connection.receive(text)`` answers each frame before it returns
(docs/central-system.md, "Pushing frames in"). The handshake here is the bare minimum; the
shipped adapter (``ocpp16csms.transports.websockets``) does it properly (security profiles,
limits, keepalive). Needs the ``websockets`` extra.
"""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Awaitable, Callable

import anyio
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from ocpp16csms import (
    CentralSystem,
    ChargePointRecord,
    IdTagRecord,
    memory_stores,
)
from ocpp16csms.messages import RegistrationStatus
from ocpp16csms.transports.websockets import WebSocketConnection

OCPP16 = Subprotocol("ocpp1.6")
CHARGE_POINT = "CP-ATTACHED-1"
ID_TAG = "DEMO-TAG"


def handler_for(cs: CentralSystem) -> Callable[[ServerConnection], Awaitable[None]]:
    async def handle(connection: ServerConnection) -> None:
        assert connection.request is not None  # set once the handshake is done
        charge_point_id = connection.request.path.rstrip("/").rsplit("/", 1)[-1]
        # The way out: anything with async send(text) and close(code, reason) that raises
        # TransportClosed once the peer is gone; the adapter's wrapper is one.
        async with cs.attach(charge_point_id, WebSocketConnection(connection)) as attached:
            with contextlib.suppress(ConnectionClosed):
                async for text in connection:
                    await attached.receive(text)

    return handle


async def demo(cs: CentralSystem, url: str) -> None:
    from ocpp16csms.testing.websocket import connect_simulator

    async with connect_simulator(url, CHARGE_POINT) as cp:
        boot = await cp.boot(vendor="Acme", model="Volt 22")
        print(f"boot: {boot.status.value}")
        async with anyio.create_task_group() as group:

            async def charge() -> None:
                session = await cp.charge(1, ID_TAG, meter_values=5, interval=0.1)
                print(f"transaction {session.transaction_id}: {session.meter_stop} Wh")

            group.start_soon(charge)
            with anyio.fail_after(10):
                while not await cs.stores.transactions.active(charge_point_id=CHARGE_POINT):
                    await anyio.sleep(0.05)
            await anyio.sleep(0.3)
            [active] = await cs.stores.transactions.active(charge_point_id=CHARGE_POINT)
            # Our call goes out through the outlet; its answer is a frame the host pushes in.
            stopped = await cs.core.remote_stop_transaction(CHARGE_POINT, active.transaction_id)
            print(f"remote stop: {stopped.status.value}")
    values = await cs.stores.transactions.meter_values(CHARGE_POINT)
    print(f"meter values stored: {len(values)}")
    print("the attached session completed.")


async def main(host: str, port: int, with_demo: bool) -> None:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id=CHARGE_POINT, registration_status=RegistrationStatus.ACCEPTED
            )
        ],
        id_tags=[IdTagRecord(id_tag=ID_TAG)],
    )
    cs = CentralSystem(stores)
    async with cs, serve(handler_for(cs), host, port, subprotocols=[OCPP16]) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        url = f"ws://{host}:{bound}/ocpp"
        print(f"serving {url}/<charge point id>")
        if with_demo:
            await demo(cs, url)
        else:
            await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--demo", action="store_true")
    arguments = parser.parse_args()
    anyio.run(main, arguments.host, arguments.port, arguments.demo)
