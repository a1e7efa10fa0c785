"""Running host code (handlers, hooks) under a deadline, with every failure made an answer.

Whatever a handler or the store under it does (raise, hang, leak a ``CancelledError`` of its
own), the charge point gets exactly one answer and the connection lives on (docs/security.md).
"""

from __future__ import annotations

import asyncio
import inspect
import math
import types
from collections.abc import Coroutine, Generator, Iterable
from typing import Any, TypeVar

import anyio

from ._logging import get_logger
from .connection import FrameSender
from .engine import AfterHook, CallContext
from .errors import InternalError, OcppError
from .messages.base import Request, Response

__all__ = [
    "CLOSE_TIMEOUT",
    "answer_or_error",
    "close_within",
    "is_foreign_cancellation",
    "run_after_hooks",
    "run_within",
    "too_late",
    "within",
]

log = get_logger("ocpp16csms")

_T = TypeVar("_T")

CLOSE_TIMEOUT = 5.0
"""Seconds a close may take (a dead peer never completes it) before it is given up."""


def is_foreign_cancellation(error: BaseException) -> bool:
    """Whether ``error`` is a CancelledError some library raised while nobody cancelled us.

    On asyncio a cancellation is real when a cancel scope around this task was cancelled or
    the task has a cancel request pending (``Task.cancelling()``); a bare
    ``asyncio.CancelledError`` raised by a store's own code has neither. On trio only trio
    raises ``trio.Cancelled``, so an ``asyncio.CancelledError`` there is always foreign.
    """
    if not isinstance(error, asyncio.CancelledError | anyio.get_cancelled_exc_class()):
        return False
    if anyio.current_effective_deadline() == -math.inf:
        return False
    try:
        task = asyncio.current_task()
    except RuntimeError:  # not on asyncio
        return isinstance(error, asyncio.CancelledError)
    return task is not None and task.cancelling() == 0


async def within(job: Coroutine[Any, Any, _T], timeout: float) -> tuple[_T | None, bool]:
    """``(job's result, False)``, or ``(None, True)`` when ``timeout`` seconds passed first
    and the job (a coroutine, not started) was cancelled. Any other cancellation propagates.

    On asyncio the job runs at once, in this task, up to its first real wait; one that never
    waits (a memory store, a fixed answer) cannot overrun a deadline and is given none, so it
    costs no timer. Otherwise its deadline starts then, and the job goes on under it (the
    microseconds it ran before count to nobody). The deadline is one loop timer that cancels
    this task (told apart from any other cancellation by the task's cancel count), not an
    anyio cancel scope: this runs for every inbound CALL and its after hooks, and a cancel
    scope there cost a tenth of the CPU per CALL and a dozen objects the garbage collector
    visits meanwhile. On trio a native cancel scope is cheap and used as is (entered first,
    as trio's scopes must nest).
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:  # trio: its own cancel scope, without anyio's wrapper around it
        import trio

        # Entered first: a cancel scope the job enters must nest inside it.
        with trio.move_on_after(timeout):
            return await job, False
        return None, True
    coro = job
    try:
        waiting_on = coro.send(None)
    except StopIteration as done:
        return done.value, False
    task = asyncio.current_task()
    assert task is not None
    expiry = _Expiry(task)
    handle = loop.call_later(timeout, expiry.fire)
    try:
        result = await _resume(coro, waiting_on)
    except asyncio.CancelledError:
        if expiry.fired and task.uncancel() == 0:
            return None, True
        raise
    finally:
        handle.cancel()
    if expiry.fired:
        # The job swallowed our cancellation and finished anyway: its result stands, and
        # the cancel request we made is withdrawn so that it reaches nobody else.
        task.uncancel()
    return result, False


@types.coroutine
def _resume(coro: Coroutine[Any, Any, _T], waiting_on: Any) -> Generator[Any, Any, _T]:
    """Await ``coro``, started already and now waiting on ``waiting_on``: what the event loop
    sends or throws in goes on to it, what it waits on goes out to the loop."""
    try:
        while True:
            try:
                sent = yield waiting_on
            except BaseException as error:
                waiting_on = coro.throw(error)
            else:
                waiting_on = coro.send(sent)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        coro.close()  # a no-op once it finished; stops it if we are closed half-way


class _Expiry:
    """Cancels a handler's task when its deadline passes, remembering that it did."""

    __slots__ = ("fired", "task")

    def __init__(self, task: asyncio.Task[Any]) -> None:
        self.task = task
        self.fired = False

    def fire(self) -> None:
        self.fired = True
        self.task.cancel()


