"""The one async driver of a :class:`~ocpp16csms.session.Session`, for every side.

The central system and the charge point simulator both run a connection through this: a
receive loop that never blocks on handlers, a timer for call deadlines while calls are
outstanding, an outbox flushed
by one sender at a time, an abort that fails every waiting caller, and awaitable outbound
calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import anyio.abc

from ._logging import get_logger
from ._pending import PendingCall, PendingCalls
from .connection import Connection, FrameSender, TransportClosed
from .errors import InternalError, LocalProtocolError
from .messages.base import Request
from .session import AnswerEvent, CallReceived, Event, Session

__all__ = ["Driver"]

log = get_logger("ocpp16csms")


def backend_clock() -> Callable[[], float]:
    """The running backend's own monotonic clock, looked up once.

    ``anyio.current_time()`` finds the backend anew on every call; the driver asks for the
    time on every frame. The clock must be the backend's (trio's may be offset or mocked),
    since deadlines are compared with cancel scopes'.
    """
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        if type(loop).time is asyncio.BaseEventLoop.time:
            # asyncio's own loops read time.monotonic(): called as is, a C call per frame
            # instead of a Python method around it.
            return time.monotonic
        return loop.time
    try:
        import trio

        trio.lowlevel.current_task()  # raises RuntimeError outside trio
    except (ImportError, RuntimeError):
        return anyio.current_time
    return trio.current_time


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _HandlerTasks:
    """The tasks answering one connection's CALLs.

    On asyncio each is a plain ``asyncio.Task``: an anyio task-group spawn costs a task
    handle, a cancel scope, an event and a wrapper coroutine per CALL, a sixth of the CPU a
    CALL takes; the driver keeps the structure itself (it waits for, or cancels, every
    handler before :meth:`Driver.run` returns). On trio they go to the task group.
    """

    def __init__(
        self, group: anyio.abc.TaskGroup, charge_point_id: str, *, plain: bool = True
    ) -> None:
        self.group = group
        self.charge_point_id = charge_point_id
        self.loop: asyncio.AbstractEventLoop | None = None
        if plain:
            with contextlib.suppress(RuntimeError):  # trio
                self.loop = asyncio.get_running_loop()
        self.running: set[asyncio.Task[object]] = set()

    def start(
        self, on_call: Callable[[CallReceived], Coroutine[Any, Any, object]], event: CallReceived
    ) -> None:
        if self.loop is None:
            self.group.start_soon(on_call, event)
            return
        if sys.version_info >= (3, 12):
            # Eager start: the handler runs at once, up to its first real wait, as the task
            # it is (current_task() and cancel scopes see that task); one that completes
            # without waiting (a memory store, a fixed answer) costs no loop iteration.
            task = asyncio.Task(on_call(event), loop=self.loop, eager_start=True)
        else:
            task = self.loop.create_task(on_call(event))
        if task.done():
            self._finished(task)
            return
        self.running.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[object]) -> None:
        self.running.discard(task)
        if not task.cancelled() and (error := task.exception()) is not None:
            # on_call answers every failure itself; reaching this is a bug of ours.
            log.error(  # pragma: no cover
                "[%s] a handler task failed: %r",
                self.charge_point_id,
                task,
                exc_info=error,
                extra={"charge_point_id": self.charge_point_id},
            )

    async def settle(self, grace: float) -> None:
        """Let running handlers finish for ``grace`` seconds, then cancel the rest."""
        if not self.running:
            return
        try:
            if grace > 0:
                # Not shielded: a host that cancels the connection cuts the grace short.
                await asyncio.wait(list(self.running), timeout=grace)
        finally:
            for task in list(self.running):
                task.cancel()
            if self.running:
                # Cancelled handlers end within a step or two; one that swallows its
                # cancellation and hangs is left behind rather than holding the connection.
                with anyio.CancelScope(shield=True):
                    await asyncio.wait(list(self.running), timeout=_SETTLE_TIMEOUT)


_SETTLE_TIMEOUT = 5.0


class Driver:
    """Runs one connection's :class:`Session` with anyio (asyncio or trio).

    An idle connection costs one task (the receive loop, run by the caller) and no event,
    cancel scope or task group of its own: the timer that expires our calls runs only while
    a call of ours is outstanding, and the ``done`` event is made only when somebody asks.
    Every object a connection keeps alive is visited by each full garbage collection, so at
    10,000 connections these count (docs/performance.md).
    """

    def __init__(
        self, connection: Connection | FrameSender, session: Session, call_timeout: float
    ) -> None:
        self.connection = connection
        self.session = session
        self.pending = PendingCalls(session.charge_point_id, call_timeout)
        self.closed = False
        self._done: anyio.Event | None = None
        self._flushing = False
        # Made only when a second sender has to wait (rare), so a flush costs no event.
        self._flushed: anyio.Event | None = None
        # The timer task's wake-up call, while it runs; made with it.
        self._wakeup: anyio.Event | None = None
        self._timer_running = False
        self._tasks: anyio.abc.TaskGroup | None = None
        self._on_event: Callable[[Event], Awaitable[None]] | None = None
        #: The backend's monotonic clock (its own, looked up once the driver runs).
        self.now: Callable[[], float] = anyio.current_time
        #: Whether the driver runs on asyncio (known once it runs or is attached).
        self.asyncio = False

    @property
    def done(self) -> anyio.Event:
        """Set once the driver stopped accepting frames (closed, aborted or lost)."""
        if self._done is None:
            self._done = anyio.Event()
            if self.closed:
                self._done.set()
        return self._done

    async def run(
        self,
        tasks: anyio.abc.TaskGroup,
        on_call: Callable[[CallReceived], Coroutine[Any, Any, object]],
        on_event: Callable[[Event], Awaitable[None]] | None = None,
        on_arrival: Callable[[CallReceived], None] | None = None,
        *,
        grace: float = 0.0,
        handlers_in_group: bool = False,
    ) -> None:
        """Serve until the connection closes or :meth:`abort` is called.

        Each inbound CALL runs as ``on_call(event)`` in a task of its own (after
        ``on_arrival``, called in arrival order); the events that end our calls wake their
        callers; every other event goes to ``on_event``. The call timer, while needed, runs in
        ``tasks`` and ends with the connection. When the connection ends, handlers still
        running get ``grace`` seconds to finish and are then cancelled; when this is
        cancelled, they are cancelled at once. Either way none outlives this call.
        ``handlers_in_group``: run the handlers in ``tasks`` on asyncio too, so that an
        exception one raises fails the group (the simulator's way; the central system's
        handlers answer every failure themselves).
        """
        connection = self.connection
        if not isinstance(connection, Connection):
            raise TypeError(f"a receive loop needs a Connection, got {type(connection).__name__}")
        self.now = backend_clock()
        self.asyncio = _on_asyncio()
        self._tasks = tasks
        self._on_event = on_event
        handlers = _HandlerTasks(tasks, self.session.charge_point_id, plain=not handlers_in_group)
        if self.session.next_deadline() is not None:
            self._start_timer()  # a call was queued before the loop started
        try:
            while True:
                try:
                    text = await connection.receive()
                except TransportClosed:
                    break
                if self.closed:
                    # Aborted while we waited (disconnect, replacement, closing): a frame
                    # buffered before the close is not processed; the session takes no more.
                    break
                # A separate frame so that nothing of this message stays referenced from
                # this loop while it waits for the next one.
                await self._receive(text, handlers, on_call, on_event, on_arrival)
        except BaseException:
            grace = 0.0  # cancelled (or a bug): nobody waits for handlers
            raise
        finally:
            self.abort()
            if handlers.running:
                await handlers.settle(grace)

    async def _receive(
        self,
        text: str,
        handlers: _HandlerTasks,
        on_call: Callable[[CallReceived], Coroutine[Any, Any, object]],
        on_event: Callable[[Event], Awaitable[None]] | None,
        on_arrival: Callable[[CallReceived], None] | None,
    ) -> None:
        try:
            events = self.session.receive_text(text, self.now())
        except Exception:
            # A bug of ours, never the peer's doing: the frame is lost, the link is not.
            log.exception("[%s] a frame could not be processed", self.session.charge_point_id)
            return
        await self.flush()
        for event in events:
            if isinstance(event, CallReceived):
                if on_arrival is not None:
                    on_arrival(event)
                handlers.start(on_call, event)
            else:
                await self._dispatch(event, on_event)

    # -- frames pushed in by the host (CentralSystem.attach) -------------------------------------

    def attach(
        self, tasks: anyio.abc.TaskGroup, on_event: Callable[[Event], Awaitable[None]] | None
    ) -> None:
        """Take frames from :meth:`feed` instead of a receive loop; ``tasks`` holds the call
        timer while calls of ours are outstanding."""
        self.now = backend_clock()
        self.asyncio = _on_asyncio()
        self._tasks = tasks
        self._on_event = on_event
        if self.session.next_deadline() is not None:
            self._start_timer()

    async def feed(
        self, on_call: Callable[[CallReceived], Awaitable[object]], text: str | bytes
    ) -> None:
        """Process one frame from the peer in the caller's task, a CALL's handler included
        (``on_call`` answers it). A frame that arrives after the driver closed is dropped."""
        if self.closed:
            return
        session = self.session
        try:
            events = session.receive_text(text, self.now())
        except Exception:
            log.exception("[%s] a frame could not be processed", session.charge_point_id)
            return
        if session._outbox:  # has_outgoing, without the property call (every frame)
            await self.flush()
        for event in events:
            if not isinstance(event, CallReceived):
                await self._dispatch(event, self._on_event)
                continue
            try:
                await on_call(event)
            except BaseException:
                # The host's task was cancelled (or a bug of ours escaped): the CALL still
                # gets its one answer, sent with the next frame that goes out, so the charge
                # point and the count of unanswered CALLs are not left waiting for it.
                with contextlib.suppress(LocalProtocolError):
                    session.send_error(
                        event.message_id, InternalError("the central system stopped handling it")
                    )
                raise

    def _start_timer(self) -> None:
        if self._timer_running or self._tasks is None or self.closed:
            return
        self._timer_running = True
        self._wakeup = anyio.Event()
        self._tasks.start_soon(self._timer_loop)

    async def _timer_loop(self) -> None:
        """Expire our calls at their deadlines; ends when none is outstanding."""
        try:
            while not self.closed:
                deadline = self.session.next_deadline()
                if deadline is None:
                    return
                wakeup = self._wakeup
                assert wakeup is not None
                with anyio.CancelScope(deadline=deadline):
                    await wakeup.wait()
                if wakeup.is_set():
                    self._wakeup = anyio.Event()
                if self.closed:
                    return
                events = self.session.handle_timers(self.now())
                await self.flush()
                for event in events:
                    await self._dispatch(event, self._on_event)
        finally:
            self._timer_running = False
            self._wakeup = None

    async def _dispatch(
        self, event: Event, on_event: Callable[[Event], Awaitable[None]] | None
    ) -> None:
        if isinstance(event, AnswerEvent):
            self.pending.resolve(event)
        elif on_event is not None:
            await on_event(event)

    async def flush(self) -> None:
        """Send what the session has to send; a closed transport aborts the driver.

        One task sends at a time, in order; another that finds frames waiting meanwhile waits
        for it (so a peer that does not read holds every sender back, as a lock would).
        """
        session = self.session
        if not session._outbox:  # has_outgoing, without the property call (every CALL)
            return
        while self._flushing:
            if self._flushed is None:
                self._flushed = anyio.Event()
            await self._flushed.wait()
            if not session.has_outgoing:
                return
        self._flushing = True
        try:
            while session._outbox:
                for text in session.outgoing():
                    if self.closed:
                        return
                    try:
                        await self.connection.send(text)
                    except TransportClosed:
                        self.abort()
                        return
                    except (UnicodeError, ValueError):
                        # The session only emits sendable frames; should a transport still
                        # refuse one, that frame is lost and the link lives on.
                        log.exception(
                            "[%s] a frame could not be encoded and was dropped",
                            session.charge_point_id,
                        )
        finally:
            self._flushing = False
            waiting, self._flushed = self._flushed, None
            if waiting is not None:
                waiting.set()

    def abort(self) -> None:
        """Stop taking frames and fail every call waiting on this connection (ConnectionLost)."""
        if self.closed:
            return
        self.closed = True
        for event in self.session.close():
            self.pending.resolve(event)
        if self._wakeup is not None:
            self._wakeup.set()
        if self._done is not None:
            self._done.set()

    def start_call(self, request: Request[Any]) -> PendingCall:
        """Queue ``request`` in the session and park a caller for its answer.

        Raises :class:`~ocpp16csms.errors.LocalProtocolError` when the session is closed and
        :class:`~ocpp16csms.errors.QueueFull` when too many calls wait already.
        """
        message_id = self.session.start_call(request, self.now())
        waiter = self.pending.add(message_id)
        # A new call's deadline is never earlier than those already waited for, so a running
        # timer needs no wake-up; a stopped one is started.
        self._start_timer()
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
