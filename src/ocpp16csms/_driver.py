"""The one async driver of a :class:`~ocpp16csms.session.Session`, for every side.

The central system and the charge point simulator both run a connection through this: a
receive loop that never blocks on handlers, a timer loop for call deadlines, an outbox flushed
under one lock, an abort that fails every waiting caller, and awaitable outbound calls.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import anyio.abc

from ._logging import get_logger
from ._pending import PendingCall, PendingCalls
from .connection import Connection, TransportClosed
from .messages.base import Request
from .session import AnswerEvent, CallReceived, Event, Session

__all__ = ["Driver"]

log = get_logger("ocpp16csms")


class Driver:
    """Runs one connection's :class:`Session` with anyio (asyncio or trio)."""

    def __init__(self, connection: Connection, session: Session, call_timeout: float) -> None:
        self.connection = connection
        self.session = session
        self.pending = PendingCalls(session.charge_point_id, call_timeout)
        self.closed = False
        #: Set once the driver stopped accepting frames (closed, aborted or lost).
        self.done = anyio.Event()
        self._send_lock = anyio.Lock()
        self._wakeup = anyio.Event()

    async def run(
        self,
        handlers: anyio.abc.TaskGroup,
        on_call: Callable[[CallReceived], Coroutine[Any, Any, None]],
        on_event: Callable[[Event], Awaitable[None]] | None = None,
        on_arrival: Callable[[CallReceived], None] | None = None,
    ) -> None:
        """Serve until the connection closes or :meth:`abort` is called.

        Each inbound CALL runs as ``on_call(event)`` in ``handlers`` (after ``on_arrival``,
        called in arrival order); the events that end our calls wake their callers; every
        other event goes to ``on_event``.
        """
        async with anyio.create_task_group() as io:
            io.start_soon(self._timer_loop, on_event)
            await self._receive_loop(handlers, on_call, on_event, on_arrival)
            io.cancel_scope.cancel()
        self.abort()

    async def _receive_loop(
        self,
        handlers: anyio.abc.TaskGroup,
        on_call: Callable[[CallReceived], Coroutine[Any, Any, None]],
        on_event: Callable[[Event], Awaitable[None]] | None,
        on_arrival: Callable[[CallReceived], None] | None,
    ) -> None:
        while True:
            try:
                text = await self.connection.receive()
            except TransportClosed:
                return
            if self.closed:
                # Aborted while we waited (disconnect, replacement, closing): a frame buffered
                # before the close is not processed; the session no longer accepts any.
                return
            try:
                events = self.session.receive_text(text, anyio.current_time())
            except Exception:
                # A bug of ours, never the peer's doing: the frame is lost, the link is not.
                log.exception("[%s] a frame could not be processed", self.session.charge_point_id)
                continue
            await self.flush()
            for event in events:
                if isinstance(event, CallReceived):
                    if on_arrival is not None:
                        on_arrival(event)
                    handlers.start_soon(on_call, event)
                else:
                    await self._dispatch(event, on_event)

    async def _timer_loop(self, on_event: Callable[[Event], Awaitable[None]] | None) -> None:
        while True:
            wakeup = self._wakeup
            deadline = self.session.next_deadline()
            with anyio.CancelScope(deadline=math.inf if deadline is None else deadline):
                await wakeup.wait()
            if wakeup.is_set():
                self._wakeup = anyio.Event()
            events = self.session.handle_timers(anyio.current_time())
            await self.flush()
            for event in events:
                await self._dispatch(event, on_event)

    async def _dispatch(
        self, event: Event, on_event: Callable[[Event], Awaitable[None]] | None
    ) -> None:
        if isinstance(event, AnswerEvent):
            self.pending.resolve(event)
        elif on_event is not None:
            await on_event(event)

    async def flush(self) -> None:
        """Send what the session has to send; a closed transport aborts the driver."""
        if not self.session.has_outgoing:
            return
        async with self._send_lock:
            for text in self.session.outgoing():
                if self.closed:
                    return
                try:
                    await self.connection.send(text)
                except TransportClosed:
                    self.abort()
                    return
                except (UnicodeError, ValueError):
                    # The session only emits sendable frames; should a transport still refuse
                    # one, that frame is lost and the link lives on.
                    log.exception(
                        "[%s] a frame could not be encoded and was dropped",
                        self.session.charge_point_id,
                    )

    def abort(self) -> None:
        """Stop taking frames and fail every call waiting on this connection (ConnectionLost)."""
        if self.closed:
            return
        self.closed = True
        for event in self.session.close():
            self.pending.resolve(event)
        self._wakeup.set()
        self.done.set()

    def start_call(self, request: Request[Any]) -> PendingCall:
        """Queue ``request`` in the session and park a caller for its answer.

        Raises :class:`~ocpp16csms.errors.LocalProtocolError` when the session is closed and
        :class:`~ocpp16csms.errors.QueueFull` when too many calls wait already.
        """
        message_id = self.session.start_call(request, anyio.current_time())
        waiter = self.pending.add(message_id)
        self._wakeup.set()
        return waiter

    async def finish_call(self, waiter: PendingCall) -> None:
        """Send what is queued and wait until ``waiter``'s call ended (any outcome)."""
        try:
            await self.flush()
            await waiter.done.wait()
        finally:
            self.pending.discard(waiter.message_id)

    def resolve(self, event: Event) -> None:
        """Wake the caller an answer event ends (for drivers' own event handling)."""
        self.pending.resolve(event)
