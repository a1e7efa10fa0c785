"""Callers waiting for the answers to CALLs, shared by every driver of a Session."""

from __future__ import annotations

import anyio
import attrs

from .messages.base import Response
from .session import AnswerEvent, Event, call_outcome

__all__ = ["PendingCall", "PendingCalls"]


@attrs.define
class PendingCall:
    """One caller parked until its CALL ends: exactly one of ``response``/``error`` is set."""

    message_id: str
    done: anyio.Event = attrs.field(factory=anyio.Event)
    response: Response | None = None
    error: BaseException | None = None

    def outcome(self) -> Response:
        """The response, or raise the error (once :attr:`done` is set)."""
        if self.error is not None:
            raise self.error
        assert self.response is not None
        return self.response


class PendingCalls:
    """The CALLs of one connection still waited for, by message id."""

    def __init__(self, charge_point_id: str, call_timeout: float) -> None:
        self.charge_point_id = charge_point_id
        self.call_timeout = call_timeout
        self._calls: dict[str, PendingCall] = {}

    def add(self, message_id: str) -> PendingCall:
        """Park a caller for ``message_id``."""
        call = self._calls[message_id] = PendingCall(message_id)
        return call

    def discard(self, message_id: str) -> None:
        """Forget ``message_id`` (its caller gave up or got its answer)."""
        self._calls.pop(message_id, None)

    def resolve(self, event: Event) -> None:
        """Wake the caller a session event ends; other events are ignored."""
        if not isinstance(event, AnswerEvent):
            return
        call = self._calls.pop(event.message_id, None)
        if call is None:
            return
        outcome = call_outcome(event, self.charge_point_id, self.call_timeout)
        if isinstance(outcome, Response):
            call.response = outcome
        else:
            call.error = outcome
        call.done.set()

    def __len__(self) -> int:
        return len(self._calls)
