"""WebSocket transport as an ASGI 3 application (hypercorn, uvicorn, or mounted in a framework).

``OcppAsgiApp(central_system)`` serves OCPP 1.6J at ``ws[s]://host/<prefix>/<charge point id>``
under any ASGI server, on asyncio or trio (anyio only). The handshake (charge point id,
``ocpp1.6`` subprotocol, security profiles 0–3) is decided by
:func:`ocpp16csms.transports.handshake.decide` before the upgrade is accepted: a refused
client gets its HTTP status and nothing reaches the central system. See docs/transports.md.
"""

from __future__ import annotations

import contextlib
import math
import ssl
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import Any
from urllib.parse import quote

import anyio

from .._logging import get_logger
from ..central_system import CentralSystem
from ..connection import TransportClosed
from ._admit import Admission, report_refusal
from .handshake import (
    HandshakeOptions,
    HandshakeRefused,
    Peer,
    single_header,
)
from .throttle import AuthThrottle

__all__ = [
    "AsgiMessage",
    "AsgiWebSocketConnection",
    "OcppAsgiApp",
    "Receive",
    "Scope",
    "Send",
    "request_path",
    "subject_common_names",
    "tls_client_certificate_names",
]

log = get_logger("ocpp16csms.transports.asgi")

Scope = MutableMapping[str, Any]
"""An ASGI connection scope."""
AsgiMessage = MutableMapping[str, Any]
"""An ASGI event (not to be confused with :class:`ocpp16csms.Message`)."""
Receive = Callable[[], Awaitable[AsgiMessage]]
"""The ASGI ``receive`` callable."""
Send = Callable[[AsgiMessage], Awaitable[None]]
"""The ASGI ``send`` callable."""

_WWW_AUTHENTICATE = b'Basic realm="OCPP", charset="UTF-8"'


class AsgiWebSocketConnection:
    """An accepted ASGI WebSocket as a :class:`~ocpp16csms.connection.Connection`.

    A message longer than ``max_message_size`` bytes closes the connection with 1009 (message
    too big), as the ``websockets`` transport does; the ASGI server's own limit
    (uvicorn ``--ws-max-size``, hypercorn ``websocket_max_message_size``) bounds the memory.
    """

    def __init__(self, receive: Receive, send: Send, *, max_message_size: int = 2**20) -> None:
        self._receive = receive
        self._send = send
        self.max_message_size = max_message_size
        self._closed: tuple[int, str] | None = None
        self._receiving: anyio.CancelScope | None = None

    @property
    def closed(self) -> bool:
        """Whether either side has closed the connection."""
        return self._closed is not None

    async def receive(self) -> str:
        while True:
            if self._closed is not None:
                raise TransportClosed(*self._closed)
            with anyio.CancelScope() as receiving:
                self._receiving = receiving
                try:
                    message = await self._receive()
                finally:
                    self._receiving = None
            if receiving.cancelled_caught:
                continue  # close() was called meanwhile
            kind = message.get("type")
            if kind == "websocket.receive":
                if message.get("text") is not None:
                    return await self._bounded(str(message["text"]))
                if message.get("bytes") is not None:
                    # OCPP-J uses text frames; a binary one is read as text and validated like any.
                    data = bytes(message["bytes"])
                    return await self._bounded(data.decode("utf-8", errors="replace"), len(data))
            elif kind == "websocket.disconnect":
                self._closed = (int(message.get("code", 1005)), str(message.get("reason") or ""))

    async def _bounded(self, text: str, size: int | None = None) -> str:
        limit = self.max_message_size
        if size is None and len(text) * 4 > limit:  # UTF-8 takes at most 4 bytes a character
            size = len(text) if len(text) > limit else len(text.encode("utf-8", "surrogatepass"))
        if size is not None and size > limit:
            await self.close(1009, f"message over {limit} bytes")
            raise TransportClosed(1009, f"message over {limit} bytes")
        return text

    async def send(self, text: str) -> None:
        if self._closed is not None:
            raise TransportClosed(*self._closed)
        try:
            await self._send({"type": "websocket.send", "text": text})
        except OSError:
            # ASGI 2.4: a server raises an OSError subclass once the client is gone.
            self._closed = (1006, "connection lost")
            raise TransportClosed(*self._closed) from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self._closed is not None:
            return
        self._closed = (code, reason)
        if self._receiving is not None:
            # Servers need not report a disconnect after the app closes; don't wait for one.
            self._receiving.cancel()
        with contextlib.suppress(OSError):
            await self._send({"type": "websocket.close", "code": code, "reason": reason})


