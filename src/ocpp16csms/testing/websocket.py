"""Connect the charge point simulator to a real OCPP endpoint over WebSocket (extra
``websockets``): subprotocol, HTTP Basic auth and TLS as a charge point uses them."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from ..transports.websockets import WebSocketConnection
from .simulator import ChargePointSimulator

__all__ = ["connect_simulator"]


@asynccontextmanager
async def connect_simulator(
    url: str,
    charge_point_id: str,
    *,
    password: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
    subprotocols: tuple[str, ...] = ("ocpp1.6",),
    **simulator: Any,
) -> AsyncIterator[ChargePointSimulator]:
    """A running simulator connected to ``url`` + ``/`` + ``charge_point_id``.

    ``password`` sends HTTP Basic credentials (username: the charge point id, profiles 1–2);
    ``ssl_context`` carries the CA to trust and, for profile 3, the client certificate.
    Raises ``websockets.exceptions.InvalidStatus`` when the server refuses the upgrade.
    """
    headers = {}
    if password is not None:
        token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode("ascii")
        headers["Authorization"] = f"Basic {token}"
    websocket = await connect(
        f"{url.rstrip('/')}/{charge_point_id}",
        subprotocols=[Subprotocol(p) for p in subprotocols] or None,
        additional_headers=headers,
        ssl=ssl_context,
        compression=None,
        open_timeout=10,
    )
    sim = ChargePointSimulator(charge_point_id, WebSocketConnection(websocket), **simulator)
    async with sim.running():
        yield sim
