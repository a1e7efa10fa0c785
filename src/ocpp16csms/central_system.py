"""The :class:`CentralSystem`: serves charge point connections and drives them.

One :class:`~ocpp16csms.session.Session` per connection does the protocol; this module does
the I/O around it with anyio (so it runs on asyncio and trio): a receive loop that never
blocks on handlers, a task per inbound CALL, a timer for call deadlines, and awaitable
outbound calls. Default behaviour for every inbound action lives in :mod:`.handlers`; the typed
outbound operations in :mod:`.operations`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Protocol, TypeVar

import anyio
import attrs

from ._logging import get_logger, message_context
from ._pending import PendingCalls
from .codec import MessageCodec
from .connection import Connection, ConnectionClosed
from .enums import RegistrationStatus
from .errors import (
    ChargePointNotAccepted,
    ChargePointNotConnected,
    ErrorCode,
    InternalError,
    InvalidRequest,
    NotSupported,
    OcppError,
    error_for_code,
)
from .handlers import CoreHandlers
from .messages import Direction, Request, Response
from .operations import Operations
from .profiles import ChangeConfigurationRequest
from .rules import (
    ALLOWED_INBOUND_WHILE_NOT_ACCEPTED,
    ALLOWED_OUTBOUND_WHILE_PENDING,
    LocalProtocolError,
)
from .services.firmware import FirmwareOperations
from .services.local_auth_list import LocalAuthListOperations
from .services.reservation import ReservationOperations
from .services.security import SecurityOperations
from .services.smart_charging import SmartChargingOperations
from .session import CallReceived, CallRejected, Event, ProtocolViolation, Session
from .stores import Stores
from .validation import ValidationPolicy

__all__ = [
    "AnswerHook",
    "CallContext",
    "CallRouter",
    "CentralSystem",
    "CentralSystemOptions",
    "ChargePointConnected",
    "ChargePointDisconnected",
    "Exchange",
    "Handler",
    "Observer",
    "ProtocolViolationReported",
    "UnknownChargePointPolicy",
]

log = get_logger("ocpp16csms")

_Req = TypeVar("_Req", bound=Request[Any])
_Res = TypeVar("_Res", bound=Response)


class UnknownChargePointPolicy(Enum):
    """What a BootNotification from a charge point the store does not know gets."""

    REJECT = "reject"
    """Answer Rejected; nothing is stored."""
    PENDING = "pending"
    """Register it as Pending, so an operator can accept it later."""
    ACCEPT = "accept"
    """Register it and accept it (auto-registration)."""


@attrs.frozen(kw_only=True)
class CentralSystemOptions:
    """Tunable behaviour of a :class:`CentralSystem`."""

    heartbeat_interval: int = 300
    """Seconds, sent in an Accepted BootNotification answer (§4.2)."""
    retry_boot_interval: int = 60
    """Seconds, sent in a Pending or Rejected answer: when to send the next BootNotification."""
    call_timeout: float = 30.0
    """Seconds a charge point has to answer one of our CALLs."""
    max_queued_calls: int = 64
    """Calls that may wait behind the one in flight, per charge point."""
    handler_grace: float = 10.0
    """Seconds running handlers may finish (and store their data) after a disconnect."""
    unknown_charge_points: UnknownChargePointPolicy = UnknownChargePointPolicy.REJECT
    not_accepted_error: ErrorCode = ErrorCode.SECURITY_ERROR
    """CallError code for a CALL a not-accepted charge point may not send (§4.2)."""
    concurrent_tx: bool = False
    """Answer ConcurrentTx for an id tag that already has an active transaction."""
    reservation_expiry_interval: float = 10.0
    """Seconds between the runs that mark expired reservations (under ``async with``)."""
    last_seen_resolution: float = 60.0
    """Seconds: last-seen is written to the store at most this often per connection."""
    validation: ValidationPolicy = attrs.field(factory=ValidationPolicy)


@attrs.frozen
class CallContext:
    """What a handler knows about the CALL it answers."""

    charge_point_id: str
    message_id: str
    central_system: CentralSystem
    received_at: datetime
    registration_status: RegistrationStatus | None


Handler = Callable[[_Req, CallContext], Awaitable[Response]]
"""An inbound action handler: ``async def handler(request, context) -> response``."""


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
    """A charge point connection is being served."""

    charge_point_id: str


@attrs.frozen
class ChargePointDisconnected:
    """A charge point connection ended (``replaced``: a newer connection took its place)."""

    charge_point_id: str
    replaced: bool = False


@attrs.frozen
class ProtocolViolationReported:
    """The charge point sent something that is not valid OCPP-J, or a CALL we rejected."""

    charge_point_id: str
    description: str
    message_id: str | None


AnswerHook = Callable[[Any, Any, CallContext], Awaitable[None]]
"""``async def hook(request, response, context)``: awaited after a handler produced a valid
answer and before it is sent; an exception turns the answer into ``InternalError``, so what the
hook stores is kept before the charge point is told (profile services use this)."""

Observer = Callable[[Any], Awaitable[None] | None]
"""Called with every :class:`Exchange` and connection event; must not raise (it is logged)."""


class CallRouter(Protocol):
    """Reaches charge points connected to another process (DESIGN: growing past one machine).

    The in-process default raises :class:`ChargePointNotConnected`; a pub/sub-backed router
    forwards the call to the process that serves the charge point.
    """

    async def call(self, charge_point_id: str, request: Request[_Res]) -> _Res:
        """Send ``request`` to a charge point this process does not serve."""
        ...


class _LocalOnlyRouter:
    async def call(self, charge_point_id: str, request: Request[_Res]) -> _Res:
        raise ChargePointNotConnected(charge_point_id)


@attrs.define(eq=False)
class _Link:
    """The central system's side of one live connection."""

    charge_point_id: str
    connection: Connection
    session: Session
    registration: RegistrationStatus | None
    waiters: PendingCalls
    send_lock: anyio.Lock = attrs.field(factory=anyio.Lock)
    wakeup: anyio.Event = attrs.field(factory=anyio.Event)
    closed: bool = False
    replaced: bool = False
    last_touch: float = -math.inf