def request_path(scope: Scope) -> str:
    """The percent-encoded path the client requested, with the mount point (``root_path``).

    Servers and frameworks differ: uvicorn and Starlette ≥ 0.33 put ``root_path`` at the
    start of ``path`` as the ASGI spec now says; older frameworks strip it from ``path``;
    hypercorn leaves ``path`` as received. ``raw_path`` (undecoded) is preferred so that an
    id holding ``%`` is decoded exactly once, by the handshake.
    """
    raw = scope.get("raw_path")
    if isinstance(raw, bytes | bytearray):
        try:
            path = bytes(raw).decode("utf-8")
        except UnicodeDecodeError:
            raise HandshakeRefused(400, "the path is not UTF-8", "no_endpoint") from None
    else:
        path = quote(str(scope.get("path", "")), safe="/")
    root = quote(str(scope.get("root_path") or ""), safe="/").rstrip("/")
    if root and not (path == root or path.startswith(root + "/")):
        path = root + path
    return path


def subject_common_names(der: bytes) -> tuple[str, ...]:
    """The common names in the subject of a DER X.509 certificate (RFC 5280 §4.1).

    A minimal DER walk, standard library only; raises ValueError on a malformed certificate.
    """
    try:
        certificate = _only(_elements(der, 0, len(der)), 0x30)
        tbs = next(_elements(der, *certificate[1:]))
        fields = list(_elements(der, tbs[1], tbs[2]))
        if fields and fields[0][0] == 0xA0:  # explicit [0] version
            fields = fields[1:]
        # serialNumber, signature, issuer, validity, subject
        tag, start, end = fields[4]
        if tag != 0x30:
            raise ValueError("the certificate subject is not a Name")
        names = []
        for _, rdn_start, rdn_end in _elements(der, start, end):
            for _, atv_start, atv_end in _elements(der, rdn_start, rdn_end):
                oid, value = list(_elements(der, atv_start, atv_end))[:2]
                if der[oid[1] : oid[2]] == _COMMON_NAME_OID:
                    names.append(_decode_string(value[0], der[value[1] : value[2]]))
    except (IndexError, StopIteration, UnicodeDecodeError) as exc:
        raise ValueError(f"malformed certificate: {exc!r}") from None
    return tuple(names)


_COMMON_NAME_OID = bytes((0x55, 0x04, 0x03))  # 2.5.4.3
_STRING_CODECS = {
    0x0C: "utf-8",  # UTF8String
    0x13: "ascii",  # PrintableString
    0x16: "ascii",  # IA5String
    0x14: "latin-1",  # TeletexString, as everyone reads it
    0x1E: "utf-16-be",  # BMPString
    0x1C: "utf-32-be",  # UniversalString
}


def _elements(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, int]]:
    """(tag, value start, value end) of each DER element in ``data[start:end]``."""
    while start < end:
        tag, length = data[start], data[start + 1]
        start += 2
        if length & 0x80:
            count = length & 0x7F
            if not 0 < count <= 4:
                raise ValueError("unsupported DER length")
            length = int.from_bytes(data[start : start + count], "big")
            start += count
        if start + length > end:
            raise ValueError("DER element overruns its container")
        yield tag, start, start + length
        start += length


def _only(elements: Iterator[tuple[int, int, int]], tag: int) -> tuple[int, int, int]:
    element = next(elements)
    if element[0] != tag:
        raise ValueError(f"expected DER tag {tag:#x}, got {element[0]:#x}")
    return element


def _decode_string(tag: int, value: bytes) -> str:
    codec = _STRING_CODECS.get(tag)
    if codec is None:
        raise ValueError(f"unexpected string type {tag:#x} in a common name")
    return value.decode(codec)


def tls_client_certificate_names(scope: Scope) -> tuple[str, ...]:
    """Common names of the client certificate the server verified (ASGI TLS extension).

    Reads ``scope["extensions"]["tls"]["client_cert_chain"][0]`` (PEM); nothing when the
    server does not expose it, reports ``client_cert_error``, or the certificate is malformed.
    """
    tls = (scope.get("extensions") or {}).get("tls")
    if not isinstance(tls, dict) or tls.get("client_cert_error") is not None:
        return ()
    chain = tls.get("client_cert_chain") or ()
    first = _first_pem(chain)
    if first is None:
        return ()
    try:
        return subject_common_names(ssl.PEM_cert_to_DER_cert(first))
    except ValueError as exc:
        log.warning("unreadable client certificate: %s", exc)
        return ()


def _first_pem(chain: str | Iterable[str]) -> str | None:
    # The spec says an iterable of PEM strings; some servers hand the chain as one string.
    if not isinstance(chain, str):
        chain = next(iter(chain), "")
    head, footer, _ = str(chain).strip().partition(ssl.PEM_FOOTER)
    return head + footer if footer else None


