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
from .errors import InternalError
from .messages.base import Request, Response

__all__ = [
    "CLOSE_TIMEOUT",
    "close_within",
    "failure_answer",
    "finish_within",
    "first_step",
    "hooks_given_up",
    "is_foreign_cancellation",
    "run_hooks",
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


def first_step(job: Coroutine[Any, Any, _T]) -> tuple[bool, Any]:
    """Run ``job`` (a coroutine, not started) in this task up to its first real wait:
    ``(True, its result)`` when it completed without waiting, else ``(False, what it waits
    on)``, to be handed to :func:`finish_within`. asyncio only (trio's cancel scopes must be
    entered before the job starts: use :func:`within` there).

    A job that never waits (a memory store, a fixed answer) cannot overrun a deadline and is
    given none, so it costs no timer and no coroutine of ours around it: this runs for every
    inbound CALL and its after hooks.
    """
    try:
        return False, job.send(None)
    except StopIteration as done:
        return True, done.value


async def finish_within(
    job: Coroutine[Any, Any, _T], waiting_on: Any, timeout: float
) -> tuple[_T | None, bool]:
    """Go on with ``job``, started by :func:`first_step` and now ``waiting_on`` something,
    for at most ``timeout`` seconds: ``(its result, False)``, or ``(None, True)`` when the
    time passed first and the job was cancelled. Any other cancellation propagates.

    The deadline starts now (the microseconds the job ran before count to nobody). It is one
    loop timer that cancels this task (told apart from any other cancellation by the task's
    cancel count), not an anyio cancel scope, which cost a tenth of the CPU per CALL and a
    dozen objects the garbage collector visits meanwhile.
    """
    task = asyncio.current_task()
    assert task is not None
    expiry = _Expiry(task)
    handle = asyncio.get_running_loop().call_later(timeout, expiry.fire)
    try:
        result = await _resume(job, waiting_on)
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


async def within(job: Coroutine[Any, Any, _T], timeout: float) -> tuple[_T | None, bool]:
    """``(job's result, False)``, or ``(None, True)`` when ``timeout`` seconds passed first
    and the job (a coroutine, not started) was cancelled. Any other cancellation propagates.

    On asyncio: :func:`first_step`, then :func:`finish_within` if the job waits. On trio a
    native cancel scope is cheap and used as is (entered first, as trio's scopes must nest).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # trio: its own cancel scope, without anyio's wrapper around it
        import trio

        # Entered first: a cancel scope the job enters must nest inside it.
        with trio.move_on_after(timeout):
            return await job, False
        return None, True
    done, value = first_step(job)
    if done:
        return value, False
    return await finish_within(job, value, timeout)


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


def failure_answer(
    raised: BaseException, cp: str, message_id: str, action: str
) -> InternalError | None:
    """The answer for a handler that raised ``raised`` (not an :class:`OcppError`, which is
    sent as raised), logged with the charge point and message id; None when ``raised`` must
    propagate (a real cancellation, a closed coroutine). Call it in the ``except`` block.

    Any exception and a foreign CancelledError become :class:`InternalError`.
    """
    if isinstance(raised, Exception):
        log.exception(
            "[%s] message %s: handler for %s failed",
            cp,
            message_id,
            action,
            extra={"charge_point_id": cp, "message_id": message_id},
        )
        return InternalError(f"the central system failed to process {action}")
    if not is_foreign_cancellation(raised):
        return None
    # A store or library raised a CancelledError of its own (its own timeout, say) while
    # nobody cancelled us: a failure like any other, not a shutdown.
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


async def close_within(connection: FrameSender, code: int, reason: str) -> None:
    """Close ``connection``, giving up after :data:`CLOSE_TIMEOUT` seconds."""
    with anyio.move_on_after(CLOSE_TIMEOUT):
        await connection.close(code, reason)


def hooks_given_up(context: CallContext, action: str, timeout: float) -> None:
    """Log that a CALL's after hooks ran past ``timeout`` and were cancelled."""
    log.error(
        "[%s] message %s: after hooks for %s given up after %g s",
        context.charge_point_id,
        context.message_id,
        action,
        timeout,
        extra={"charge_point_id": context.charge_point_id, "message_id": context.message_id},
    )


async def run_hooks(
    hooks: Iterable[AfterHook[Any]],
    request: Request[Any],
    response: Response,
    context: CallContext,
) -> None:
    """Run a CALL's after hooks in order; what one raises is logged with the charge point
    and message id (the answer has gone out already). Run it within the handler timeout."""
    for hook in hooks:
        try:
            result = hook(request, response, context)
            # A sync hook returns None; an async one (nearly always) a coroutine.
            if result is not None and (
                type(result) is types.CoroutineType or inspect.isawaitable(result)
            ):
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
