"""What a feature service sees of the central system: the :class:`Engine` protocol.

Feature packages (``ocpp16csms.profiles.<feature>``) are built over this narrow protocol, never
over the :class:`~ocpp16csms.CentralSystem` class, so a host can leave a feature out, replace
it with its own, or test it against a small fake engine. The options, the handler context and
the events every layer shares live here too (docs/architecture.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import Enum
from typing import Any, Protocol, TypeVar

import attrs

from ._logging import get_logger
from .enums import RegistrationStatus
from .errors import ErrorCode
from .messages.base import Direction, Request, Response
from .validation import ValidationPolicy

__all__ = [
    "AfterHook",
    "AnswerHook",
    "CallContext",
    "CentralSystemOptions",
    "ChargePointConnected",
    "ChargePointDisconnected",
    "Engine",
    "Exchange",
    "Handler",
    "Observer",
    "PeerViolationObserved",
    "PreSendCheck",
    "UnknownChargePointPolicy",
    "acknowledge",
]

log = get_logger("ocpp16csms")

_Req = TypeVar("_Req", bound=Request[Any])
_Req_contra = TypeVar("_Req_contra", bound=Request[Any], contravariant=True)
_Res = TypeVar("_Res", bound=Response)


class UnknownChargePointPolicy(Enum):
    """What a BootNotification from a charge point the store does not know gets."""

    REJECT = "reject"
    """Answer Rejected; nothing is stored."""
    PENDING = "pending"
    """Register it as Pending, so an operator can accept it later."""
    ACCEPT = "accept"
    """Register it and accept it (auto-registration)."""


_E = TypeVar("_E", bound=Enum)


def _member(enum: type[_E], value: Any) -> _E:
    """Accept a member or its value; anything else is refused with the values allowed."""
    if isinstance(value, enum):
        return value
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(repr(member.value) for member in enum)
        raise ValueError(f"{value!r} is not a {enum.__name__} (one of {allowed})") from None


def _policy(value: Any) -> UnknownChargePointPolicy:
    return _member(UnknownChargePointPolicy, value)


def _error_code(value: Any) -> ErrorCode:
    return _member(ErrorCode, value)


def _positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")
    if value != value or value == float("inf"):
        raise ValueError(f"{attribute.name} must be finite, got {value!r}")


def _positive_or_none(_: object, attribute: attrs.Attribute[Any], value: float | None) -> None:
    if value is not None:
        _positive(_, attribute, value)


def _non_negative_int(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be a whole number >= 0, got {value!r}")


def _positive_int(_: object, attribute: attrs.Attribute[Any], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{attribute.name} must be a whole number >= 1, got {value!r}")


@attrs.frozen(kw_only=True)
class CentralSystemOptions:
    """Tunable behaviour of a :class:`~ocpp16csms.CentralSystem`; checked when built.

    Enumerated options take the member or its value (``unknown_charge_points="accept"``).
    """

    heartbeat_interval: int = attrs.field(default=300, validator=_positive_int)
    """Seconds, sent in an Accepted BootNotification answer (§4.2)."""
    retry_boot_interval: int = attrs.field(default=60, validator=_positive_int)
    """Seconds, sent in a Pending or Rejected answer: when to send the next BootNotification."""
    call_timeout: float = attrs.field(default=30.0, validator=_positive)
    """Seconds a charge point has to answer one of our CALLs."""
    max_queued_calls: int = attrs.field(default=64, validator=_non_negative_int)
    """Calls that may wait behind the one in flight, per charge point."""
    handler_grace: float = attrs.field(default=10.0, validator=_positive)
    """Seconds running handlers may finish (and store their data) after a disconnect."""
    handler_timeout: float = attrs.field(default=30.0, validator=_positive)
    """Seconds a handler (with its answer hooks and store calls) may take; past it the charge
    point gets ``InternalError`` (it retries), and after hooks are given up (docs/security.md)."""
    store_timeout: float = attrs.field(default=10.0, validator=_positive)
    """Seconds the charge point lookup may take when a connection opens (handshake and
    ``serve``); past it the connection is refused (503) or closed (1011)."""
    max_concurrent_calls: int = attrs.field(default=8, validator=_positive_int)
    """CALLs of one charge point handled at once; OCPP-J allows one outstanding CALL, and one
    beyond this is answered ``GenericError`` ("busy") at once (docs/security.md)."""
    unknown_charge_points: UnknownChargePointPolicy = attrs.field(
        default=UnknownChargePointPolicy.REJECT,
        converter=_policy,
    )
    not_accepted_error: ErrorCode = attrs.field(
        default=ErrorCode.SECURITY_ERROR, converter=_error_code
    )
    """CallError code for a CALL a not-accepted charge point may not send (§4.2)."""
    concurrent_tx: bool = False
    """Answer ConcurrentTx for an id tag that already has an active transaction."""
    reservation_expiry_interval: float = attrs.field(default=10.0, validator=_positive)
    """Seconds between the runs that mark expired reservations (under ``async with``)."""
    stale_transaction_grace: float | None = attrs.field(default=300.0, validator=_positive_or_none)
    """Seconds a transaction may stay open after its charge point booted again or its
    connector reported Available before it is marked ended-unconfirmed (None: never); see
    docs/transactions.md."""
    stale_transaction_interval: float = attrs.field(default=10.0, validator=_positive)
    """Seconds between the runs that mark stale transactions (under ``async with``)."""
    last_seen_resolution: float = attrs.field(default=60.0, validator=_positive)
    """Seconds: last-seen is written to the store at most this often per connection."""
    validation: ValidationPolicy = attrs.field(
        factory=ValidationPolicy, validator=attrs.validators.instance_of(ValidationPolicy)
    )


@attrs.frozen
class CallContext:
    """What a handler knows about the CALL it answers."""

    charge_point_id: str
    message_id: str
    central_system: Engine
    received_at: datetime
    registration_status: RegistrationStatus | None


Handler = Callable[[_Req, CallContext], Awaitable[Response]]
"""An inbound action handler: ``async def handler(request, context) -> response``."""

AnswerHook = Callable[[_Req, Any, CallContext], Awaitable[None]]
"""``async def hook(request, response, context)``: awaited after a handler produced a valid
answer and before it is sent; an exception turns the answer into ``InternalError``, so what the
hook stores is kept before the charge point is told (feature services use this)."""

AfterHook = Callable[[_Req, Any, CallContext], Awaitable[None] | None]
"""``async def hook(request, response, context)``: runs after the answer was sent; what it
raises is logged and never reaches the charge point (:meth:`Engine.after`)."""

PreSendCheck = Callable[[str, _Req], Awaitable[None]]
"""``async def check(charge_point_id, request)``: raises
:class:`~ocpp16csms.errors.InvalidRequest` to stop a call before it is sent."""


@attrs.frozen
class Exchange:
    """A completed request/answer pair, inbound or outbound, as observers see it.

    ``direction`` says who sent the request. Exactly one of ``response`` and ``error`` is set,
    except for an outbound call that failed without an answer (timeout, connection lost),
    where ``error`` is the Python exception.
    """

    charge_point_id: str
    message_id: str
    direction: Direction
    request: Request[Any]
    response: Response | None
    error: BaseException | None


@attrs.frozen
class ChargePointConnected:
    """Event: a charge point connection is being served."""

    charge_point_id: str


@attrs.frozen
class ChargePointDisconnected:
    """Event: a charge point connection ended (``replaced``: a newer one took its place)."""

    charge_point_id: str
    replaced: bool = False


@attrs.frozen
class PeerViolationObserved:
    """Event: the charge point sent something that is not valid OCPP-J, or a CALL we refused."""

    charge_point_id: str
    description: str
    message_id: str | None


Observer = Callable[[Any], Awaitable[None] | None]
"""Called with every :class:`Exchange` and connection event; must not raise (it is logged)."""


class Engine(Protocol):
    """The central system as a feature service uses it.

    :class:`~ocpp16csms.CentralSystem` is the implementation; a feature receives it at
    construction and keeps nothing else of the engine.
    """

    @property
    def options(self) -> CentralSystemOptions:
        """The options the central system was built with."""
        ...

    def clock(self) -> datetime:
        """The current time, timezone-aware (injected, so tests can move it)."""
        ...

    @property
    def is_running(self) -> bool:
        """Whether background work can be spawned (inside ``async with``)."""
        ...

    async def call(self, charge_point_id: str, request: Request[_Res]) -> _Res:
        """Send ``request`` and return the typed answer (see CentralSystem.call)."""
        ...

    def is_connected(self, charge_point_id: str) -> bool:
        """Whether this process serves a live connection for the charge point."""
        ...

    def registration(self, charge_point_id: str) -> RegistrationStatus | None:
        """The registration (§4.2) the live connection in this process works under: the
        answer to its last BootNotification, or the stored one until it sends one. None when
        this process serves no connection for the charge point."""
        ...

    def set_handler(self, request_type: type[_Req], handler: Handler[_Req] | None) -> None:
        """Replace the default handler of an inbound action (None: stop serving it)."""
        ...

    def handler_for(self, request_type: type[_Req]) -> Handler[_Req] | None:
        """The handler now serving ``request_type``'s action, if any."""
        ...

    def add_answer_hook(self, request_type: type[_Req], hook: AnswerHook[_Req]) -> None:
        """Await ``hook`` for every answer to ``request_type`` before the answer is sent."""
        ...

    def after(self, request_type: type[_Req]) -> Callable[[AfterHook[_Req]], AfterHook[_Req]]:
        """Decorator: run a hook after every answer to ``request_type`` was sent."""
        ...

    def add_pre_send_check(self, request_type: type[_Req], check: PreSendCheck[_Req]) -> None:
        """Await ``check`` before every call of ``request_type`` is sent."""
        ...

    def add_periodic(self, interval: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` every ``interval`` seconds while the central system runs."""
        ...

    def spawn(self, job: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run ``job(*args)`` in the central system's background task group."""
        ...

    def observe(self, observer: Observer) -> Observer:
        """Call ``observer`` with every exchange and connection event."""
        ...


def acknowledge(response_type: type[_Res]) -> Handler[Any]:
    """A handler that logs the request and answers with an empty ``response_type``."""

    answer = response_type()  # frozen: one instance serves every answer

    async def acknowledge(request: Any, ctx: CallContext) -> _Res:
        if log.isEnabledFor(logging.INFO):  # not even the record's extras built otherwise
            log.info(
                "[%s] message %s: %s %s",
                ctx.charge_point_id,
                ctx.message_id,
                request.action,
                request,
                extra={"charge_point_id": ctx.charge_point_id, "message_id": ctx.message_id},
            )
        return answer

    acknowledge.__qualname__ = f"acknowledge_{response_type.__name__}"
    return acknowledge