class OcppAsgiApp:
    """An ASGI 3 application serving OCPP 1.6J WebSocket connections.

    ``websocket`` scopes under ``options.path_prefix`` are served by ``central_system``;
    ``http`` scopes get a plain 404; ``lifespan`` startup enters ``async with central_system``
    (its periodic jobs run) and shutdown leaves it, unless ``lifespan=False`` (the host
    enters the central system itself). ``client_certificate_names`` reads the verified client
    certificate's names from a scope (security profile 3); the default reads the ASGI TLS
    extension.
    """

    def __init__(
        self,
        central_system: CentralSystem,
        *,
        options: HandshakeOptions | None = None,
        lifespan: bool = True,
        client_certificate_names: Callable[[Scope], Iterable[str]] | None = None,
        throttle: AuthThrottle | None = None,
        max_message_size: int = 2**20,
    ) -> None:
        self.central_system = central_system
        self.options = options or HandshakeOptions()
        self.lifespan = lifespan
        self.client_certificate_names = client_certificate_names or tls_client_certificate_names
        #: Longest message accepted, in bytes; a longer one closes the connection (1009).
        self.max_message_size = max_message_size
        self._admission = Admission(central_system, self.options, throttle)

    @property
    def mount_path(self) -> str:
        """Where to mount this app in a framework: ``app.mount(ocpp.mount_path, ocpp)``."""
        return self.options.path_prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "websocket":
            await self._websocket(scope, receive, send)
        elif kind == "http":
            await _not_found(send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)
        else:
            raise ValueError(f"unsupported ASGI scope type {kind!r}")

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return  # the client left before the handshake
        try:
            peer = self.peer(scope)
            charge_point_id, subprotocol = await self._admission.admit(peer)
        except HandshakeRefused as refused:
            report_refusal(self.central_system, refused)
            await self._refuse(scope, send, refused)
            return
        await send({"type": "websocket.accept", "subprotocol": subprotocol})
        connection = AsgiWebSocketConnection(receive, send, max_message_size=self.max_message_size)
        await self.central_system.serve(connection, charge_point_id)

    def peer(self, scope: Scope) -> Peer:
        """What the handshake rules need to know about the client of a ``websocket`` scope."""
        authorization = single_header(
            "Authorization",
            [
                bytes(value).decode("latin-1")
                for name, value in scope.get("headers") or ()
                if bytes(name).lower() == b"authorization"
            ],
        )
        client = scope.get("client")
        address = str(client[0]) if isinstance(client, list | tuple) and client else None
        extensions = scope.get("extensions") or {}
        tls = scope.get("scheme") in ("wss", "https") or "tls" in extensions
        return Peer(
            path=request_path(scope),
            subprotocols=tuple(str(p) for p in scope.get("subprotocols") or ()),
            authorization=authorization,
            tls=tls,
            client_certificate_names=tuple(self.client_certificate_names(scope)) if tls else (),
            address=address,
        )

    async def _refuse(self, scope: Scope, send: Send, refused: HandshakeRefused) -> None:
        if refused.status != 503:
            log.warning("refused %s from %s: %s", scope.get("path"), scope.get("client"), refused)
        if "websocket.http.response" not in (scope.get("extensions") or {}):
            # Without the extension a close before accepting is all ASGI offers: HTTP 403.
            await send({"type": "websocket.close", "code": 1008})
            return
        body = (refused.reason + "\n").encode("utf-8")
        headers = [
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", str(len(body)).encode("ascii")),
        ]
        if refused.status == 401:
            headers.append((b"www-authenticate", _WWW_AUTHENTICATE))
        if refused.retry_after is not None:
            headers.append((b"retry-after", str(math.ceil(refused.retry_after)).encode("ascii")))
        await send(
            {"type": "websocket.http.response.start", "status": refused.status, "headers": headers}
        )
        await send({"type": "websocket.http.response.body", "body": body})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "lifespan.startup":
            return
        if not self.lifespan:
            await send({"type": "lifespan.startup.complete"})
            await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        started = False
        try:
            async with self.central_system:
                started = True
                await send({"type": "lifespan.startup.complete"})
                await receive()  # lifespan.shutdown
        except Exception as exc:
            log.exception("central system %s failed", "shutdown" if started else "startup")
            failed = "lifespan.shutdown.failed" if started else "lifespan.startup.failed"
            await send({"type": failed, "message": repr(exc)})
            return
        await send({"type": "lifespan.shutdown.complete"})


async def _not_found(send: Send) -> None:
    body = b"Not Found: OCPP is served over WebSocket\n"
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode("ascii")),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