async def answer_or_error(
    answer: Coroutine[Any, Any, Response], cp: str, message_id: str, action: str
) -> Response | OcppError:
    """The response ``answer`` gives, or the error to send: an :class:`OcppError` as raised;
    any other exception and a foreign CancelledError become :class:`InternalError`, logged
    with the charge point and message id. A real cancellation propagates. Run it
    :func:`within` the handler timeout, and answer :func:`too_late` when that passes."""
    try:
        return await answer
    except OcppError as raised:
        return raised
    except Exception:
        log.exception(
            "[%s] message %s: handler for %s failed",
            cp,
            message_id,
            action,
            extra={"charge_point_id": cp, "message_id": message_id},
        )
        return InternalError(f"the central system failed to process {action}")
    except BaseException as raised:
        if not is_foreign_cancellation(raised):
            raise
        # A store or library raised a CancelledError of its own (its own timeout, say)
        # while nobody cancelled us: a failure like any other, not a shutdown.
        log.error(
            "[%s] message %s: handler for %s raised a CancelledError nobody asked for",
            cp,
            message_id,
            action,
            exc_info=True,
            extra={"charge_point_id": cp, "message_id": message_id},
        )
        return InternalError(f"the central system failed to process {action}")


def too_late(cp: str, message_id: str, action: str, timeout: float) -> InternalError:
    """The answer for a handler past its deadline (logged with the ids)."""
    log.error(
        "[%s] message %s: handler for %s did not finish within %g s",
        cp,
        message_id,
        action,
        timeout,
        extra={"charge_point_id": cp, "message_id": message_id},
    )
    return InternalError(f"the central system did not process {action} in time")


async def run_within(
    job: Coroutine[Any, Any, None],
    timeout: float,
    *,
    charge_point_id: str,
    message_id: str,
    what: str,
) -> None:
    """Await ``job`` (a coroutine, not started) for at most ``timeout`` seconds; log when it
    is given up."""
    _, late = await within(job, timeout)
    if late:
        log.error(
            "[%s] message %s: %s given up after %g s",
            charge_point_id,
            message_id,
            what,
            timeout,
            extra={"charge_point_id": charge_point_id, "message_id": message_id},
        )


async def close_within(connection: FrameSender, code: int, reason: str) -> None:
    """Close ``connection``, giving up after :data:`CLOSE_TIMEOUT` seconds."""
    with anyio.move_on_after(CLOSE_TIMEOUT):
        await connection.close(code, reason)


async def run_after_hooks(
    hooks: Iterable[AfterHook[Any]],
    request: Request[Any],
    response: Response,
    context: CallContext,
    timeout: float,
) -> None:
    """Run a CALL's after hooks in order within ``timeout`` seconds in all; what one raises
    is logged with the charge point and message id (the answer has gone out already)."""
    await run_within(
        _run_hooks(hooks, request, response, context),
        timeout,
        charge_point_id=context.charge_point_id,
        message_id=context.message_id,
        what=f"after hooks for {request.action}",
    )


async def _run_hooks(
    hooks: Iterable[AfterHook[Any]],
    request: Request[Any],
    response: Response,
    context: CallContext,
) -> None:
    for hook in hooks:
        try:
            result = hook(request, response, context)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception(
                "[%s] message %s: after hook %r for %s failed",
                context.charge_point_id,
                context.message_id,
                hook,
                request.action,
                extra={
                    "charge_point_id": context.charge_point_id,
                    "message_id": context.message_id,
                },
            )