def _redacted(request: Request[Any]) -> Request[Any]:
    """The request as observers see it: a secret configuration value is masked."""
    if (
        isinstance(request, ChangeConfigurationRequest)
        and request.key.casefold() == "authorizationkey"
    ):
        return ChangeConfigurationRequest(key=request.key, value="********")
    return request


def _utc_now() -> datetime:
    return datetime.now(UTC)


class CentralSystem(
    FirmwareOperations,
    LocalAuthListOperations,
    ReservationOperations,
    SecurityOperations,
    SmartChargingOperations,
    Operations,
):
    """An OCPP 1.6J central system over host-provided stores; see docs/central-system.md."""

    def __init__(
        self,
        stores: Stores,
        options: CentralSystemOptions | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        router: CallRouter | None = None,
    ) -> None:
        self.stores = stores
        self.options = options or CentralSystemOptions()
        self.clock = clock
        self.router: CallRouter = router or _LocalOnlyRouter()
        self.codec = MessageCodec(self.options.validation)
        self._links: dict[str, _Link] = {}
        self._observers: list[Observer] = []
        self._handlers: dict[str, Handler[Any]] = {}
        self._answer_hooks: dict[str, list[AnswerHook]] = {}
        self._periodic: list[tuple[float, Callable[[], Awaitable[None]]]] = []
        self._background: anyio.abc.TaskGroup | None = None
        self.core = CoreHandlers(self)
        self.core.install()
        self._install_services()

    # -- host hooks ------------------------------------------------------------------------

    def on(self, request_type: type[_Req]) -> Callable[[Handler[_Req]], Handler[_Req]]:
        """Decorator: replace the handler of ``request_type``'s action."""

        def register(handler: Handler[_Req]) -> Handler[_Req]:
            self.set_handler(request_type, handler)
            return handler

        return register

    def set_handler(self, request_type: type[_Req], handler: Handler[_Req] | None) -> None:
        """Replace the handler of an action sent by charge points; None stops serving it."""
        if request_type.direction is Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT:
            raise ValueError(f"charge points do not send {request_type.action}")
        if handler is None:
            self._handlers.pop(request_type.action, None)
        else:
            self._handlers[request_type.action] = handler

    def handler_for(self, request_type: type[_Req]) -> Handler[_Req] | None:
        """The handler now serving ``request_type``'s action, if any."""
        return self._handlers.get(request_type.action)

    def add_answer_hook(self, request_type: type[_Req], hook: AnswerHook) -> None:
        """Await ``hook`` for every answer to ``request_type`` before the answer is sent."""
        self._answer_hooks.setdefault(request_type.action, []).append(hook)

    def add_periodic(self, interval: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` every ``interval`` seconds while the central system runs (see
        :meth:`__aenter__`); a failing run is logged and the next one still happens."""
        self._periodic.append((interval, job))
        if self._background is not None:
            self._background.start_soon(self._run_periodic, interval, job)

    @property
    def is_running(self) -> bool:
        """Whether the central system runs its background tasks (inside ``async with``)."""
        return self._background is not None

    def spawn(self, job: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run ``job(*args)`` in the central system's background task group.

        A failing job is logged and never disturbs the others. Raises ``RuntimeError`` when
        the central system is not running (see :meth:`__aenter__`).
        """
        group = self._background
        if group is None:
            raise RuntimeError(
                "the central system is not running: use `async with central_system:`"
            )
        group.start_soon(self._run_guarded, job, *args)

    async def _run_guarded(self, job: Callable[..., Awaitable[None]], *args: Any) -> None:
        try:
            await job(*args)
        except Exception:
            log.exception("background job %r failed", job)

    async def __aenter__(self) -> CentralSystem:
        """Start the central system's own background jobs (expiry timers and the like)."""
        group = anyio.create_task_group()
        await group.__aenter__()
        self._background = group
        for interval, job in self._periodic:
            group.start_soon(self._run_periodic, interval, job)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Stop the background jobs and close every connection."""
        group, self._background = self._background, None
        await self.aclose()
        if group is not None:
            group.cancel_scope.cancel()
            await group.__aexit__(None, None, None)

    async def _run_periodic(self, interval: float, job: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await job()
            except Exception:
                log.exception("periodic job %r failed", job)
            await anyio.sleep(interval)

    def observe(self, observer: Observer) -> Observer:
        """Call ``observer`` with every exchange and connection event (usable as a decorator)."""
        self._observers.append(observer)
        return observer

    # -- connections -----------------------------------------------------------------------

    def is_connected(self, charge_point_id: str) -> bool:
        """Whether this process serves a live connection for the charge point."""
        return charge_point_id in self._links

    @property
    def connected_charge_points(self) -> frozenset[str]:
        """The charge points this process serves now."""
        return frozenset(self._links)

    async def serve(self, connection: Connection, charge_point_id: str) -> None:
        """Serve one charge point connection until it closes; a newer one for the id wins."""
        try:
            record = await self.stores.charge_points.get(charge_point_id)
        except Exception:
            # Without the registration state nothing can be answered correctly; the charge
            # point reconnects later (1011: the server met an unexpected condition).
            log.exception("[%s] charge point store failed; connection closed", charge_point_id)
            with anyio.move_on_after(5):
                await connection.close(1011, "central system temporarily unavailable")
            return
        link = _Link(
            charge_point_id,
            connection,
            Session(
                charge_point_id,
                codec=self.codec,
                call_timeout=self.options.call_timeout,
                max_queued_calls=self.options.max_queued_calls,
            ),
            registration=record.registration_status if record else None,
            waiters=PendingCalls(charge_point_id, self.options.call_timeout),
        )
        if record is not None and record.boot is not None:
            link.session.model = record.boot.charge_point_model
        old = self._links.get(charge_point_id)
        self._links[charge_point_id] = link
        if old is not None:
            old.replaced = True
            log.info("[%s] new connection replaces the open one", charge_point_id)
            self._abort(old)
            with anyio.move_on_after(5):
                await old.connection.close(1000, "replaced by a new connection")
        log.info("[%s] connected", charge_point_id)
        await self._emit(ChargePointConnected(charge_point_id))
        try:
            async with anyio.create_task_group() as handlers:
                async with anyio.create_task_group() as io:
                    io.start_soon(self._timer_loop, link)
                    await self._receive_loop(link, handlers)
                    io.cancel_scope.cancel()
                self._abort(link)
                # Let running handlers finish storing what they received; replies are dropped.
                handlers.cancel_scope.deadline = anyio.current_time() + self.options.handler_grace
        finally:
            self._abort(link)
            if self._links.get(charge_point_id) is link:
                del self._links[charge_point_id]
            log.info("[%s] disconnected", charge_point_id)
            with anyio.CancelScope(shield=True):
                with anyio.move_on_after(5):
                    await connection.close(1000, "")
                await self._emit(ChargePointDisconnected(charge_point_id, link.replaced))

    async def _receive_loop(self, link: _Link, handlers: anyio.abc.TaskGroup) -> None:
        while not link.closed:
            try:
                text = await link.connection.receive()
            except ConnectionClosed:
                return
            if link.closed:
                # Aborted while we waited (disconnect, replacement): a frame buffered before the
                # close is not processed, and the session no longer accepts any.
                return
            events = link.session.receive_text(text, anyio.current_time())
            await self._flush(link)
            for event in events:
                if isinstance(event, CallReceived):
                    handlers.start_soon(self._handle_call, link, event)
                else:
                    await self._on_event(link, event)

    async def _timer_loop(self, link: _Link) -> None:
        while True:
            wakeup = link.wakeup
            deadline = link.session.next_deadline()
            with anyio.CancelScope(deadline=math.inf if deadline is None else deadline):
                await wakeup.wait()
            if wakeup.is_set():
                link.wakeup = anyio.Event()
            events = link.session.handle_timers(anyio.current_time())
            await self._flush(link)
            for event in events:
                await self._on_event(link, event)

    async def _flush(self, link: _Link) -> None:
        if not link.session.has_outgoing:
            return
        async with link.send_lock:
            for text in link.session.outgoing():
                if link.closed:
                    return
                try:
                    await link.connection.send(text)
                except ConnectionClosed:
                    self._abort(link)
                    return

    def _abort(self, link: _Link) -> None:
        """Mark the link closed and fail every call waiting on it with ConnectionLost."""
        if link.closed:
            return
        link.closed = True
        for event in link.session.close():
            self._resolve(link, event)
        link.wakeup.set()

    # -- events from the session ---------------------------------------------------------------

    async def _on_event(self, link: _Link, event: Event) -> None:
        cp = link.charge_point_id
        if isinstance(event, CallRejected | ProtocolViolation):
            if isinstance(event, CallRejected):
                description = f"{event.action} rejected with {event.error.code}: {event.error}"
            else:
                description = event.description
            log.warning(
                "[%s] message %s: %s",
                cp,
                event.message_id,
                description,
                extra={"charge_point_id": cp, "message_id": event.message_id},
            )
            await self._emit(ProtocolViolationReported(cp, description, event.message_id))
            return
        self._resolve(link, event)

    def _resolve(self, link: _Link, event: Event) -> None:
        link.waiters.resolve(event)

    # -- inbound CALLs -------------------------------------------------------------------------

    async def _handle_call(self, link: _Link, event: CallReceived) -> None:
        with message_context(link.charge_point_id, event.message_id):
            await self._handle_call_in_context(link, event)

    async def _handle_call_in_context(self, link: _Link, event: CallReceived) -> None:
        request, message_id, cp = event.request, event.message_id, link.charge_point_id
        extra = {"charge_point_id": cp, "message_id": message_id}
        log.debug("[%s] message %s: %s received", cp, message_id, request.action, extra=extra)
        response: Response | None = None
        error: OcppError | None = None
        try:
            response = await self._answer(link, request, message_id)
        except OcppError as raised:
            error = raised
        except Exception:
            log.exception(
                "[%s] message %s: handler for %s failed",
                cp,
                message_id,
                request.action,
                extra=extra,
            )
            error = InternalError(f"the central system failed to process {request.action}")
        if link.closed:
            log.info("[%s] message %s: answer dropped, disconnected", cp, message_id, extra=extra)
            return
        try:
            if response is not None:
                try:
                    link.session.send_result(message_id, response)
                except InvalidRequest as invalid:
                    log.error("[%s] message %s: %s", cp, message_id, invalid, extra=extra)
                    error, response = InternalError("the answer broke its schema"), None
            if error is not None:
                link.session.send_error(message_id, error)
        except LocalProtocolError as misuse:  # pragma: no cover - guarded by the checks above
            log.error("[%s] message %s: %s", cp, message_id, misuse, extra=extra)
            return
        await self._flush(link)
        await self._emit(Exchange(cp, message_id, request.direction, request, response, error))

    async def _answer(self, link: _Link, request: Request[Any], message_id: str) -> Response:
        action = request.action
        if link.registration is not RegistrationStatus.ACCEPTED:
            allowed = ALLOWED_INBOUND_WHILE_NOT_ACCEPTED.get(link.registration, frozenset())
            if action not in allowed:
                raise error_for_code(self.options.not_accepted_error)(
                    f"{action} is not accepted before the charge point is registered"
                    f" (status {link.registration or 'none'})"
                )
        handler = self._handlers.get(action)
        if handler is None:
            raise NotSupported(f"this central system does not handle {action}")
        context = CallContext(
            link.charge_point_id, message_id, self, self.clock(), link.registration
        )
        response = await handler(request, context)
        if type(response) is not request.response_type:
            log.error(
                "[%s] message %s: handler %s returned %s; it must return %s",
                link.charge_point_id,
                message_id,
                getattr(handler, "__qualname__", repr(handler)),
                type(response).__name__,
                request.response_type.__name__,
                extra={"charge_point_id": link.charge_point_id, "message_id": message_id},
            )
            raise InternalError(f"the central system produced no valid {action} answer")
        await self._after_answer(link, request, response, context)
        return response

    async def _after_answer(
        self, link: _Link, request: Request[Any], response: Response, context: CallContext
    ) -> None:
        for hook in self._answer_hooks.get(request.action, ()):
            await hook(request, response, context)
        # Connection state follows the answer actually given, whoever's handler produced it.
        status = getattr(response, "status", None)
        if request.action == "BootNotification" and isinstance(status, RegistrationStatus):
            link.registration = status
            link.session.model = getattr(request, "charge_point_model", None)
        now = anyio.current_time()
        if now - link.last_touch >= self.options.last_seen_resolution:
            link.last_touch = now
            await self.stores.charge_points.touch(link.charge_point_id, self.clock())

    # -- outbound CALLs ------------------------------------------------------------------------

    async def call(self, charge_point_id: str, request: Request[_Res]) -> _Res:
        """Send ``request`` to the charge point and return its typed answer.

        Raises :class:`InvalidRequest` (nothing sent), :class:`ChargePointNotConnected`,
        :class:`ChargePointNotAccepted`, :class:`QueueFull`, :class:`CallTimeout`,
        :class:`CallErrorReceived` (with the charge point's code, description and details) or
        :class:`ConnectionLost`.
        """
        link = self._links.get(charge_point_id)
        if link is None or link.closed:
            return await self.router.call(charge_point_id, request)
        action = request.action
        if link.registration is not RegistrationStatus.ACCEPTED and not (
            link.registration is RegistrationStatus.PENDING
            and action in ALLOWED_OUTBOUND_WHILE_PENDING
        ):
            raise ChargePointNotAccepted(
                charge_point_id, action, link.registration.value if link.registration else None
            )
        try:
            message_id = link.session.start_call(request, anyio.current_time())
        except LocalProtocolError:
            raise ChargePointNotConnected(charge_point_id) from None
        waiter = link.waiters.add(message_id)
        link.wakeup.set()
        log.debug(
            "[%s] message %s: %s queued",
            charge_point_id,
            message_id,
            action,
            extra={"charge_point_id": charge_point_id, "message_id": message_id},
        )
        try:
            with message_context(charge_point_id, message_id):
                await self._flush(link)
                await waiter.done.wait()
        finally:
            link.waiters.discard(message_id)
        await self._emit(
            Exchange(
                charge_point_id,
                message_id,
                Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT,
                _redacted(request),
                waiter.response,
                waiter.error,
            )
        )
        return waiter.outcome()  # type: ignore[return-value]

    async def disconnect(self, charge_point_id: str, reason: str = "") -> None:
        """Close the charge point's connection, if this process serves one."""
        link = self._links.get(charge_point_id)
        if link is not None:
            self._abort(link)
            await link.connection.close(1000, reason)

    async def aclose(self) -> None:
        """Close every connection; pending calls fail with :class:`ConnectionLost`."""
        for link in list(self._links.values()):
            self._abort(link)
            with anyio.move_on_after(5):
                await link.connection.close(1001, "central system shutting down")

    # -- observers -----------------------------------------------------------------------------

    async def _emit(self, event: object) -> None:
        for observer in self._observers:
            try:
                result = observer(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("observer %r failed on %r", observer, event)
