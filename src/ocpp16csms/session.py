"""The sans-IO OCPP-J protocol session of one charge point connection.

Text frames in → typed events out; typed calls and replies in → text frames out (collected in
an outbox the driver drains with :meth:`Session.outgoing`). The session never does I/O and
never reads a clock: time comes in as ``now`` (seconds on any monotonic clock), and
:meth:`Session.next_deadline` / :meth:`Session.handle_timers` let the driver run timeouts.
The moves it makes are the tables of :mod:`ocpp16csms.rules`.
"""

from __future__ import annotations

import json.encoder
import uuid
from collections.abc import Callable
from typing import Any

import attrs

from ._trusted import trusted_factory
from .codec import MessageCodec
from .enums import RegistrationStatus
from .errors import (
    ActionNotImplemented,
    CallErrorReceived,
    CallTimeout,
    ChargePointNotAccepted,
    ConnectionLost,
    CsmsError,
    ErrorCode,
    GenericError,
    InvalidRequest,
    LocalProtocolError,
    NotSupported,
    OcppError,
    QueueFull,
    error_for_code,
)
from .messages.base import Request, Response
from .registry import ACTIONS
from .rpc import (
    MAX_MESSAGE_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    FrameError,
    MessageType,
    encode_frame,
    encode_json,
    is_utf8_text,
    parse_frame,
)
from .rules import (
    ALLOWED_INBOUND_WHILE_NOT_ACCEPTED,
    ALLOWED_OUTBOUND_WHILE_PENDING,
    OutboundEvent,
    OutboundState,
    next_outbound_state,
)

__all__ = [
    "AnswerEvent",
    "CallAborted",
    "CallExpired",
    "CallReceived",
    "CallRejected",
    "CallSent",
    "ErrorReceived",
    "Event",
    "InvalidMessageReceived",
    "ResponseInvalid",
    "ResultReceived",
    "Session",
    "call_outcome",
]


@attrs.frozen
class CallReceived:
    """A valid CALL from the charge point; it must be answered exactly once."""

    message_id: str
    request: Request[Any]


_call_received = trusted_factory(CallReceived)


@attrs.frozen
class CallRejected:
    """A CALL from the charge point the session answered itself with a CALLERROR."""

    message_id: str
    action: str
    error: OcppError


@attrs.frozen
class CallSent:
    """One of our CALLs left the queue and went into the outbox."""

    message_id: str
    request: Request[Any]


@attrs.frozen
class ResultReceived:
    """The charge point answered our CALL with a valid CALLRESULT."""

    message_id: str
    request: Request[Any]
    response: Response


@attrs.frozen
class ErrorReceived:
    """The charge point answered our CALL with a CALLERROR."""

    message_id: str
    request: Request[Any]
    error: CallError


@attrs.frozen
class ResponseInvalid:
    """The charge point answered our CALL with a CALLRESULT that breaks its schema."""

    message_id: str
    request: Request[Any]
    error: OcppError


@attrs.frozen
class CallExpired:
    """Our CALL got no answer before its deadline."""

    message_id: str
    request: Request[Any]


@attrs.frozen
class CallAborted:
    """Our CALL (sent or queued) can no longer be answered: the session closed."""

    message_id: str
    request: Request[Any]


@attrs.frozen
class InvalidMessageReceived:
    """The charge point sent something that is not valid OCPP-J; ``replied`` if we answered."""

    description: str
    message_id: str | None = None
    replied: bool = False


Event = (
    CallReceived
    | CallRejected
    | CallSent
    | ResultReceived
    | ErrorReceived
    | ResponseInvalid
    | CallExpired
    | CallAborted
    | InvalidMessageReceived
)
"""Every event a :class:`Session` returns."""


AnswerEvent = ResultReceived | ErrorReceived | ResponseInvalid | CallExpired | CallAborted
"""The events that end one of our CALLs."""


