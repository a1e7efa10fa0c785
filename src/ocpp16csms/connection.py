"""The connection a transport hands to the central system, and an in-memory pair of them.

A transport adapter (WebSocket, ASGI, or a host's own) wraps each charge point connection in
an object with three async methods. That is all the :class:`~ocpp16csms.CentralSystem` needs.
A host that reads the frames itself and pushes them in (``CentralSystem.attach``) gives only
the two that go out, a :class:`FrameSender`.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol, runtime_checkable

import anyio
import anyio.lowlevel

from .errors import CsmsError

__all__ = [
    "Connection",
    "FrameSender",
    "MemoryConnection",
    "TransportClosed",
    "memory_connection_pair",
]


class TransportClosed(CsmsError):
    """The connection is closed; ``code`` and ``reason`` as WebSocket close frames carry them."""

    def __init__(self, code: int = 1000, reason: str = "") -> None:
        super().__init__(f"connection closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


@runtime_checkable
class FrameSender(Protocol):
    """The way out to one charge point, for a host that pushes the frames in itself."""

    async def send(self, text: str) -> None:
        """Send one text frame; raise :class:`TransportClosed` if the connection is closed."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None:
        """Close the connection (idempotent)."""
        ...


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


class _Pipe:
    """One direction of an in-memory connection: at most ``size`` frames wait in it.

    Leaner than an anyio memory object stream (which does cancellation bookkeeping for every
    frame); a frame is handed over without a trip through the event loop when a reader or
    room is there, and a reader or writer waits on an event otherwise.
    """

    def __init__(self, size: float) -> None:
        self.size = size
        self.frames: deque[str] = deque()
        self.readers_waiting = 0
        self.writer_gone = False  # no more frames will come: readers get EndOfStream
        self.reader_gone = False  # nobody reads: writers get BrokenResourceError
        self._readable: anyio.Event | None = None
        self._writable: anyio.Event | None = None

    def _wake_readers(self) -> None:
        if self._readable is not None:
            self._readable.set()
            self._readable = None

    def _wake_writers(self) -> None:
        if self._writable is not None:
            self._writable.set()
            self._writable = None

    async def receive(self) -> str:
        while True:
            if self.reader_gone:
                raise anyio.ClosedResourceError
            if self.frames:
                frame = self.frames.popleft()
                self._wake_writers()
                return frame
            if self.writer_gone:
                raise anyio.EndOfStream
            if self._readable is None:
                self._readable = anyio.Event()
            readable = self._readable
            self.readers_waiting += 1
            self._wake_writers()  # an unbuffered writer may hand its frame over now
            try:
                await readable.wait()
            finally:
                self.readers_waiting -= 1

    async def send(self, text: str) -> None:
        while True:
            if self.writer_gone:
                raise anyio.ClosedResourceError
            if self.reader_gone:
                raise anyio.BrokenResourceError
            if len(self.frames) < max(self.size, self.readers_waiting):
                self.frames.append(text)
                self._wake_readers()
                return
            if self._writable is None:
                self._writable = anyio.Event()
            await self._writable.wait()

    def close_writing(self) -> None:
        self.writer_gone = True
        self._wake_readers()
        self._wake_writers()

    def close_reading(self) -> None:
        self.reader_gone = True
        self.frames.clear()
        self._wake_readers()
        self._wake_writers()


class MemoryConnection:
    """One end of an in-memory connection pair (for tests, simulators and embedding).

    Made by :func:`memory_connection_pair`. A frame already waiting is received, and a frame
    with room in the buffer is sent, without a trip through the event loop, as a socket's
    buffered data would be.
    """

    def __init__(self, incoming: _Pipe, outgoing: _Pipe) -> None:
        self._incoming = incoming
        self._outgoing = outgoing
        self.close_code: int | None = None
        self.close_reason = ""

    async def receive(self) -> str:
        try:
            return await self._incoming.receive()
        except (anyio.EndOfStream, anyio.ClosedResourceError):
            raise TransportClosed(self.close_code or 1000, self.close_reason) from None

    async def send(self, text: str) -> None:
        try:
            await self._outgoing.send(text)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            raise TransportClosed(self.close_code or 1006, "peer gone") from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.close_code is None:
            self.close_code, self.close_reason = code, reason
        # Closing our sending side ends the peer's receive; closing our receiving side ends
        # our own pending receive, so both ends wind down.
        self._outgoing.close_writing()
        self._incoming.close_reading()
        await anyio.lowlevel.checkpoint()


def memory_connection_pair(buffer: float = math.inf) -> tuple[MemoryConnection, MemoryConnection]:
    """Two connected ends: what one sends, the other receives (``buffer`` frames may wait in
    each direction; 0: a sender waits for the receiver)."""
    if not buffer >= 0:
        raise ValueError(f"buffer must be >= 0, got {buffer!r}")
    a_to_b, b_to_a = _Pipe(buffer), _Pipe(buffer)
    return MemoryConnection(b_to_a, a_to_b), MemoryConnection(a_to_b, b_to_a)
