"""The operator HTTP API beside the OCPP endpoint, in one FastAPI application.

    pip install -e '.[api,websockets]' uvicorn
    python examples/operator_api.py            # serve on 127.0.0.1:9000
    python examples/operator_api.py --demo     # also connect a simulated charge point,
                                               # operate it over HTTP, print, exit

Charge points connect to ``ws://127.0.0.1:9000/ocpp/<charge point id>``; operators call
``http://127.0.0.1:9000/api/charge-points/<id>/reset`` and the other operations, documented at
``/docs`` (the OpenAPI document is ``/openapi.json``). Every API call needs the header
``Authorization: Bearer demo-token``: authentication is the host's, given to ``make_router`` as
a FastAPI dependency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import uvicorn
from fastapi import Depends, FastAPI, HTTPException, Request

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    IdTagRecord,
    UnknownChargePointPolicy,
    memory_stores,
)
from ocpp16csms.messages import RegistrationStatus
from ocpp16csms.operator_api import make_router
from ocpp16csms.testing.websocket import connect_simulator
from ocpp16csms.transports.asgi import OcppAsgiApp

TOKEN = "demo-token"


def require_token(request: Request) -> None:
    """The host's authentication: here a fixed bearer token."""
    if request.headers.get("authorization") != f"Bearer {TOKEN}":
        raise HTTPException(401, "a bearer token is needed", {"WWW-Authenticate": "Bearer"})


def build_app() -> FastAPI:
    central_system = CentralSystem(
        memory_stores(
            charge_points=[
                ChargePointRecord(
                    charge_point_id="CP-1", registration_status=RegistrationStatus.ACCEPTED
                )
            ],
            id_tags=[IdTagRecord(id_tag="DEMO-TAG")],
        ),
        CentralSystemOptions(unknown_charge_points=UnknownChargePointPolicy.PENDING),
    )
    # The application's lifespan runs the central system; the mounted OCPP app leaves it be.
    ocpp = OcppAsgiApp(central_system, lifespan=False)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with central_system:
            yield

    app = FastAPI(title="Charging operations", lifespan=lifespan)
    app.include_router(
        make_router(central_system, dependencies=[Depends(require_token)]), prefix="/api"
    )
    app.mount(ocpp.mount_path, ocpp)
    return app


async def demo(port: int) -> None:
    server = uvicorn.Server(
        uvicorn.Config(build_app(), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    print(f"serving http://127.0.0.1:{port}/api and ws://127.0.0.1:{port}/ocpp")
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        connect_simulator(f"ws://127.0.0.1:{port}/ocpp", "CP-1") as charge_point,
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api", headers=headers) as api,
    ):
        await charge_point.boot()

        async def show(method: str, path: str, body: object = None) -> None:
            answer = await api.request(method, path, json=body)
            text = json.dumps(answer.json(), separators=(",", ":"))
            print(f"{method} /api{path} → {answer.status_code} {text}")

        await show("GET", "/charge-points")
        await show("POST", "/charge-points/CP-1/reset", {"type": "Soft"})
        await show("POST", "/charge-points/CP-1/remote-start-transaction", {"idTag": "DEMO-TAG"})
        await show("POST", "/charge-points/CP-1/reset", {"type": "Sometime"})
        await show("POST", "/charge-points/CP-9/clear-cache", {})
        async with httpx.AsyncClient(base_url=api.base_url) as anonymous:
            refused = await anonymous.get("/charge-points")
        print(f"GET /api/charge-points without a token → {refused.status_code}")
    server.should_exit = True
    await serving
    print("the demo completed.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9000, help="0: any free port")
    parser.add_argument("--demo", action="store_true", help="operate a simulated charge point")
    arguments = parser.parse_args()
    port = arguments.port
    if port == 0:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    if arguments.demo:
        asyncio.run(demo(port))
    else:
        uvicorn.run(build_app(), host="127.0.0.1", port=port)


if __name__ == "__main__":
    main()