def call_outcome(
    event: AnswerEvent, charge_point_id: str, call_timeout: float
) -> Response | CsmsError:
    """What the caller waiting on a CALL gets: the typed response, or the error to raise."""
    action = event.request.action
    if isinstance(event, ResultReceived):
        return event.response
    if isinstance(event, ErrorReceived):
        frame = event.error
        return CallErrorReceived(
            charge_point_id,
            action,
            frame.error_code,
            frame.error_description,
            frame.error_details,
        )
    if isinstance(event, ResponseInvalid):
        return CallErrorReceived(
            charge_point_id,
            action,
            event.error.code.value,
            f"invalid answer: {event.error.description}",
        )
    if isinstance(event, CallExpired):
        return CallTimeout(charge_point_id, action, event.message_id, call_timeout)
    return ConnectionLost(charge_point_id, action, event.message_id)


@attrs.define
class _Outbound:
    message_id: str
    request: Request[Any]
    text: str
    deadline: float


def _uuid_message_id() -> str:
    return str(uuid.uuid4())


_CALL, _CALL_RESULT = MessageType.CALL.value, MessageType.CALL_RESULT.value

# Longest piece of a peer's text quoted in a CALLERROR description.
_MAX_QUOTED = 64


# The JSON string of a text, as the frame encoder writes one (no ASCII escaping). A message id
# we answer was checked by the parser: it holds no lone surrogate.
_json_string: Callable[[str], str] = json.encoder.encode_basestring


def _sendable(body: list[Any], action: str, answer: bool = False) -> str:
    """The text of the frame ``body`` (its message id already checked), or
    :class:`InvalidRequest` when no text frame could carry it (named by ``action``, and as
    the answer to it when ``answer``)."""
    try:
        text = encode_json(body)
    except (TypeError, ValueError) as error:  # NaN or infinity slipped into a payload
        what = f"the answer to {action}" if answer else action
        raise InvalidRequest(f"{what} cannot be encoded as JSON: {error}") from None
    if not text.isascii() and not is_utf8_text(text):
        # A lone surrogate (from a peer's "\ud800" escape) that UTF-8 cannot carry.
        what = f"the answer to {action}" if answer else action
        raise InvalidRequest(f"{what} holds a lone surrogate, which a text frame cannot carry")
    return text


