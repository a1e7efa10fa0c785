"""The seam for metrics and traces: callbacks around every message the central system handles.

A :class:`~ocpp16csms.CentralSystem` has no instrumentation by default (its
``instrumentation`` attribute is None), and then pays one ``is None`` check per message. An
adapter such as :func:`ocpp16csms.otel.instrument` sets an :class:`Instrumentation`; the engine
then calls it at the start and the end of each inbound CALL it answers and each outbound call
it makes, in the task that handles the message, so an adapter can make a tracing span current
for the handler and the store calls it makes (docs/observability.md).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

from .errors import OcppError
from .messages.base import Request, Response
from .session import CallReceived

__all__ = ["Instrumentation", "MessageScope", "instrumented_call", "instrumented_inbound"]

_Res = TypeVar("_Res", bound=Response)


class MessageScope(Protocol):
    """One message exchange in progress, as an :class:`Instrumentation` follows it."""

    def queued(self, message_id: str) -> None:
        """An outbound call got its message id and waits for its turn (outbound only)."""
        ...

    def end(self, response: Response | None, error: BaseException | None) -> None:
        """The exchange ended with ``response`` or ``error`` (an :class:`OcppError` answered or
        received, or the exception an outbound call raised)."""
        ...


class Instrumentation(Protocol):
    """What the central system and the transports report to metrics and traces.

    Every method is called on the event loop and must return quickly without raising.
    """

    def inbound(self, charge_point_id: str, message_id: str, request: Request[Any]) -> MessageScope:
        """A valid CALL from the charge point is about to be handled (the handler, the answer
        hooks and the reply run before :meth:`MessageScope.end`)."""
        ...

    def outbound(self, charge_point_id: str, request: Request[Any]) -> MessageScope:
        """``CentralSystem.call`` starts (the pre-send checks and the wait for the answer run
        before :meth:`MessageScope.end`)."""
        ...

    def rejected(
        self, charge_point_id: str, message_id: str, action: str, error: OcppError
    ) -> None:
        """The session answered a CALL with a CALLERROR before any handler saw it (schema
        violation, unknown action, registration gating)."""
        ...

    def handshake_refused(self, status: int, cause: str) -> None:
        """A transport refused a WebSocket upgrade with HTTP ``status``; ``cause`` is one of a
        small fixed set (see :class:`~ocpp16csms.transports.handshake.HandshakeRefused`)."""
        ...


async def instrumented_inbound(
    instrumentation: Instrumentation,
    charge_point_id: str,
    call: CallReceived,
    handling: Awaitable[tuple[Response | None, OcppError | None]],
) -> None:
    """Await ``handling`` (which answers ``call`` and returns its outcome) inside a scope."""
    scope = instrumentation.inbound(charge_point_id, call.message_id, call.request)
    try:
        response, error = await handling
    except BaseException as failure:  # cancelled while the handler ran
        scope.end(None, failure)
        raise
    scope.end(response, error)


async def instrumented_call(
    instrumentation: Instrumentation,
    charge_point_id: str,
    request: Request[_Res],
    call: Callable[[str, Request[_Res], Callable[[str], None]], Awaitable[_Res]],
) -> _Res:
    """Run ``call(charge_point_id, request, queued)`` (an outbound call) inside a scope;
    ``queued(message_id)`` is called once the call waits in the session."""
    scope = instrumentation.outbound(charge_point_id, request)
    try:
        response = await call(charge_point_id, request, scope.queued)
    except BaseException as failure:
        scope.end(None, failure)
        raise
    scope.end(response, None)
    return response
