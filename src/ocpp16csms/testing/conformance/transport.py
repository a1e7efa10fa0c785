"""The tool's WebSocket client: the ``websockets`` library's sans-IO protocol over anyio
streams, so the suite runs on asyncio and trio alike (extra ``websockets``).

:func:`open_websocket` connects, offers the ``ocpp1.6`` subprotocol (OCPP-J §3.1.2), sends
HTTP Basic credentials and a client certificate when asked (security whitepaper §2), and
returns a :class:`~ocpp16csms.connection.Connection` the charge point simulator runs on. A
refused upgrade raises :class:`UpgradeRefused` with the HTTP status.
"""

from __future__ import annotations

import base64
import ssl
from collections import deque
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

import anyio
import anyio.abc
import attrs
from anyio.streams.tls import TLSAttribute
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

from ...connection import TransportClosed
from ...errors import RemoteProtocolError

__all__ = [
    "TlsFacts",
    "UpgradeRefused",
    "WebSocketClientConnection",
    "basic_authorization",
    "open_stream",
    "open_websocket",
]

_STREAM_ERRORS = (
    anyio.EndOfStream,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
    OSError,
    ssl.SSLError,
)


class UpgradeRefused(RemoteProtocolError):
    """The server refused the WebSocket upgrade (``status``: its HTTP status, 0 when the
    connection failed before an HTTP answer)."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}" if status else reason)
        self.status = status
        self.reason = reason


@attrs.frozen(kw_only=True)
class TlsFacts:
    """What the TLS handshake of a ``wss://`` connection negotiated."""

    version: str
    cipher: str
    peer_certificate_der: bytes | None = attrs.field(repr=False)


def basic_authorization(charge_point_id: str, password: str) -> str:
    """The ``Authorization`` header of HTTP Basic auth: the charge point id as username
    (whitepaper §2.3)."""
    token = base64.b64encode(f"{charge_point_id}:{password}".encode()).decode("ascii")
    return f"Basic {token}"


async def open_stream(
    url: str, ssl_context: ssl.SSLContext | None = None, *, timeout: float = 10.0
) -> tuple[anyio.abc.ByteStream, TlsFacts | None]:
    """A TCP (``ws://``) or TLS (``wss://``) stream to the URL's host and port, and what TLS
    negotiated. Raises :class:`UpgradeRefused` (status 0) when it cannot connect."""
    uri = parse_uri(url)
    context = (ssl_context or ssl.create_default_context()) if uri.secure else None
    try:
        with anyio.fail_after(timeout):
            stream: anyio.abc.ByteStream
            if context is None:
                stream = await anyio.connect_tcp(uri.host, uri.port)
            else:
                # Servers often close without a TLS close_notify; that is no error here.
                stream = await anyio.connect_tcp(
                    uri.host, uri.port, ssl_context=context, tls_standard_compatible=False
                )
    except (TimeoutError, *_STREAM_ERRORS) as error:
        raise UpgradeRefused(0, f"cannot connect to {uri.host}:{uri.port}: {error}") from None
    if not uri.secure:
        return stream, None
    cipher = stream.extra(TLSAttribute.cipher)
    facts = TlsFacts(
        version=stream.extra(TLSAttribute.tls_version),
        cipher=cipher[0] if cipher else "",
        peer_certificate_der=stream.extra(TLSAttribute.peer_certificate_binary, None),
    )
    return stream, facts


async def open_websocket(
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    ssl_context: ssl.SSLContext | None = None,
    subprotocols: Sequence[str] = ("ocpp1.6",),
    timeout: float = 10.0,
    max_size: int = 2**20,
) -> WebSocketClientConnection:
    """Connect and complete the WebSocket upgrade to ``url`` (the whole URL, charge point id
    included). Raises :class:`UpgradeRefused` when the server refuses or cannot be reached."""
    stream, tls = await open_stream(url, ssl_context, timeout=timeout)
    protocol = ClientProtocol(
        parse_uri(url),
        subprotocols=[Subprotocol(p) for p in subprotocols] or None,
        max_size=max_size,
    )
    request = protocol.connect()
    for name, value in (headers or {}).items():
        request.headers[name] = value
    protocol.send_request(request)
    events: list[Any] = []
    try:
        with anyio.fail_after(timeout):
            for data in protocol.data_to_send():
                if data:
                    await stream.send(data)
            while not events:
                try:
                    received = await stream.receive()
                except _STREAM_ERRORS:
                    protocol.receive_eof()
                    events = protocol.events_received()
                    break
                protocol.receive_data(received)
                events = protocol.events_received()
    except TimeoutError:
        await _abort(stream)
        raise UpgradeRefused(0, "no answer to the WebSocket upgrade") from None
    failure = protocol.handshake_exc
    if failure is not None or protocol.state is not State.OPEN:
        await _abort(stream)
        if isinstance(failure, InvalidStatus):
            status = failure.response.status_code
            reason = failure.response.reason_phrase
            if not reason and status in HTTPStatus._value2member_map_:
                reason = HTTPStatus(status).phrase  # some servers send no reason phrase
            raise UpgradeRefused(status, reason)
        raise UpgradeRefused(0, f"the WebSocket upgrade failed: {failure}")
    connection = WebSocketClientConnection(stream, protocol, tls)
    for event in events[1:]:
        if isinstance(event, Frame):
            connection._on_frame(event)
    return connection


