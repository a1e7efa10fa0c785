"""Keepalive pings for every connection of a server, from one task.

The ``websockets`` library pings each connection from a task of its own. At 10,000 idle
charge points those tasks, their sleeps and timer handles are a tenth of the memory of a
connection and objects that every full garbage collection visits (docs/performance.md), so
the adapter turns the library's keepalive off and runs this one: a heap of due times, one
ping per connection per interval, and a connection that leaves a pong owed longer than the
timeout is closed with 1011, as the library would.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Protocol

from .._logging import get_logger

__all__ = ["Keepalive", "Pingable"]

log = get_logger("ocpp16csms.transports.websockets")


class Pingable(Protocol):
    """What the keepalive needs of a connection (``websockets``' ServerConnection has it)."""

    async def ping(self) -> Awaitable[float]: ...


class Keepalive:
    """Pings its connections every ``interval`` seconds from one task, started on demand.

    ``timeout`` (None: wait forever) is how long a pong may take before ``on_dead`` is
    started, in a task of its own, to close the connection. The task runs while any
    connection is registered and ends with the last; so it needs no closing.
    """

    def __init__(
        self,
        interval: float,
        timeout: float | None,
        on_dead: Callable[[Any], Coroutine[Any, Any, None]],
    ) -> None:
        self.interval = interval
        self.timeout = timeout
        self.on_dead = on_dead
        self._connections: dict[int, Pingable] = {}
        self._keys = itertools.count()
        # (due, key): pings owed and pongs to check. The heaps hold keys, not connections,
        # so a connection that ends is let go at once; its entries are skipped when due.
        self._pings: list[tuple[float, int]] = []
        self._pongs: list[tuple[float, int, asyncio.Task[Awaitable[float]]]] = []
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing: set[asyncio.Task[None]] = set()

    def add(self, connection: Pingable) -> int:
        """Start pinging ``connection``; the key returned is what :meth:`discard` takes."""
        loop = asyncio.get_running_loop()
        key = next(self._keys)
        self._connections[key] = connection
        heapq.heappush(self._pings, (loop.time() + self.interval, key))
        if self._task is None:
            self._wakeup = asyncio.Event()
            self._task = loop.create_task(self._run())
        return key

    def discard(self, key: int) -> None:
        """Stop pinging the connection added under ``key`` (it closed)."""
        self._connections.pop(key, None)
        if not self._connections and self._wakeup is not None:
            self._wakeup.set()  # the task ends

    def __len__(self) -> int:
        return len(self._connections)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._connections:
                now = loop.time()
                self._ping_due(loop, now)
                self._check_pongs(loop, now)
                due = [heap[0][0] for heap in (self._pings, self._pongs) if heap]
                if not due:  # pragma: no cover - a registered connection always has a ping due
                    return
                wakeup = self._wakeup
                assert wakeup is not None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(max(0.0, min(due) - loop.time())):
                        await wakeup.wait()
                wakeup.clear()
        except Exception:  # pragma: no cover - a bug of ours must not end every keepalive
            log.exception("keepalive pings stopped")
        finally:
            self._task = None
            self._pings.clear()
            for _, _, ping in self._pongs:
                ping.cancel()
            self._pongs.clear()

    def _ping_due(self, loop: asyncio.AbstractEventLoop, now: float) -> None:
        pings = self._pings
        while pings and pings[0][0] <= now:
            _, key = heapq.heappop(pings)
            connection = self._connections.get(key)
            if connection is None:
                continue
            # A task per ping, not one await after another: sending waits while a peer does
            # not read (flow control), and one such peer must not hold up everybody's pings.
            ping = loop.create_task(connection.ping())
            ping.add_done_callback(_retrieve)
            if self.timeout is not None:
                heapq.heappush(self._pongs, (now + self.timeout, key, ping))
            heapq.heappush(pings, (now + self.interval, key))

    def _check_pongs(self, loop: asyncio.AbstractEventLoop, now: float) -> None:
        pongs = self._pongs
        while pongs and pongs[0][0] <= now:
            _, key, ping = heapq.heappop(pongs)
            connection = self._connections.get(key)
            if connection is None:
                ping.cancel()
                continue
            if ping.done():
                if ping.cancelled() or ping.exception() is not None:
                    continue  # the connection is closing; its handler discards it
                pong = ping.result()
                if not isinstance(pong, asyncio.Future) or pong.done():
                    continue  # answered in time
            else:
                ping.cancel()  # still not sent: the peer reads nothing
            # A dead peer may never finish the close handshake: close in a task of its own.
            self._connections.pop(key, None)
            log.info("no pong within %g s: closing the connection (1011)", self.timeout)
            task = loop.create_task(self.on_dead(connection))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)


def _retrieve(ping: asyncio.Task[Awaitable[float]]) -> None:
    """Mark a ping's failure and its pong's as seen: a closing connection fails both."""
    if ping.cancelled() or ping.exception() is not None:
        return
    pong = ping.result()
    if isinstance(pong, asyncio.Future):
        pong.add_done_callback(_retrieve_pong)


def _retrieve_pong(pong: asyncio.Future[float]) -> None:
    if not pong.cancelled():
        pong.exception()
