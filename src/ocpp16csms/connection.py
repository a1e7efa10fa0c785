"""The connection a transport hands to the central system, and an in-memory pair of them.

A transport adapter (WebSocket, ASGI, or a host's own) wraps each charge point connection in
an object with three async methods. That is all the :class:`~ocpp16csms.CentralSystem` needs.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from .errors import CsmsError

__all__ = ["Connection", "MemoryConnection", "TransportClosed", "memory_connection_pair"]


class TransportClosed(CsmsError):
    """The connection is closed; ``code`` and ``reason`` as WebSocket close frames carry them."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(f"connection closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


@runtime_checkable
class Connection(Protocol):
    """One charge point connection, as the central system sees it."""

    async def receive(self) -> str:
        """The next text frame; raise :class:`TransportClosed` once the connection is closed."""
        ...

    async def send(self, text: str) -> None:
        """Send one text frame; raise :class:`TransportClosed` if the connection is closed."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent)."""
        ...


class MemoryConnection:
    """One end of an in-memory connection pair (for tests, simulators and embedding)."""

    def __init__(
        self,
        incoming: MemoryObjectReceiveStream[str],
        outgoing: MemoryObjectSendStream[str],
    ) -> None:
        self._incoming = incoming
        self._outgoing = outgoing
        self.close_code: int | None = None
        self.close_reason = ""

    async def receive(self) -> str:
        # A frame already waiting is taken without a trip through the event loop, as a
        # socket's buffered data is; only an empty buffer waits (and checks cancellation).
        try:
            try:
                return self._incoming.receive_nowait()
            except anyio.WouldBlock:
                return await self._incoming.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise TransportClosed(self.close_code or 1000, self.close_reason) from None

    async def send(self, text: str) -> None:
        # Into the buffer at once while it has room; a full buffer makes the sender wait.
        try:
            try:
                self._outgoing.send_nowait(text)
            except anyio.WouldBlock:
                await self._outgoing.send(text)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise TransportClosed(self.close_code or 1006, "peer gone") from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        # Closing our sending side ends the peer's receive; closing our receiving side ends
        # our own pending receive, so both ends wind down.
        await self._outgoing.aclose()
        await self._incoming.aclose()


def memory_connection_pair(buffer: float = math.inf) -> tuple[MemoryConnection, MemoryConnection]:
    """Two connected ends: what one sends, the other receives."""
    a_send, b_receive = anyio.create_memory_object_stream[str](buffer)
    b_send, a_receive = anyio.create_memory_object_stream[str](buffer)
    return MemoryConnection(a_receive, a_send), MemoryConnection(b_receive, b_send)
