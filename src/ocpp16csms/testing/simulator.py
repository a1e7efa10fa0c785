"""A scriptable OCPP 1.6J charge point, for testing central systems (ours or a host's).

It speaks through any :class:`~ocpp16csms.connection.Connection` (an in-memory pair in unit
tests) with the same sans-IO :class:`~ocpp16csms.session.Session` the central system uses, on
the charge point's side, so everything it receives is validated against our schemas. Calls
from the central system are answered by configurable behaviour, and recorded.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any, TypeVar

import anyio
import anyio.abc
import attrs

from .._driver import Driver
from ..codec import MessageCodec
from ..connection import Connection
from ..datatypes import IdTagInfo, KeyValue, MeterValue, SampledValue
from ..enums import (
    AvailabilityStatus,
    CancelReservationStatus,
    CertificateSignedStatus,
    CertificateStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingProfileStatus,
    ClearCacheStatus,
    ClearChargingProfileStatus,
    ConfigurationStatus,
    DataTransferStatus,
    DeleteCertificateStatus,
    FirmwareStatus,
    FirmwareStatusEnumType,
    GetCompositeScheduleStatus,
    GetInstalledCertificateStatus,
    LogStatus,
    Measurand,
    ReadingContext,
    Reason,
    RemoteStartStopStatus,
    ReservationStatus,
    ResetStatus,
    TriggerMessageStatus,
    UnitOfMeasure,
    UnlockStatus,
    UpdateFirmwareStatus,
    UpdateStatus,
)
from ..errors import CallErrorReceived, CallTimeout, ConnectionLost, ErrorCode, error_for_code
from ..messages import (
    AuthorizeRequest,
    AuthorizeResponse,
    BootNotificationRequest,
    BootNotificationResponse,
    CancelReservationResponse,
    CertificateSignedResponse,
    ChangeAvailabilityResponse,
    ChangeConfigurationResponse,
    ClearCacheResponse,
    ClearChargingProfileResponse,
    DataTransferResponse,
    DeleteCertificateResponse,
    ExtendedTriggerMessageResponse,
    FirmwareStatusNotificationRequest,
    GetCompositeScheduleResponse,
    GetConfigurationRequest,
    GetConfigurationResponse,
    GetDiagnosticsResponse,
    GetInstalledCertificateIdsResponse,
    GetLocalListVersionResponse,
    GetLogResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    InstallCertificateResponse,
    MeterValuesRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
    ReserveNowResponse,
    ResetResponse,
    SendLocalListResponse,
    SetChargingProfileResponse,
    SignedFirmwareStatusNotificationRequest,
    SignedUpdateFirmwareRequest,
    SignedUpdateFirmwareResponse,
    StartTransactionRequest,
    StatusNotificationRequest,
    StatusNotificationResponse,
    StopTransactionRequest,
    StopTransactionResponse,
    TriggerMessageResponse,
    UnlockConnectorResponse,
    UpdateFirmwareResponse,
)
from ..messages.base import Request, Response
from ..session import CallReceived, Session

__all__ = ["Answer", "ChargePointSimulator", "ChargingSession", "default_answers", "utc_now"]

_Res = TypeVar("_Res", bound=Response)

AnswerFactory = Callable[[Any], Response | Awaitable[Response]]


@attrs.frozen(kw_only=True)
class Answer:
    """How the simulator answers one action from the central system.

    ``response`` (a response, or a function of the request returning one) is sent after
    ``delay`` seconds; ``error`` sends that CALLERROR instead; ``drop`` sends nothing at all.
    """

    response: Response | AnswerFactory | None = None
    error: ErrorCode | None = None
    description: str = ""
    delay: float = 0.0
    drop: bool = False


def default_answers() -> dict[str, Answer]:
    """A charge point that accepts everything (what a well-behaved charge point answers)."""
    accepted: dict[str, Response] = {
        "CancelReservation": CancelReservationResponse(status=CancelReservationStatus.ACCEPTED),
        "CertificateSigned": CertificateSignedResponse(status=CertificateSignedStatus.ACCEPTED),
        "ChangeAvailability": ChangeAvailabilityResponse(status=AvailabilityStatus.ACCEPTED),
        "ChangeConfiguration": ChangeConfigurationResponse(status=ConfigurationStatus.ACCEPTED),
        "ClearCache": ClearCacheResponse(status=ClearCacheStatus.ACCEPTED),
        "ClearChargingProfile": ClearChargingProfileResponse(
            status=ClearChargingProfileStatus.ACCEPTED
        ),
        "DataTransfer": DataTransferResponse(status=DataTransferStatus.ACCEPTED),
        "DeleteCertificate": DeleteCertificateResponse(status=DeleteCertificateStatus.ACCEPTED),
        "ExtendedTriggerMessage": ExtendedTriggerMessageResponse(
            status=TriggerMessageStatus.ACCEPTED
        ),
        "GetCompositeSchedule": GetCompositeScheduleResponse(
            status=GetCompositeScheduleStatus.REJECTED
        ),
        "GetDiagnostics": GetDiagnosticsResponse(),
        "GetInstalledCertificateIds": GetInstalledCertificateIdsResponse(
            status=GetInstalledCertificateStatus.NOT_FOUND
        ),
        "GetLocalListVersion": GetLocalListVersionResponse(list_version=0),
        "GetLog": GetLogResponse(status=LogStatus.ACCEPTED),
        "InstallCertificate": InstallCertificateResponse(status=CertificateStatus.ACCEPTED),
        "RemoteStartTransaction": RemoteStartTransactionResponse(
            status=RemoteStartStopStatus.ACCEPTED
        ),
        "RemoteStopTransaction": RemoteStopTransactionResponse(
            status=RemoteStartStopStatus.ACCEPTED
        ),
        "ReserveNow": ReserveNowResponse(status=ReservationStatus.ACCEPTED),
        "Reset": ResetResponse(status=ResetStatus.ACCEPTED),
        "SendLocalList": SendLocalListResponse(status=UpdateStatus.ACCEPTED),
        "SetChargingProfile": SetChargingProfileResponse(status=ChargingProfileStatus.ACCEPTED),
        "SignedUpdateFirmware": SignedUpdateFirmwareResponse(status=UpdateFirmwareStatus.ACCEPTED),
        "TriggerMessage": TriggerMessageResponse(status=TriggerMessageStatus.ACCEPTED),
        "UnlockConnector": UnlockConnectorResponse(status=UnlockStatus.UNLOCKED),
        "UpdateFirmware": UpdateFirmwareResponse(),
    }
    answers = {action: Answer(response=response) for action, response in accepted.items()}
    # No fixed response: answered from ChargePointSimulator.configuration.
    answers["GetConfiguration"] = Answer()
    return answers


@cache
def _shared_codec() -> MessageCodec:
    # Converters generate code per message class; simulators in one process share them.
    return MessageCodec()


@attrs.frozen(kw_only=True)
class ChargingSession:
    """What :meth:`ChargePointSimulator.charge` did."""

    transaction_id: int
    id_tag_info: IdTagInfo
    meter_start: int
    meter_stop: int
    stop_answer: StopTransactionResponse


class ChargePointSimulator:
    """A charge point over ``connection``; use ``async with simulator.running():``."""

    def __init__(
        self,
        charge_point_id: str,
        connection: Connection,
        *,
        call_timeout: float = 10.0,
        answers: dict[str, Answer] | None = None,
        clock: Callable[[], datetime] | None = None,
        codec: MessageCodec | None = None,
    ) -> None:
        self.charge_point_id = charge_point_id
        #: Timestamps of the messages the simulator builds itself.
        self.clock = clock or utc_now
        self.connection = connection
        self.session = Session(
            charge_point_id,
            codec=codec or _shared_codec(),
            call_timeout=call_timeout,
            charge_point_side=True,
        )
        self._driver = Driver(connection, self.session, call_timeout)
        self.answers = default_answers() if answers is None else dict(answers)
        self.configuration: dict[str, tuple[str, bool]] = {}
        #: Every request the central system sent, in order.
        self.received: list[Request[Any]] = []
        self._remote_stops: dict[int, anyio.Event] = {}
        self._follow_ups: dict[str, Callable[[Any], Awaitable[None]]] = {}
        self._group: anyio.abc.TaskGroup | None = None

    # -- behaviour ---------------------------------------------------------------------------

    def answer(
        self,
        action: str,
        response: Response | AnswerFactory | None = None,
        *,
        error: ErrorCode | None = None,
        description: str = "",
        delay: float = 0.0,
        drop: bool = False,
    ) -> None:
        """Set how the simulator answers ``action`` from now on."""
        self.answers[action] = Answer(
            response=response, error=error, description=description, delay=delay, drop=drop
        )

    def report_firmware_updates(
        self,
        statuses: Iterable[FirmwareStatus | FirmwareStatusEnumType | str] = (
            FirmwareStatus.DOWNLOADING,
            FirmwareStatus.DOWNLOADED,
            FirmwareStatus.INSTALLING,
            FirmwareStatus.INSTALLED,
        ),
        *,
        interval: float = 0.0,
    ) -> None:
        """From now on, follow each UpdateFirmware (§5.19) it answers with a
        FirmwareStatusNotification (§4.5) per status, ``interval`` seconds apart, and each
        SignedUpdateFirmware it accepts with SignedFirmwareStatusNotifications carrying its
        requestId. An empty ``statuses`` stops the reports."""
        sequence = tuple(str(getattr(s, "value", s)) for s in statuses)

        async def report(request: Any) -> None:
            signed = isinstance(request, SignedUpdateFirmwareRequest)
            for status in sequence:
                await anyio.sleep(interval)
                if signed:
                    await self.call(
                        SignedFirmwareStatusNotificationRequest(
                            status=FirmwareStatusEnumType(status), request_id=request.request_id
                        )
                    )
                else:
                    await self.call(
                        FirmwareStatusNotificationRequest(status=FirmwareStatus(status))
                    )

        for action in ("UpdateFirmware", "SignedUpdateFirmware"):
            if sequence:
                self._follow_ups[action] = report
            else:
                self._follow_ups.pop(action, None)

    def received_of(self, request_type: type[Any]) -> list[Any]:
        """The requests of one type the central system sent."""
        return [r for r in self.received if isinstance(r, request_type)]

    # -- running -----------------------------------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ChargePointSimulator]:
        """Run the receive loop for the duration of the block, then close the connection."""
        async with anyio.create_task_group() as group:
            self._group = group
            # Its handlers stay in the group: a failing answer factory fails the test loudly.
            group.start_soon(
                partial(
                    self._driver.run,
                    group,
                    self._answer,
                    None,
                    self._arrived,
                    handlers_in_group=True,
                )
            )
            try:
                yield self
            finally:
                self._group = None
                await self.close()
                group.cancel_scope.cancel()

    async def close(self) -> None:
        """Close the connection; calls waiting for an answer fail with ConnectionLost."""
        self._driver.abort()
        with anyio.move_on_after(2):
            await self.connection.close()

    @property
    def closed(self) -> anyio.Event:
        """Set once the connection has closed."""
        return self._driver.done

    async def call(self, request: Request[_Res]) -> _Res:
        """Send ``request`` to the central system and return its answer.

        Raises :class:`CallErrorReceived` for a CALLERROR (or an answer that breaks its schema),
        :class:`CallTimeout` and :class:`ConnectionLost`.
        """
        waiter = self._driver.start_call(request)
        await self._driver.finish_call(waiter)
        return waiter.outcome()  # type: ignore[return-value]

    async def send_raw(self, text: str) -> None:
        """Send a frame as it is (for protocol tests)."""
        await self.connection.send(text)

    # -- scripted behaviour ------------------------------------------------------------------

    async def boot(
        self, vendor: str = "ocpp16csms", model: str = "Simulator", **fields: Any
    ) -> BootNotificationResponse:
        """Send a BootNotification (§4.2)."""
        return await self.call(
            BootNotificationRequest(charge_point_vendor=vendor, charge_point_model=model, **fields)
        )

    async def heartbeat(self) -> HeartbeatResponse:
        """Send a Heartbeat (§4.6)."""
        return await self.call(HeartbeatRequest())

    async def run_heartbeats(self, interval: float) -> None:
        """Send a Heartbeat every ``interval`` seconds until cancelled."""
        while True:
            await anyio.sleep(interval)
            await self.heartbeat()

    async def status(
        self,
        connector_id: int,
        status: ChargePointStatus,
        error_code: ChargePointErrorCode = ChargePointErrorCode.NO_ERROR,
    ) -> StatusNotificationResponse:
        """Send a StatusNotification (§4.9) stamped with the simulator's clock."""
        return await self.call(
            StatusNotificationRequest(
                connector_id=connector_id,
                error_code=error_code,
                status=status,
                timestamp=self.clock(),
            )
        )

    async def authorize(self, id_tag: str) -> AuthorizeResponse:
        """Send an Authorize (§4.1)."""
        return await self.call(AuthorizeRequest(id_tag=id_tag))

    async def charge(
        self,
        connector_id: int,
        id_tag: str,
        *,
        meter_values: int = 3,
        interval: float = 0.0,
        energy_per_interval_wh: int = 250,
        meter_start: int = 0,
        reason: Reason = Reason.LOCAL,
    ) -> ChargingSession:
        """Run one charging session as a charge point does (§3.6, §4.7, §4.8, §4.10).

        Authorize, Preparing, StartTransaction, Charging, ``meter_values`` periodic
        MeterValues every ``interval`` seconds, StopTransaction, Finishing, Available.
        """
        await self.authorize(id_tag)
        await self.status(connector_id, ChargePointStatus.PREPARING)
        started = await self.call(
            StartTransactionRequest(
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=meter_start,
                timestamp=self.clock(),
            )
        )
        await self.status(connector_id, ChargePointStatus.CHARGING)
        meter = meter_start
        stop_requested = self._remote_stops.setdefault(started.transaction_id, anyio.Event())
        for _ in range(meter_values):
            with anyio.move_on_after(interval):
                await stop_requested.wait()
            if stop_requested.is_set():
                # An accepted RemoteStopTransaction ends the session early (§5.12).
                reason = Reason.REMOTE
                break
            meter += energy_per_interval_wh
            await self.call(
                MeterValuesRequest(
                    connector_id=connector_id,
                    transaction_id=started.transaction_id,
                    meter_value=(
                        MeterValue(
                            timestamp=self.clock(),
                            sampled_value=(
                                SampledValue(
                                    value=str(meter),
                                    context=ReadingContext.SAMPLE_PERIODIC,
                                    measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
                                    unit=UnitOfMeasure.WH,
                                ),
                            ),
                        ),
                    ),
                )
            )
        self._remote_stops.pop(started.transaction_id, None)
        stopped = await self.call(
            StopTransactionRequest(
                meter_stop=meter,
                timestamp=self.clock(),
                transaction_id=started.transaction_id,
                reason=reason,
            )
        )
        await self.status(connector_id, ChargePointStatus.FINISHING)
        await self.status(connector_id, ChargePointStatus.AVAILABLE)
        return ChargingSession(
            transaction_id=started.transaction_id,
            id_tag_info=started.id_tag_info,
            meter_start=meter_start,
            meter_stop=meter,
            stop_answer=stopped,
        )

    # -- answering the central system -------------------------------------------------------

    def _arrived(self, event: CallReceived) -> None:
        self.received.append(event.request)

    async def _answer(self, event: CallReceived) -> None:
        request = event.request
        answer = self.answers.get(request.action)
        if answer is None:
            answer = Answer(error=ErrorCode.NOT_SUPPORTED, description="not simulated")
        if answer.delay:
            await anyio.sleep(answer.delay)
        if answer.drop or self._driver.closed:
            return
        if answer.error is not None:
            self.session.send_error(
                event.message_id, error_for_code(answer.error)(answer.description)
            )
        else:
            response = answer.response
            if response is None and isinstance(request, GetConfigurationRequest):
                response = self._configuration_answer(request)
            if callable(response):
                produced = response(request)
                response = await produced if isinstance(produced, Awaitable) else produced
            assert isinstance(response, Response)
            self.session.send_result(event.message_id, response)
            if (
                isinstance(request, RemoteStopTransactionRequest)
                and getattr(response, "status", None) is RemoteStartStopStatus.ACCEPTED
            ):
                self._remote_stops.setdefault(request.transaction_id, anyio.Event()).set()
            follow_up = self._follow_ups.get(request.action)
            # A charge point that refused the request (a status other than Accepted…) does
            # nothing afterwards; UpdateFirmware's answer has no status: always followed.
            status = str(getattr(getattr(response, "status", None), "value", "Accepted"))
            if follow_up is not None and self._group is not None and status.startswith("Accepted"):
                self._group.start_soon(self._follow_up, follow_up, request)
        await self._driver.flush()

    async def _follow_up(self, script: Callable[[Any], Awaitable[None]], request: Any) -> None:
        # What a charge point does on its own after answering; it stops if the connection goes.
        with contextlib.suppress(ConnectionLost, CallTimeout, CallErrorReceived):
            await script(request)

    def _configuration_answer(self, request: GetConfigurationRequest) -> Response:
        keys = request.key or tuple(self.configuration)
        known = [k for k in keys if k in self.configuration]
        return GetConfigurationResponse(
            configuration_key=tuple(
                KeyValue(key=k, value=self.configuration[k][0], readonly=self.configuration[k][1])
                for k in known
            )
            or None,
            unknown_key=tuple(k for k in keys if k not in self.configuration) or None,
        )


def utc_now() -> datetime:
    """The current time, timezone-aware (the simulator stamps its messages with it)."""
    return datetime.now(UTC)
