"""WebSocket transport on the ``websockets`` library (extra ``websockets``; asyncio).

``serve(central_system, host, port, ...)`` runs a complete OCPP 1.6J endpoint at
``ws[s]://host:port/<prefix>/<charge point id>``. Hosts that run their own
``websockets.serve`` use :func:`server_arguments` to get the handler and hooks instead.

The handshake (charge point id, ``ocpp1.6`` subprotocol, security profiles 0–3) is decided by
:func:`ocpp16csms.transports.handshake.decide` before the upgrade completes: a refused client
gets its HTTP status and nothing reaches the central system.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any
from weakref import WeakKeyDictionary

import attrs
from websockets.asyncio.server import Server, ServerConnection
from websockets.asyncio.server import serve as websockets_serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed as WebSocketClosed
from websockets.http11 import Request
from websockets.http11 import Response as HttpResponse
from websockets.typing import Subprotocol

from .._logging import get_logger
from ..central_system import CentralSystem
from ..connection import TransportClosed
from ._admit import Admission, report_refusal
from ._keepalive import Keepalive
from .handshake import (
    SUBPROTOCOL,
    HandshakeOptions,
    HandshakeRefused,
    Peer,
    single_header,
)
from .throttle import AuthThrottle

__all__ = [
    "OcppWebSocketServer",
    "WebSocketConnection",
    "WebSocketOptions",
    "serve",
    "server_arguments",
]

log = get_logger("ocpp16csms.transports.websockets")


def _seconds_or_none(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < math.inf:
        raise ValueError(
            f"{attribute.name} must be a positive finite number or None, got {value!r}"
        )


@attrs.frozen(kw_only=True)
class WebSocketOptions:
    """WebSocket-level settings of the adapter."""

    handshake: HandshakeOptions = attrs.field(factory=HandshakeOptions)
    ping_interval: float | None = attrs.field(default=60.0, validator=_seconds_or_none)
    """Seconds between keepalive pings (match the charge points' WebSocketPingInterval);
    None: no pings. One task pings every connection of the server."""
    ping_timeout: float | None = attrs.field(default=30.0, validator=_seconds_or_none)
    """Seconds to wait for a pong before the connection counts as dead (closed with 1011)."""
    max_frame_size: int = 2**20
    """Largest accepted message, in bytes (a charge point sending more is disconnected)."""
    close_timeout: float = 5.0


class WebSocketConnection:
    """A ``websockets`` connection as a :class:`~ocpp16csms.connection.Connection`."""

    def __init__(self, websocket: ServerConnection | Any) -> None:
        self.websocket = websocket

    async def receive(self) -> str:
        try:
            message = await self.websocket.recv()
        except WebSocketClosed as closed:
            raise TransportClosed(*_close_info(closed)) from None
        if isinstance(message, bytes):
            # OCPP-J uses text frames; a binary one is read as text and validated like any.
            return message.decode("utf-8", errors="replace")
        return str(message)

    async def send(self, text: str) -> None:
        try:
            await self.websocket.send(text)
        except WebSocketClosed as closed:
            raise TransportClosed(*_close_info(closed)) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.websocket.close(code, reason)


def _close_info(closed: WebSocketClosed) -> tuple[int, str]:
    frame = closed.rcvd or closed.sent
    return (frame.code, frame.reason) if frame is not None else (1006, "connection lost")


def _certificate_names(connection: ServerConnection) -> tuple[str, ...]:
    ssl_object = connection.transport.get_extra_info("ssl_object")
    if ssl_object is None:
        return ()
    certificate = ssl_object.getpeercert()
    if not certificate:
        return ()
    return tuple(
        value for rdn in certificate.get("subject", ()) for key, value in rdn if key == "commonName"
    )


def _address(connection: ServerConnection) -> str | None:
    remote = connection.remote_address
    if isinstance(remote, tuple) and remote:
        return str(remote[0])
    return None


def server_arguments(
    central_system: CentralSystem,
    options: WebSocketOptions | None = None,
    *,
    throttle: AuthThrottle | None = None,
) -> dict[str, Any]:
    """Keyword arguments for ``websockets.asyncio.server.serve`` that serve OCPP 1.6J.

    ``throttle`` backs off failed authentications (default: an :class:`AuthThrottle` with its
    documented defaults, one per call).
    """
    options = options or WebSocketOptions()
    admission = Admission(central_system, options.handshake, throttle)
    accepted: WeakKeyDictionary[ServerConnection, str] = WeakKeyDictionary()

    async def process_request(
        connection: ServerConnection, request: Request
    ) -> HttpResponse | None:
        try:
            offered = request.headers.get_all("Sec-WebSocket-Protocol")
            peer = Peer(
                path=request.path,
                subprotocols=tuple(p for header in offered for p in header.split(",")),
                authorization=single_header(
                    "Authorization", request.headers.get_all("Authorization")
                ),
                tls=connection.transport.get_extra_info("ssl_object") is not None,
                client_certificate_names=_certificate_names(connection),
                address=_address(connection),
            )
            charge_point_id, _ = await admission.admit(peer)
        except HandshakeRefused as refused:
            report_refusal(central_system, refused)
            log.warning("refused %s from %s: %s", request.path, connection.remote_address, refused)
            response = connection.respond(HTTPStatus(refused.status), refused.reason + "\n")
            if refused.status == 401:
                response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
            if refused.retry_after is not None:
                response.headers["Retry-After"] = str(math.ceil(refused.retry_after))
            return response
        accepted[connection] = charge_point_id
        return None

    def select_subprotocol(connection: ServerConnection, offered: Any) -> Subprotocol | None:
        return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None

    # One task pings every connection, instead of the library's task per connection.
    close_timeout = options.close_timeout

    async def close_dead(connection: ServerConnection) -> None:
        # As the library's own keepalive does: 1011; a peer that reads nothing cannot even
        # take the close frame, so after close_timeout the TCP connection is dropped.
        try:
            await asyncio.wait_for(connection.close(1011, "keepalive ping timeout"), close_timeout)
        except TimeoutError:
            connection.transport.abort()

    keepalive = (
        Keepalive(options.ping_interval, options.ping_timeout, close_dead)
        if options.ping_interval is not None
        else None
    )

    async def handler(connection: ServerConnection) -> None:
        charge_point_id = accepted.pop(connection)
        # The upgrade's headers are decided on and no longer needed; kept, they would be a
        # fifth of an idle connection's memory. The request's path stays.
        if connection.request is not None:
            connection.request = Request(connection.request.path, Headers())
        connection.response = None
        if keepalive is None:
            await central_system.serve(WebSocketConnection(connection), charge_point_id)
            return
        key = keepalive.add(connection)
        try:
            await central_system.serve(WebSocketConnection(connection), charge_point_id)
        finally:
            keepalive.discard(key)

    return {
        "handler": handler,
        "process_request": process_request,
        "select_subprotocol": select_subprotocol,
        "ping_interval": None,
        "ping_timeout": None,
        "max_size": options.max_frame_size,
        "close_timeout": options.close_timeout,
        "compression": None,
    }


class OcppWebSocketServer:
    """A running OCPP endpoint; ``async with`` it, or ``await server.close()``."""

    def __init__(self, central_system: CentralSystem, server: Server) -> None:
        self.central_system = central_system
        self.server = server

    @property
    def port(self) -> int:
        """The TCP port the server listens on (useful with ``port=0``)."""
        return int(next(iter(self.server.sockets)).getsockname()[1])

    async def close(self) -> None:
        """Stop accepting and close this server's connections (1001); pending calls on them
        fail with ConnectionLost. Other transports of the same central system are untouched."""
        self.server.close()
        await self.server.wait_closed()

    async def serve_forever(self) -> None:
        """Serve until cancelled."""
        await self.server.serve_forever()

    async def __aenter__(self) -> OcppWebSocketServer:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def serve(
    central_system: CentralSystem,
    host: str = "127.0.0.1",
    port: int = 9000,
    *,
    options: WebSocketOptions | None = None,
    ssl_context: ssl.SSLContext | None = None,
    throttle: AuthThrottle | None = None,
    **server_kwargs: Any,
) -> OcppWebSocketServer:
    """Start serving OCPP 1.6J on ``host:port`` (TLS with ``ssl_context``: profiles 2 and 3).

    For security profile 3 the ``ssl_context`` must request client certificates
    (``verify_mode = ssl.CERT_OPTIONAL`` or ``CERT_REQUIRED``, with the charge points' CA
    loaded); the certificate's subject common name must be the charge point id. ``throttle``
    backs off failed authentications (docs/security.md).
    """
    if ssl_context is not None and ssl_context.verify_mode == ssl.CERT_NONE:
        # Otherwise every security profile 3 charge point is refused with a bare 401.
        log.warning(
            "the TLS context requests no client certificates: security profile 3 charge points "
            "will be refused (set verify_mode to CERT_OPTIONAL or CERT_REQUIRED)"
        )
    arguments = server_arguments(central_system, options, throttle=throttle)
    handler: Callable[[ServerConnection], Awaitable[None]] = arguments.pop("handler")
    server = await websockets_serve(
        handler, host, port, ssl=ssl_context, **arguments, **server_kwargs
    )
    return OcppWebSocketServer(central_system, server)