async def _abort(stream: anyio.abc.ByteStream) -> None:
    with anyio.CancelScope(shield=True), anyio.move_on_after(1):
        await stream.aclose()


class WebSocketClientConnection:
    """An open client WebSocket as a :class:`~ocpp16csms.connection.Connection`."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        protocol: ClientProtocol,
        tls: TlsFacts | None = None,
    ) -> None:
        self._stream = stream
        self._protocol = protocol
        #: What TLS negotiated (``wss://``), else None.
        self.tls = tls
        self.subprotocol: str | None = protocol.subprotocol
        self._messages: deque[str] = deque()
        self._fragments: list[bytes] | None = None
        self._closed: TransportClosed | None = None
        self._send_lock = anyio.Lock()
        self._receive_lock = anyio.Lock()
        self._reading: anyio.CancelScope | None = None

    async def receive(self) -> str:
        while not self._messages:
            if self._closed is not None:
                raise TransportClosed(self._closed.code, self._closed.reason)
            async with self._receive_lock:
                if self._closed is None:
                    await self._read_once()
        return self._messages.popleft()

    async def send(self, text: str) -> None:
        if self._closed is not None or self._protocol.state is not State.OPEN:
            closed = self._closed or TransportClosed(1006, "connection closed")
            raise TransportClosed(closed.code, closed.reason)
        self._protocol.send_text(text.encode("utf-8"))
        await self._write()

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed is None:
            self._closed = TransportClosed(code, reason)
        if self._protocol.state is State.OPEN:
            self._protocol.send_close(code, reason)
            await self._write()
        if self._reading is not None:
            self._reading.cancel()
        with anyio.CancelScope(shield=True):
            # The server closes the TCP connection once it has answered our close frame.
            with anyio.move_on_after(1):
                async with self._receive_lock:
                    while self._protocol.state is not State.CLOSED:
                        try:
                            data = await self._stream.receive()
                        except _STREAM_ERRORS:
                            break
                        self._protocol.receive_data(data)
            with anyio.move_on_after(1):
                await self._stream.aclose()

    async def _read_once(self) -> None:
        with anyio.CancelScope() as reading:
            self._reading = reading
            try:
                data: bytes | None = await self._stream.receive()
            except _STREAM_ERRORS:
                data = None
            finally:
                self._reading = None
        if reading.cancelled_caught:
            return
        if data is None:
            if self._protocol.state is not State.CLOSED:
                self._protocol.receive_eof()
        else:
            self._protocol.receive_data(data)
        for event in self._protocol.events_received():
            if isinstance(event, Frame):
                self._on_frame(event)
        await self._write()  # pongs and the answer to a close frame
        if data is None or self._protocol.state in (State.CLOSING, State.CLOSED):
            code = self._protocol.close_code or 1006
            self._closed = self._closed or TransportClosed(code, self._protocol.close_reason or "")

    def _on_frame(self, frame: Frame) -> None:
        if frame.opcode in (Opcode.TEXT, Opcode.BINARY):
            self._fragments = [bytes(frame.data)]
        elif frame.opcode is Opcode.CONT and self._fragments is not None:
            self._fragments.append(bytes(frame.data))
        else:
            return  # ping, pong and close frames are handled by the protocol
        if frame.fin:
            message = b"".join(self._fragments)
            self._fragments = None
            self._messages.append(message.decode("utf-8", errors="replace"))

    async def _write(self) -> None:
        async with self._send_lock:
            for data in self._protocol.data_to_send():
                if not data:
                    continue  # end of stream: the TCP connection is closed in close()
                try:
                    await self._stream.send(data)
                except _STREAM_ERRORS:
                    self._closed = self._closed or TransportClosed(1006, "connection lost")
                    return
