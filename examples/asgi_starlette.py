"""OCPP 1.6J inside a Starlette application (FastAPI mounts it the same way).

    pip install starlette uvicorn
    python examples/asgi_starlette.py

Charge points connect to ``ws://127.0.0.1:9000/ocpp/<charge point id>``; the web application
beside them answers ``GET /charge-points`` (who is connected) and
``POST /charge-points/<id>/reset`` (an operation sent to the charge point). Neither Starlette nor
uvicorn is a dependency of the library: this example needs them installed.

The OCPP app is mounted at its own prefix (``ocpp.mount_path``, ``/ocpp``). Starlette does not
pass lifespan events to mounted apps, so the host's lifespan enters ``async with
central_system`` (which runs its periodic jobs and closes every connection on shutdown).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    CsmsError,
    UnknownChargePointPolicy,
    memory_stores,
)
from ocpp16csms.messages import (
    RegistrationStatus,
    ResetType,
)
from ocpp16csms.transports.asgi import OcppAsgiApp

central_system = CentralSystem(
    memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP-1", registration_status=RegistrationStatus.ACCEPTED
            )
        ]
    ),
    CentralSystemOptions(unknown_charge_points=UnknownChargePointPolicy.PENDING),
)
# lifespan=False: the Starlette lifespan below runs the central system.
ocpp = OcppAsgiApp(central_system, lifespan=False)


async def charge_points(request: Request) -> JSONResponse:
    return JSONResponse({"connected": sorted(central_system.connected_charge_points)})


async def reset(request: Request) -> JSONResponse:
    charge_point_id = request.path_params["charge_point_id"]
    try:
        response = await central_system.core.reset(charge_point_id, ResetType.SOFT)
    except CsmsError as exc:  # not connected, timed out, connection lost, CallError…
        return JSONResponse({"error": str(exc)}, status_code=409)
    return JSONResponse({"status": response.status.value})


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    async with central_system:
        yield


app = Starlette(
    routes=[
        Route("/charge-points", charge_points),
        Route("/charge-points/{charge_point_id}/reset", reset, methods=["POST"]),
        Mount(ocpp.mount_path, app=ocpp),
    ],
    lifespan=lifespan,
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=9000)
