"""Answering a charge point's CALLs: the central system's per-CALL path.

Every inbound CALL runs :func:`handle_call` (the central system binds it to each connection):
the handler under its deadline, the answer checked and sent, the after hooks, the observers.
On the common path it is the one coroutine of ours per CALL: on asyncio the handler (with
its answer hooks) and then the after hooks run as far as they can at once, and only one
that waits gets a deadline timer (docs/performance.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from types import CoroutineType
from typing import Any, Protocol, TypeVar

from ._driver import Driver
from ._guard import (
    failure_answer,
    finish_within,
    first_step,
    hooks_given_up,
    run_hooks,
    too_late,
    within,
)
from ._logging import MESSAGE_IDS, get_logger, message_context
from ._trusted import trusted_factory
from .bundle import Stores
from .engine import (
    AfterHook,
    AnswerHook,
    CallContext,
    CentralSystemOptions,
    Exchange,
    Handler,
    Observer,
)
from .enums import RegistrationStatus
from .errors import InternalError, InvalidRequest, LocalProtocolError, NotSupported, OcppError
from .instrumentation import Instrumentation, instrumented_inbound
from .messages.base import Direction, Request, Response
from .session import CallReceived, Session


class CentralSystem(Protocol):
    """What this needs of the :class:`~ocpp16csms.CentralSystem` (its own, private parts
    included: this module is its per-CALL path, kept apart)."""

    instrumentation: Instrumentation | None
    options: CentralSystemOptions
    stores: Stores
    clock: Callable[[], datetime]
    _handlers: dict[str, Handler[Any]]
    _answer_hooks: dict[str, list[AnswerHook[Any]]]
    _after_hooks: dict[str, list[AfterHook[Any]]]
    _observers: list[Observer]

    async def _emit(self, event: object) -> None: ...


class _Link(Protocol):
    """What this needs of one connection (the central system's ``_Link``)."""

    charge_point_id: str
    driver: Driver
    session: Session
    last_touch: float


__all__ = ["handle_call"]

log = get_logger("ocpp16csms")
_DEBUG = logging.DEBUG

_T = TypeVar("_T")

# A handler's context, built for every CALL from values that are right by construction.
_context = trusted_factory(CallContext)


async def handle_call(
    cs: CentralSystem, link: _Link, event: CallReceived, instrumented: bool = False
) -> tuple[Response | None, OcppError | None]:
    """Answer one inbound CALL; the outcome is returned for instrumentation.

    One coroutine of ours per CALL on the common path: on asyncio the handler (with its
    answer hooks) and then the after hooks run as far as they can at once
    (:func:`~._guard.first_step`), and only one that waits gets a deadline timer.
    """
    request, message_id, cp = event.request, event.message_id, link.charge_point_id
    if (instrumentation := cs.instrumentation) is not None and not instrumented:
        with message_context(cp, message_id):
            handling = handle_call(cs, link, event, True)
            await instrumented_inbound(instrumentation, cp, event, handling)
        return None, None
    ids = MESSAGE_IDS.set((cp, message_id))
    try:
        action = request.action
        if log.isEnabledFor(_DEBUG):
            log.debug("[%s] message %s: %s received", cp, message_id, action)
        driver, session, options = link.driver, link.session, cs.options
        context = _context(cp, message_id, cs, cs.clock(), session.registration)
        timeout = options.handler_timeout
        on_asyncio = driver.asyncio
        late = False
        handler = cs._handlers.get(action)
        if (
            on_asyncio
            and handler is not None
            and action != "BootNotification"
            and driver.now() - link.last_touch < options.last_seen_resolution
        ):
            # The common case: nothing to do around the handler but check its answer and run
            # its answer hooks, so the handler's own coroutine (with the hooks, one of ours
            # around both) is stepped here (what _answer does, inline: this is the path of
            # nearly every CALL). The deadline runs from the first wait, for handler and
            # hooks together.
            try:
                if (answer_hooks := cs._answer_hooks.get(action)) is None:
                    made = handler(request, context)
                    job = made if type(made) is CoroutineType else _awaiting(made)
                else:
                    job = _hooked(handler, answer_hooks, request, context)
                try:
                    waiting_on = job.send(None)
                except StopIteration as completed:
                    outcome = completed.value
                else:
                    outcome, late = await finish_within(job, waiting_on, timeout)
                if not late and type(outcome) is not request.response_type:
                    outcome = _wrong_answer(handler, outcome, request, context)
            except OcppError as raised:
                outcome = raised
            except BaseException as raised:
                outcome = failure_answer(raised, cp, message_id, action)
                if outcome is None:
                    raise
        elif on_asyncio:
            answering = _answer(cs, link, request, context)
            try:  # first_step(answering), inline
                waiting_on = answering.send(None)
            except StopIteration as completed:
                outcome = completed.value
            else:
                outcome, late = await finish_within(answering, waiting_on, timeout)
        else:
            outcome, late = await within(_answer(cs, link, request, context), timeout)
        if late:
            outcome = too_late(cp, message_id, action, timeout)
        error: OcppError | None = None
        response: Response | None = None
        if isinstance(outcome, OcppError):
            error = outcome
        else:
            response = outcome
        if driver.closed:
            log.info("[%s] message %s: answer dropped, disconnected", cp, message_id)
            return response, error
        try:
            if response is not None:
                try:
                    session.send_result(message_id, response)
                except InvalidRequest as invalid:
                    log.error("[%s] message %s: %s", cp, message_id, invalid)
                    error, response = InternalError("the answer broke its schema"), None
            if error is not None:
                session.send_error(message_id, error)
        except LocalProtocolError as misuse:  # pragma: no cover - guarded by the checks above
            log.error("[%s] message %s: %s", cp, message_id, misuse)
            return response, error
        await driver.flush()
        if response is not None and (hooks := cs._after_hooks.get(action)):
            running = run_hooks(hooks, request, response, context)
            if on_asyncio:
                finished, waiting_on = first_step(running)
                late = False
                if not finished:
                    _, late = await finish_within(running, waiting_on, timeout)
            else:
                _, late = await within(running, timeout)
            if late:
                hooks_given_up(context, action, timeout)
        if cs._observers:
            # The charge point sent it (DataTransfer's class direction is Both).
            inbound = Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM
            await cs._emit(Exchange(cp, message_id, inbound, request, response, error))
        return response, error
    finally:
        MESSAGE_IDS.reset(ids)


async def _answer(
    cs: CentralSystem, link: _Link, request: Request[Any], context: CallContext
) -> Response | OcppError:
    """The handler's answer, or the error to send (what the handler raised, or
    ``InternalError`` for anything but an :class:`OcppError`); a real cancellation
    propagates."""
    action = request.action
    try:
        handler = cs._handlers.get(action)
        if handler is None:
            raise NotSupported(f"this central system does not handle {action}")
        response = await _hooked(handler, cs._answer_hooks.get(action, ()), request, context)
        # Connection state follows the answer actually given, whoever's handler gave it.
        if action == "BootNotification":
            status = getattr(response, "status", None)
            if isinstance(status, RegistrationStatus):
                link.session.registration = status
                link.session.model = getattr(request, "charge_point_model", None)
        now = link.driver.now()
        if now - link.last_touch >= cs.options.last_seen_resolution:
            link.last_touch = now
            await cs.stores.charge_points.touch(link.charge_point_id, context.received_at)
        return response
    except OcppError as raised:
        return raised
    except BaseException as raised:
        answer = failure_answer(raised, context.charge_point_id, context.message_id, action)
        if answer is None:
            raise
        return answer


def _wrong_answer(
    handler: Handler[Any], response: object, request: Request[Any], context: CallContext
) -> InternalError:
    """The error to send for a handler that returned no ``request.response_type`` (logged)."""
    log.error(
        "[%s] message %s: handler %s returned %s; it must return %s",
        context.charge_point_id,
        context.message_id,
        getattr(handler, "__qualname__", repr(handler)),
        type(response).__name__,
        request.response_type.__name__,
        extra={"charge_point_id": context.charge_point_id, "message_id": context.message_id},
    )
    return InternalError(f"the central system produced no valid {request.action} answer")


async def _hooked(
    handler: Handler[Any],
    hooks: Sequence[AnswerHook[Any]],
    request: Request[Any],
    context: CallContext,
) -> Response:
    """The handler's answer after every answer hook ran on it (one coroutine for them all:
    awaiting one that completes at once costs a tenth of stepping it from outside)."""
    response = await handler(request, context)
    if type(response) is not request.response_type:
        raise _wrong_answer(handler, response, request, context)
    for hook in hooks:
        await hook(request, response, context)
    return response


async def _awaiting(awaitable: Awaitable[_T]) -> _T:
    """A coroutine for a handler's awaitable that is not one itself (a future, say)."""
    return await awaitable