class Session:
    """OCPP-J state of one connection to ``charge_point_id`` (see the module docstring)."""

    def __init__(
        self,
        charge_point_id: str,
        *,
        codec: MessageCodec | None = None,
        call_timeout: float = 30.0,
        max_queued_calls: int = 64,
        message_id_factory: Callable[[], str] = _uuid_message_id,
        charge_point_side: bool = False,
        registration: RegistrationStatus | None = RegistrationStatus.ACCEPTED,
        not_accepted_error: ErrorCode = ErrorCode.SECURITY_ERROR,
        max_concurrent_calls: int | None = None,
    ) -> None:
        self.charge_point_id = charge_point_id
        #: True when this session speaks for the charge point (simulators, tests).
        self.charge_point_side = charge_point_side
        self.codec = codec or MessageCodec()
        self.call_timeout = call_timeout
        self.max_queued_calls = max_queued_calls
        self._new_id = message_id_factory
        #: chargePointModel from the last BootNotification; selects relaxed validation rules.
        self.model: str | None = None
        #: The charge point's registration (§4.2), which gates what either side may send
        #: (the tables in :mod:`.rules`); None: no BootNotification accepted or stored yet.
        #: Not enforced on the charge point's side.
        self.registration = registration
        #: The CallError code for a CALL the registration does not allow yet.
        self.not_accepted_error = not_accepted_error
        #: How many of the peer's CALLs may be unanswered at once (None: no limit). OCPP-J
        #: allows one; a CALL beyond the limit is answered GenericError at once, unvalidated.
        self.max_concurrent_calls = max_concurrent_calls
        self.state = OutboundState.IDLE
        self._in_flight: _Outbound | None = None
        # A list, not a deque: an empty deque costs 760 bytes per connection, and at most
        # max_queued_calls wait here.
        self._queue: list[_Outbound] = []
        self._unanswered: dict[str, str] = {}
        self._outbox: list[str] = []

    @property
    def _we(self) -> str:
        return "a charge point" if self.charge_point_side else "a central system"

    # -- output -----------------------------------------------------------------------------

    def outgoing(self) -> list[str]:
        """Take the frames waiting to be sent, oldest first."""
        frames, self._outbox = self._outbox, []
        return frames

    @property
    def has_outgoing(self) -> bool:
        """Whether frames wait in the outbox."""
        return bool(self._outbox)

    @property
    def unanswered_calls(self) -> frozenset[str]:
        """Message ids of CALLs from the charge point not answered yet."""
        return frozenset(self._unanswered)

    @property
    def queued_calls(self) -> int:
        """How many of our CALLs wait behind the one in flight."""
        return len(self._queue)

    # -- our CALLs --------------------------------------------------------------------------

    def start_call(self, request: Request[Any], now: float) -> str:
        """Queue ``request`` as a CALL and return its message id.

        Raises :class:`InvalidRequest` when the request breaks its schema, :class:`QueueFull`
        when too many calls wait, :class:`LocalProtocolError` when the session is closed, and
        :class:`ChargePointNotAccepted` when the registration does not allow the call (§4.2).
        """
        if self.state is OutboundState.CLOSED:
            raise LocalProtocolError(f"the session with {self.charge_point_id!r} is closed")
        registration = self.registration
        if (
            not self.charge_point_side
            and registration is not RegistrationStatus.ACCEPTED
            and not (
                registration is RegistrationStatus.PENDING
                and request.action in ALLOWED_OUTBOUND_WHILE_PENDING
            )
        ):
            raise ChargePointNotAccepted(
                self.charge_point_id, request.action, registration.value if registration else None
            )
        spec = ACTIONS.get(request.action)
        ours = spec is not None and (
            spec.sent_by_charge_point if self.charge_point_side else spec.sent_by_central_system
        )
        if not ours:
            raise InvalidRequest(f"{request.action} is not sent by {self._we}")
        if self._in_flight is not None and len(self._queue) >= self.max_queued_calls:
            raise QueueFull(self.charge_point_id, self.max_queued_calls)
        payload = self.codec.encode(request)
        message_id = self._new_id()
        if not isinstance(message_id, str) or not 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH:
            raise LocalProtocolError(
                f"the message id factory gave {message_id!r}; OCPP-J needs a string of 1 to"
                f" {MAX_MESSAGE_ID_LENGTH} characters"
            )
        text = _sendable([_CALL, message_id, request.action, payload], request.action)
        # The caller's time runs from now, queued or in flight: behind a mute charge point a
        # call waits at most call_timeout, not call_timeout for every call ahead of it.
        self._queue.append(_Outbound(message_id, request, text, now + self.call_timeout))
        self._send_next(now)
        return message_id

    def _send_next(self, now: float) -> list[Event]:
        if self._in_flight is not None or not self._queue:
            return []
        self.state = next_outbound_state(self.state, OutboundEvent.SEND_CALL)
        call = self._queue.pop(0)
        self._in_flight = call
        self._outbox.append(call.text)
        return [CallSent(call.message_id, call.request)]

    def _finish(self, event: OutboundEvent) -> _Outbound:
        assert self._in_flight is not None
        call, self._in_flight = self._in_flight, None
        self.state = next_outbound_state(self.state, event)
        return call

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timers` must next be called, or None."""
        head = self._queue[0] if self._queue else None
        deadlines = [c.deadline for c in (self._in_flight, head) if c is not None]
        return min(deadlines, default=None)

    def handle_timers(self, now: float) -> list[Event]:
        """Time out every CALL whose deadline has passed, in flight or still queued (each
        deadline runs from :meth:`start_call`), and send the next one."""
        events: list[Event] = []
        call = self._in_flight
        if call is not None and now >= call.deadline:
            self._finish(OutboundEvent.TIMEOUT)
            events.append(CallExpired(call.message_id, call.request))
        # Queued calls share one timeout and were queued in order: the due ones lead.
        while self._queue and now >= self._queue[0].deadline:
            expired = self._queue.pop(0)
            events.append(CallExpired(expired.message_id, expired.request))
        return [*events, *self._send_next(now)] if events else []

    def close(self) -> list[Event]:
        """Close the session: every call in flight or queued is aborted."""
        aborted: list[Event] = []
        if self._in_flight is not None:
            aborted.append(CallAborted(self._in_flight.message_id, self._in_flight.request))
            self._in_flight = None
        aborted.extend(CallAborted(c.message_id, c.request) for c in self._queue)
        self._queue.clear()
        self.state = next_outbound_state(self.state, OutboundEvent.CLOSE)
        return aborted

    # -- replies to the charge point's CALLs ------------------------------------------------

    def send_result(self, message_id: str, response: Response) -> None:
        """Answer the charge point's CALL ``message_id`` with ``response``.

        Raises :class:`LocalProtocolError` when there is no such unanswered CALL or the response
        is of the wrong type, and :class:`InvalidRequest` when it breaks its schema (the CALL
        stays unanswered, so the caller can still send a CALLERROR).
        """
        action = self._unanswered.get(message_id)
        if action is None:
            raise LocalProtocolError(f"no unanswered CALL {message_id!r} to reply to")
        expected = ACTIONS[action].response
        if type(response) is not expected:
            raise LocalProtocolError(
                f"{action} is answered with {expected.__name__}, not {type(response).__name__}"
            )
        payload = self.codec.encode(response)
        if payload:
            text = _sendable([_CALL_RESULT, message_id, payload], action, True)
        else:  # an empty answer (most notifications'): no encoder needed around the id
            text = f"[3,{_json_string(message_id)},{{}}]"
        del self._unanswered[message_id]
        self._outbox.append(text)

    def send_error(self, message_id: str, error: OcppError) -> None:
        """Answer the charge point's CALL ``message_id`` with a CALLERROR."""
        if self._unanswered.pop(message_id, None) is None:
            raise LocalProtocolError(f"no unanswered CALL {message_id!r} to reply to")
        self._outbox.append(encode_frame(CallError.from_error(message_id, error)))

    # -- input ------------------------------------------------------------------------------

    def receive_text(self, text: str | bytes, now: float) -> list[Event]:
        """Take one frame from the charge point and return what it means."""
        if self.state is OutboundState.CLOSED:
            raise LocalProtocolError(f"the session with {self.charge_point_id!r} is closed")
        try:
            frame = parse_frame(text)
        except FrameError as error:
            return self._frame_error(error, now)
        if isinstance(frame, Call):
            return self._receive_call(frame)
        return self._receive_answer(frame, now)

    def _frame_error(self, error: FrameError, now: float) -> list[Event]:
        reply = error.reply
        if reply is not None and reply.message_id not in self._unanswered:
            self._outbox.append(encode_frame(reply))
            return [InvalidMessageReceived(error.description, reply.message_id, replied=True)]
        call = self._in_flight
        if (
            call is not None
            and error.message_id == call.message_id
            and error.message_type in (MessageType.CALL_RESULT, MessageType.CALL_ERROR)
        ):
            # A broken answer to our CALL still ends it; waiting for the timeout helps nobody.
            self._finish(OutboundEvent.ANSWER)
            invalid = ResponseInvalid(call.message_id, call.request, error.error)
            return [invalid, *self._send_next(now)]
        return [InvalidMessageReceived(error.description, error.message_id)]

    def _reject(self, frame: Call, error: OcppError) -> list[Event]:
        self._outbox.append(encode_frame(CallError.from_error(frame.message_id, error)))
        return [CallRejected(frame.message_id, frame.action, error)]

    def _receive_call(self, frame: Call) -> list[Event]:
        if frame.message_id in self._unanswered:
            return [
                InvalidMessageReceived(
                    f"CALL {frame.message_id!r} repeats the id of a CALL still being answered",
                    frame.message_id,
                )
            ]
        limit = self.max_concurrent_calls
        if limit is not None and len(self._unanswered) >= limit:
            # A peer ignoring the one-outstanding-CALL rule (OCPP-J §4.1.1) gets an answer at
            # once, before any validation: the work per frame stays bounded, the read loop
            # keeps reading our answers, and a retrying charge point loses nothing.
            return self._reject(
                frame,
                GenericError(
                    f"busy: {len(self._unanswered)} CALLs are still being answered;"
                    " send the next one after the answer (OCPP-J allows one at a time)"
                ),
            )
        spec = ACTIONS.get(frame.action)
        if spec is None:
            # Quoted, bounded: the name is the peer's and may be anything, of any length.
            name = repr(frame.action[:_MAX_QUOTED]) + (
                "…" if len(frame.action) > _MAX_QUOTED else ""
            )
            return self._reject(frame, ActionNotImplemented(f"unknown action {name}"))
        theirs = (
            spec.sent_by_central_system if self.charge_point_side else spec.sent_by_charge_point
        )
        if not theirs:
            return self._reject(frame, NotSupported(f"{frame.action} is not sent to {self._we}"))
        registration = self.registration
        if (
            not self.charge_point_side
            and registration is not RegistrationStatus.ACCEPTED
            and frame.action not in ALLOWED_INBOUND_WHILE_NOT_ACCEPTED.get(registration, ())
        ):
            # Refused before the payload is even validated: the registration forbids it (§4.2).
            error = error_for_code(self.not_accepted_error)(
                f"{frame.action} is not accepted before the charge point is registered"
                f" (status {registration or 'none'})"
            )
            return self._reject(frame, error)
        model = self.model
        if frame.action == "BootNotification":
            # The boot names the model itself: model-specific relaxations apply to it too.
            announced = frame.payload.get("chargePointModel")
            model = announced if isinstance(announced, str) else model
        try:
            request = self.codec.decode_valid(spec.request, frame.payload)
            if request is None:  # not valid as it is: the policy decides, and says why
                request = self.codec.decode(
                    spec.request,
                    frame.payload,
                    charge_point_id=self.charge_point_id,
                    message_id=frame.message_id,
                    model=model,
                )
        except OcppError as error:
            return self._reject(frame, error)
        self._unanswered[frame.message_id] = frame.action
        return [_call_received(frame.message_id, request)]

    def _receive_answer(self, frame: CallResult | CallError, now: float) -> list[Event]:
        call = self._in_flight
        if call is None or frame.message_id != call.message_id:
            kind = "CALLRESULT" if isinstance(frame, CallResult) else "CALLERROR"
            return [
                InvalidMessageReceived(
                    f"{kind} {frame.message_id!r} answers no CALL of ours in flight",
                    frame.message_id,
                )
            ]
        self._finish(OutboundEvent.ANSWER)
        event: Event
        if isinstance(frame, CallError):
            event = ErrorReceived(call.message_id, call.request, frame)
        else:
            try:
                response = self.codec.decode(
                    call.request.response_type,
                    frame.payload,
                    charge_point_id=self.charge_point_id,
                    message_id=frame.message_id,
                    model=self.model,
                )
            except OcppError as error:
                event = ResponseInvalid(call.message_id, call.request, error)
            else:
                event = ResultReceived(call.message_id, call.request, response)
        return [event, *self._send_next(now)]
