"""The :class:`CentralSystem`: serves charge point connections and drives them.

One :class:`~ocpp16csms.session.Session` per connection does the protocol, run by the one
:class:`~ocpp16csms._driver.Driver` (so it runs on asyncio and trio); this module keeps the
connections, dispatches inbound CALLs to handlers, runs hooks, observers and background jobs,
and composes the feature services (``cs.core``, ``cs.smart_charging``, …), each built over the
narrow :class:`~ocpp16csms.engine.Engine` protocol (docs/architecture.md).
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

import anyio
import anyio.abc
import attrs

from ._driver import Driver
from ._features import build_services
from ._guard import (
    close_within,
)
from ._inbound import handle_call
from ._logging import get_logger, message_context
from ._registration import check_handler, check_request_type
from .attached import AttachedConnection
from .bundle import Stores
from .codec import MessageCodec
from .connection import Connection, FrameSender
from .engine import (
    AfterHook,
    AnswerHook,
    CentralSystemOptions,
    ChargePointConnected,
    ChargePointDisconnected,
    Exchange,
    Handler,
    Observer,
    PeerViolationObserved,
    PreSendCheck,
)
from .enums import RegistrationStatus
from .errors import (
    ChargePointNotConnected,
    LocalProtocolError,
)
from .instrumentation import Instrumentation, instrumented_call
from .messages.base import Direction, Profile, Request, Response
from .profiles.core.service import redacted
from .profiles.firmware.service import FirmwareService
from .profiles.local_auth_list.service import LocalAuthListService
from .profiles.plug_and_charge.service import PlugAndChargeService
from .profiles.remote_trigger.service import RemoteTriggerService
from .profiles.reservation.service import ReservationService
from .profiles.security.service import SecurityService
from .profiles.smart_charging.service import SmartChargingService
from .session import CallReceived, CallRejected, Event, InvalidMessageReceived, Session
from .stores.records import StoreError

__all__ = ["CallRouter", "CentralSystem", "FeatureNotEnabled"]

log = get_logger("ocpp16csms")

_Req = TypeVar("_Req", bound=Request[Any])
_Res = TypeVar("_Res", bound=Response)

ALL_FEATURES = frozenset(Profile)


class FeatureNotEnabled(LocalProtocolError, AttributeError):
    """The central system was built without the feature whose service was asked for."""


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

    central_system: CentralSystem
    charge_point_id: str
    driver: Driver
    replaced: bool = False
    last_touch: float = -math.inf

    session: Session = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.session = self.driver.session  # an attribute: read for every CALL

    def call_handler(self) -> Callable[[CallReceived], Coroutine[Any, Any, object]]:
        """What answers this connection's CALLs: ``handler(event)`` is the central system's
        own coroutine (a partial, not a method of ours around it: one frame less per CALL)."""
        return functools.partial(handle_call, self.central_system, self)

    async def on_event(self, event: Event) -> None:
        await self.central_system._on_event(self, event)


# datetime.now(UTC), with no Python frame around it (asked for every CALL).
_utc_now: Callable[[], datetime] = functools.partial(datetime.now, UTC)


class CentralSystem:
    """An OCPP 1.6J central system over host-provided stores; see docs/central-system.md.

    ``features`` names the feature profiles to serve (default: all; Core always); a feature
    left out answers its charge-point actions with NotSupported, and its service attribute
    raises :class:`FeatureNotEnabled`.
    """

    def __init__(
        self,
        stores: Stores,
        options: CentralSystemOptions | None = None,
        *,
        clock: Callable[[], datetime] = _utc_now,
        router: CallRouter | None = None,
        features: Iterable[Profile | str] | None = None,
    ) -> None:
        if not isinstance(stores, Stores):
            raise TypeError(
                "CentralSystem needs a Stores bundle (memory_stores(), sqlite_stores() or "
                f"Stores(...)), got {type(stores).__name__}"
            )
        if options is not None and not isinstance(options, CentralSystemOptions):
            raise TypeError(f"options must be CentralSystemOptions, got {type(options).__name__}")
        if not callable(clock):
            raise TypeError("clock must be a function returning an aware datetime")
        self.stores = stores
        self.options = options or CentralSystemOptions()
        self.clock = clock
        self.router: CallRouter = router or _LocalOnlyRouter()
        self.codec = MessageCodec(self.options.validation)
        self._links: dict[str, _Link] = {}
        self._observers: list[Observer] = []
        self._handlers: dict[str, Handler[Any]] = {}
        self._answer_hooks: dict[str, list[AnswerHook[Any]]] = {}
        self._after_hooks: dict[str, list[AfterHook[Any]]] = {}
        self._pre_send_checks: dict[str, list[PreSendCheck[Any]]] = {}
        self._periodic: list[tuple[float, Callable[[], Awaitable[None]]]] = []
        self._background: anyio.abc.TaskGroup | None = None
        #: Metrics and traces (``ocpp16csms.otel.instrument``); None costs one check a message.
        self.instrumentation: Instrumentation | None = None
        enabled = {Profile.CORE}
        for feature in ALL_FEATURES if features is None else features:
            try:
                enabled.add(Profile(feature))
            except ValueError:
                names = ", ".join(p.value for p in Profile)
                raise ValueError(f"unknown feature {feature!r} (one of {names})") from None
        #: The feature profiles this central system serves.
        self.features = frozenset(enabled)
        self.core, self._services = build_services(self, stores, self.features)

    # -- feature services --------------------------------------------------------------------

    def _service(self, profile: Profile) -> Any:
        service = self._services.get(profile)
        if service is None:
            raise FeatureNotEnabled(f"this central system was built without {profile.value}")
        return service

    @property
    def remote_trigger(self) -> RemoteTriggerService:
        """The Remote Trigger feature: TriggerMessage, ExtendedTriggerMessage."""
        service: RemoteTriggerService = self._service(Profile.REMOTE_TRIGGER)
        return service

    @property
    def smart_charging(self) -> SmartChargingService:
        """The Smart Charging feature: charging profiles and composite schedules."""
        service: SmartChargingService = self._service(Profile.SMART_CHARGING)
        return service

    @property
    def firmware(self) -> FirmwareService:
        """The Firmware Management feature: UpdateFirmware, GetDiagnostics, status views."""
        service: FirmwareService = self._service(Profile.FIRMWARE_MANAGEMENT)
        return service

    @property
    def local_auth_list(self) -> LocalAuthListService:
        """The Local Auth List Management feature: version, SendLocalList, sync."""
        service: LocalAuthListService = self._service(Profile.LOCAL_AUTH_LIST_MANAGEMENT)
        return service

    @property
    def reservation(self) -> ReservationService:
        """The Reservation feature: ReserveNow, CancelReservation, expiry."""
        service: ReservationService = self._service(Profile.RESERVATION)
        return service

    @property
    def security(self) -> SecurityService:
        """The security whitepaper's operations, SignCertificate and AuthorizationKey."""
        service: SecurityService = self._service(Profile.SECURITY)
        return service

    @property
    def plug_and_charge(self) -> PlugAndChargeService:
        """ISO 15118 Plug & Charge over DataTransfer: seams, certificates, renewal."""
        service: PlugAndChargeService = self._service(Profile.PLUG_AND_CHARGE)
        return service

    # -- host hooks ------------------------------------------------------------------------

    def on(self, request_type: type[_Req]) -> Callable[[Handler[_Req]], Handler[_Req]]:
        """Decorator: **replace** the handler of ``request_type``'s action.

        The default behaviour (storing statuses, transactions, …) no longer runs for that
        action; to react to an action and keep the default, use :meth:`after`.
        """
        check_request_type(request_type, "on")

        def register(handler: Handler[_Req]) -> Handler[_Req]:
            self.set_handler(request_type, handler)
            return handler

        return register

    def set_handler(self, request_type: type[_Req], handler: Handler[_Req] | None) -> None:
        """Replace the handler of an action sent by charge points; None stops serving it.

        Raises ``TypeError`` for a response class, a handler that is not an ``async def`` or
        does not take ``(request, context)``, and ``ValueError`` for an action charge points
        do not send.
        """
        if handler is None:
            check_request_type(request_type, "set_handler")
        else:
            check_handler(request_type, handler, arity=2, what="set_handler")
        if request_type.direction is Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT:
            raise ValueError(f"charge points do not send {request_type.action}")
        if handler is None:
            self._handlers.pop(request_type.action, None)
        else:
            self._handlers[request_type.action] = handler

    def handler_for(self, request_type: type[_Req]) -> Handler[_Req] | None:
        """The handler now serving ``request_type``'s action, if any."""
        return self._handlers.get(request_type.action)

    def after(self, request_type: type[_Req]) -> Callable[[AfterHook[_Req]], AfterHook[_Req]]:
        """Decorator: run ``hook(request, response, context)`` after every answer to
        ``request_type`` was sent, whichever handler gave it (the default one included).

        The hook may be sync or async. What it raises is logged with the charge point and
        message id and never reaches the charge point: the answer has already gone out.
        """

        def register(hook: AfterHook[_Req]) -> AfterHook[_Req]:
            check_handler(request_type, hook, arity=3, what="after")
            if request_type.direction is Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT:
                raise ValueError(f"charge points do not send {request_type.action}")
            self._after_hooks.setdefault(request_type.action, []).append(hook)
            return hook

        return register

    def add_answer_hook(self, request_type: type[_Req], hook: AnswerHook[_Req]) -> None:
        """Await ``hook(request, response, context)`` for every answer to ``request_type``
        *before* the answer is sent; what it raises turns the answer into ``InternalError``."""
        check_handler(request_type, hook, arity=3, what="add_answer_hook")
        self._answer_hooks.setdefault(request_type.action, []).append(hook)

    def add_pre_send_check(self, request_type: type[_Req], check: PreSendCheck[_Req]) -> None:
        """Await ``check(charge_point_id, request)`` before every call of ``request_type`` is
        sent; it raises :class:`~ocpp16csms.errors.InvalidRequest` to stop the call."""
        check_handler(request_type, check, arity=2, what="add_pre_send_check")
        self._pre_send_checks.setdefault(request_type.action, []).append(check)

    def add_periodic(self, interval: float, job: Callable[[], Awaitable[None]]) -> None:
        """Run ``job`` every ``interval`` seconds while the central system runs (see
        :meth:`__aenter__`); a failing run is logged and the next one still happens."""
        if not interval > 0:
            raise ValueError(f"a periodic job needs a positive interval, got {interval!r}")
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
        if not callable(observer):
            raise TypeError(f"an observer must be callable, got {observer!r}")
        self._observers.append(observer)
        return observer

    # -- connections -----------------------------------------------------------------------

    def is_connected(self, charge_point_id: str) -> bool:
        """Whether this process serves a live connection for the charge point."""
        link = self._links.get(charge_point_id)
        return link is not None and not link.driver.closed

    def registration(self, charge_point_id: str) -> RegistrationStatus | None:
        """The registration (§4.2) the live connection in this process works under: the
        answer to its last BootNotification, or the stored one until it sends one. None when
        this process serves no connection for the charge point."""
        link = self._links.get(charge_point_id)
        return None if link is None else link.session.registration

    @property
    def connected_charge_points(self) -> frozenset[str]:
        """The charge points this process serves now."""
        return frozenset(cp for cp, link in self._links.items() if not link.driver.closed)

    async def serve(self, connection: Connection, charge_point_id: str) -> None:
        """Serve one charge point connection until it closes; a newer one for the id wins."""
        opened = await self._open_link(connection, charge_point_id)
        if opened is None:
            return
        link, old = opened
        try:
            # One task group per connection, for its handlers and its call timer: the fewer
            # objects an idle connection keeps, the less each garbage collection visits.
            async with anyio.create_task_group() as tasks:
                if old is not None:
                    # The old peer may be dead: closing it must not hold up the new one.
                    tasks.start_soon(
                        close_within, old.driver.connection, 1000, "replaced by a new connection"
                    )
                # Handlers still running when the connection ends get handler_grace to
                # finish storing what they received (their replies are dropped).
                await link.driver.run(
                    tasks, link.call_handler(), link.on_event, grace=self.options.handler_grace
                )
                tasks.cancel_scope.deadline = anyio.current_time() + self.options.handler_grace
        finally:
            await self._close_link(link)

    @asynccontextmanager
    async def attach(
        self, charge_point_id: str, sender: FrameSender
    ) -> AsyncIterator[AttachedConnection]:
        """Serve a connection whose frames the host reads and pushes in itself.

        ``async with cs.attach(cp_id, sender) as connection:`` then ``await
        connection.receive(text)`` for each frame; answers and our calls go out through
        ``sender``. For hosts whose WebSocket server calls back per message, and the shortest
        path a frame can take (no task, no queue): see :class:`AttachedConnection`. Raises
        :class:`~ocpp16csms.stores.records.StoreError` when the charge point store cannot say
        who the charge point is (``sender`` is closed with 1011 first).
        """
        opened = await self._open_link(sender, charge_point_id)
        if opened is None:
            raise StoreError(f"the charge point store could not say who {charge_point_id!r} is")
        link, old = opened
        try:
            async with anyio.create_task_group() as tasks:
                if old is not None:  # closed in the background, as serve does
                    tasks.start_soon(
                        close_within, old.driver.connection, 1000, "replaced by a new connection"
                    )
                link.driver.attach(tasks, link.on_event)
                yield AttachedConnection(link)
                link.driver.abort()  # ends the call timer, if it runs; fails waiting callers
        finally:
            await self._close_link(link)

    async def _open_link(
        self, connection: Connection | FrameSender, charge_point_id: str
    ) -> tuple[_Link, _Link | None] | None:
        """Register a new connection (the link, and the one it replaces), or close it with
        1011 and return None when the charge point store fails."""
        options = self.options
        try:
            with anyio.fail_after(options.store_timeout):
                record = await self.stores.charge_points.get(charge_point_id)
        except Exception as failure:
            # Without the registration state nothing can be answered correctly; the charge
            # point reconnects later (1011: the server met an unexpected condition).
            if isinstance(failure, TimeoutError):
                log.error(
                    "[%s] charge point store did not answer within %g s; connection closed",
                    charge_point_id,
                    options.store_timeout,
                )
            else:
                log.exception("[%s] charge point store failed; connection closed", charge_point_id)
            await close_within(connection, 1011, "central system temporarily unavailable")
            return None
        session = Session(
            charge_point_id,
            codec=self.codec,
            call_timeout=options.call_timeout,
            max_queued_calls=options.max_queued_calls,
            registration=record.registration_status if record else None,
            not_accepted_error=options.not_accepted_error,
            max_concurrent_calls=options.max_concurrent_calls,
        )
        if record is not None and record.boot is not None:
            session.model = record.boot.charge_point_model
        link = _Link(self, charge_point_id, Driver(connection, session, options.call_timeout))
        old = self._links.get(charge_point_id)
        self._links[charge_point_id] = link
        if old is not None:
            old.replaced = True
            log.info("[%s] new connection replaces the open one", charge_point_id)
            old.driver.abort()
        log.info("[%s] connected", charge_point_id)
        await self._emit(ChargePointConnected(charge_point_id))
        return link, old

    async def _close_link(self, link: _Link) -> None:
        charge_point_id = link.charge_point_id
        link.driver.abort()
        if self._links.get(charge_point_id) is link:
            del self._links[charge_point_id]
        log.info("[%s] disconnected", charge_point_id)
        with anyio.CancelScope(shield=True):
            await close_within(link.driver.connection, 1000, "")
            await self._emit(ChargePointDisconnected(charge_point_id, link.replaced))

    # -- events from the session ---------------------------------------------------------------

    async def _on_event(self, link: _Link, event: Event) -> None:
        if not isinstance(event, CallRejected | InvalidMessageReceived):
            return
        cp = link.charge_point_id
        if isinstance(event, CallRejected):
            description = f"{event.action} rejected with {event.error.code}: {event.error}"
            if self.instrumentation is not None:
                self.instrumentation.rejected(cp, event.message_id, event.action, event.error)
        else:
            description = event.description
        log.warning(
            "[%s] message %s: %s",
            cp,
            event.message_id,
            description,
            extra={"charge_point_id": cp, "message_id": event.message_id},
        )
        await self._emit(PeerViolationObserved(cp, description, event.message_id))

    # -- inbound CALLs -------------------------------------------------------------------------

    # -- outbound CALLs ------------------------------------------------------------------------

    async def call(self, charge_point_id: str, request: Request[_Res]) -> _Res:
        """Send ``request`` to the charge point and return its typed answer.

        Raises :class:`InvalidRequest` (nothing sent), :class:`ChargePointNotConnected`,
        :class:`ChargePointNotAccepted`, :class:`QueueFull`, :class:`CallTimeout`,
        :class:`CallErrorReceived` (with the charge point's code, description and details) or
        :class:`ConnectionLost`.
        """
        if not isinstance(request, Request):
            raise TypeError(f"call() takes a request instance, got {request!r}")
        if (instrumentation := self.instrumentation) is None:
            return await self._call(charge_point_id, request, None)
        return await instrumented_call(instrumentation, charge_point_id, request, self._call)

    async def _call(
        self, charge_point_id: str, request: Request[_Res], queued: Callable[[str], None] | None
    ) -> _Res:
        link = self._links.get(charge_point_id)
        if link is None or link.driver.closed:
            return await self.router.call(charge_point_id, request)
        for check in self._pre_send_checks.get(request.action, ()):
            await check(charge_point_id, request)
        try:
            waiter = link.driver.start_call(request)
        except LocalProtocolError:
            raise ChargePointNotConnected(charge_point_id) from None
        message_id = waiter.message_id
        if queued is not None:
            queued(message_id)
        log.debug(
            "[%s] message %s: %s queued",
            charge_point_id,
            message_id,
            request.action,
            extra={"charge_point_id": charge_point_id, "message_id": message_id},
        )
        with message_context(charge_point_id, message_id):
            await link.driver.finish_call(waiter)
        if self._observers:
            await self._emit(
                Exchange(
                    charge_point_id,
                    message_id,
                    Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT,
                    redacted(request),
                    waiter.response,
                    waiter.error,
                )
            )
        return waiter.outcome()  # type: ignore[return-value]

    async def disconnect(
        self, charge_point_id: str, reason: str = "", *, replaced: bool = False
    ) -> None:
        """Close the charge point's connection, if this process serves one.

        ``replaced``: a newer connection (served by another process, say a call router) takes
        its place, and the :class:`ChargePointDisconnected` event says so.
        """
        link = self._links.get(charge_point_id)
        if link is not None:
            link.replaced = link.replaced or replaced
            link.driver.abort()
            await close_within(link.driver.connection, 1000, reason)

    async def aclose(self) -> None:
        """Close every connection; pending calls fail with :class:`ConnectionLost`."""
        async with anyio.create_task_group() as closing:  # a dead peer delays no other
            for link in list(self._links.values()):
                link.driver.abort()
                closing.start_soon(close_within, link.driver.connection, 1001, "shutting down")

    # -- observers -----------------------------------------------------------------------------

    async def _emit(self, event: object) -> None:
        for observer in self._observers:
            with anyio.move_on_after(self.options.handler_timeout) as deadline:
                try:
                    result = observer(event)
                    if inspect.isawaitable(result):
                        await result
                except Exception:
                    log.exception("observer %r failed on %r", observer, event)
            if deadline.cancelled_caught:
                log.error("observer %r given up on %r after handler_timeout", observer, event)
