"""Firmware Management operations (OCPP 1.6 §4.4, §4.5, §5.9, §5.19) and the status views.

:class:`FirmwareService` sends UpdateFirmware and GetDiagnostics after checking what can be
checked before sending, and keeps, per charge point, the newest firmware, diagnostics and log
upload status the charge point reported. Those views are in memory only: they survive a
reconnection but not a restart, and each process sees the notifications it served. Hosts that
need them durable observe the notifications (:meth:`CentralSystem.observe`).
``docs/firmware-and-security.md`` has the rules.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable
from datetime import UTC, datetime

import attrs

from ..._logging import get_logger
from ..._trusted import trusted_factory
from ...checks import build_request, check_retries, check_time_span, check_transfer_location
from ...engine import CallContext, Engine, acknowledge
from ...enums import DiagnosticsStatus, FirmwareStatus, FirmwareStatusEnumType, UploadLogStatus
from ...messages import (
    DiagnosticsStatusNotificationRequest,
    DiagnosticsStatusNotificationResponse,
    FirmwareStatusNotificationRequest,
    FirmwareStatusNotificationResponse,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    LogStatusNotificationRequest,
    LogStatusNotificationResponse,
    SignedFirmwareStatusNotificationRequest,
    SignedFirmwareStatusNotificationResponse,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
)
from ...stores.device_state import (
    DeviceStateStore,
    TransferKind,
    TransferRequest,
    TransferStatus,
    remember_request,
)
from ...stores.records import ConfigurationStore

__all__ = [
    "DiagnosticsStatusReport",
    "FirmwareService",
    "FirmwareStatusReport",
    "LogStatusReport",
]

log = get_logger("ocpp16csms.firmware")

# Log upload statuses remembered per requestId, per charge point: the newest requests only,
# so a charge point that reports under ever new ids cannot grow the view without bound.
_LOG_REQUESTS_KEPT = 16


@attrs.frozen(kw_only=True)
class FirmwareStatusReport:
    """The newest firmware status a charge point reported (§4.5; whitepaper §5.19).

    ``signed`` tells whether it came in a SignedFirmwareStatusNotification, which also carries
    the ``request_id`` of the SignedUpdateFirmware it is about. ``received_at`` is the central
    system's clock when the notification was answered.
    """

    status: FirmwareStatus | FirmwareStatusEnumType
    signed: bool
    request_id: int | None = None
    received_at: datetime


@attrs.frozen(kw_only=True)
class DiagnosticsStatusReport:
    """The newest diagnostics upload status a charge point reported (§4.4)."""

    status: DiagnosticsStatus
    received_at: datetime


@attrs.frozen(kw_only=True)
class LogStatusReport:
    """A log upload status a charge point reported (whitepaper §5.13); ``request_id`` is the
    GetLog's, absent only for an Idle sent on a trigger."""

    status: UploadLogStatus
    request_id: int | None = None
    received_at: datetime


# The reports and status records made from a schema-checked notification, built without
# their __init__ (the reports have no check to skip: the same objects).
_firmware_report = trusted_factory(FirmwareStatusReport)
_diagnostics_report = trusted_factory(DiagnosticsStatusReport)
_log_report = trusted_factory(LogStatusReport)
_transfer_status = trusted_factory(TransferStatus)


class FirmwareService:
    """Firmware Management (``central_system.firmware``): UpdateFirmware, GetDiagnostics, and
    the per-charge-point views of the reported firmware, diagnostics and log upload statuses.

    It answers FirmwareStatusNotification, DiagnosticsStatusNotification, LogStatusNotification
    and SignedFirmwareStatusNotification, and records each status whoever answers it.
    """

    def __init__(
        self,
        engine: Engine,
        *,
        configuration: ConfigurationStore | None = None,
        device_state: DeviceStateStore | None = None,
    ) -> None:
        self._engine = engine
        self._configuration = configuration
        self._device_state = device_state
        self._firmware_reports: dict[str, FirmwareStatusReport] = {}
        self._diagnostics_reports: dict[str, DiagnosticsStatusReport] = {}
        self._log_reports: dict[str, OrderedDict[int | None, LogStatusReport]] = {}
        for request_type, response_type in (
            (DiagnosticsStatusNotificationRequest, DiagnosticsStatusNotificationResponse),
            (FirmwareStatusNotificationRequest, FirmwareStatusNotificationResponse),
            (LogStatusNotificationRequest, LogStatusNotificationResponse),
            (SignedFirmwareStatusNotificationRequest, SignedFirmwareStatusNotificationResponse),
        ):
            engine.set_handler(request_type, acknowledge(response_type))
        engine.add_answer_hook(FirmwareStatusNotificationRequest, self._record_firmware_status)
        engine.add_answer_hook(
            SignedFirmwareStatusNotificationRequest, self._record_signed_firmware_status
        )
        engine.add_answer_hook(DiagnosticsStatusNotificationRequest, self._record_diagnostics)
        engine.add_answer_hook(LogStatusNotificationRequest, self._record_log_status)

    # -- operations ---------------------------------------------------------------------------

    async def update_firmware(
        self,
        charge_point_id: str,
        location: str,
        retrieve_date: datetime,
        *,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> UpdateFirmwareResponse:
        """§5.19: have the charge point fetch firmware from ``location`` from ``retrieve_date``.

        Checked before sending (:class:`InvalidRequest`, nothing sent): ``location`` is a URI
        with a host and a scheme the charge point supports: one of its reported
        SupportedFileTransferProtocols (errata 3.90), else of
        :data:`~ocpp16csms.checks.FILE_TRANSFER_SCHEMES`;
        ``retries`` and ``retry_interval`` (seconds) are at least 0; ``retrieve_date`` is
        timezone-aware. Its progress arrives as FirmwareStatusNotification (see
        :meth:`firmware_status`).
        """
        request = build_request(
            UpdateFirmwareRequest,
            location=location,
            retrieve_date=retrieve_date,
            retries=retries,
            retry_interval=retry_interval,
        )
        await check_transfer_location(self._configuration, charge_point_id, location)
        check_retries(retries, retry_interval)
        response = await self._engine.call(charge_point_id, request)
        await remember_request(
            self._device_state,
            TransferRequest(
                charge_point_id=charge_point_id,
                kind=TransferKind.FIRMWARE,
                location=location,
                requested_at=self._engine.clock(),
                retrieve_date=retrieve_date,
                retries=retries,
                retry_interval=retry_interval,
            ),
        )
        return response

    async def get_diagnostics(
        self,
        charge_point_id: str,
        location: str,
        *,
        retries: int | None = None,
        retry_interval: int | None = None,
        start_time: datetime | None = None,
        stop_time: datetime | None = None,
    ) -> GetDiagnosticsResponse:
        """§5.9: have the charge point upload diagnostics to ``location`` (a directory URI).

        Checked as :meth:`update_firmware`, and ``start_time`` is not after ``stop_time``
        (both timezone-aware). The answer names the file that will be uploaded, if any; the
        upload's progress arrives as DiagnosticsStatusNotification: see
        :meth:`diagnostics_status`.
        """
        request = build_request(
            GetDiagnosticsRequest,
            location=location,
            retries=retries,
            retry_interval=retry_interval,
            start_time=start_time,
            stop_time=stop_time,
        )
        await check_transfer_location(self._configuration, charge_point_id, location)
        check_retries(retries, retry_interval)
        check_time_span(start_time, stop_time, ("start_time", "stop_time"))
        response = await self._engine.call(charge_point_id, request)
        await remember_request(
            self._device_state,
            TransferRequest(
                charge_point_id=charge_point_id,
                kind=TransferKind.DIAGNOSTICS,
                location=location,
                requested_at=self._engine.clock(),
                retries=retries,
                retry_interval=retry_interval,
                start_time=start_time,
                stop_time=stop_time,
                file_name=response.file_name,
            ),
        )
        return response

    # -- status views -------------------------------------------------------------------------

    def firmware_status(self, charge_point_id: str) -> FirmwareStatusReport | None:
        """The newest FirmwareStatusNotification or SignedFirmwareStatusNotification of the
        charge point served by this process since it started; None if there was none."""
        return self._firmware_reports.get(charge_point_id)

    def diagnostics_status(self, charge_point_id: str) -> DiagnosticsStatusReport | None:
        """The newest DiagnosticsStatusNotification of the charge point, as
        :meth:`firmware_status`."""
        return self._diagnostics_reports.get(charge_point_id)

    def log_status(
        self, charge_point_id: str, request_id: int | None = None
    ) -> LogStatusReport | None:
        """The newest LogStatusNotification of the charge point (whitepaper §5.13), or with
        ``request_id`` the newest about that GetLog (kept for the charge point's 16 newest
        request ids)."""
        reports = self._log_reports.get(charge_point_id)
        if not reports:
            return None
        if request_id is None:
            return next(reversed(reports.values()))
        return reports.get(request_id)

    # -- answer hooks ---------------------------------------------------------------------------
    # Hooks run for whichever handler answers, in the order the charge point sent the
    # notifications (it has one CALL outstanding at a time), so the last one kept is the newest.

    async def _record_firmware_status(
        self,
        request: FirmwareStatusNotificationRequest,
        response: FirmwareStatusNotificationResponse,
        context: CallContext,
    ) -> None:
        self._firmware_reports[context.charge_point_id] = _firmware_report(
            status=request.status, signed=False, request_id=None, received_at=context.received_at
        )
        if (
            keeping := self._keep(context, TransferKind.FIRMWARE, None, request.status)
        ) is not None:
            await keeping

    async def _record_signed_firmware_status(
        self,
        request: SignedFirmwareStatusNotificationRequest,
        response: SignedFirmwareStatusNotificationResponse,
        context: CallContext,
    ) -> None:
        self._firmware_reports[context.charge_point_id] = _firmware_report(
            status=request.status,
            signed=True,
            request_id=request.request_id,
            received_at=context.received_at,
        )
        if (
            keeping := self._keep(
                context, TransferKind.SIGNED_FIRMWARE, request.request_id, request.status
            )
        ) is not None:
            await keeping

    async def _record_diagnostics(
        self,
        request: DiagnosticsStatusNotificationRequest,
        response: DiagnosticsStatusNotificationResponse,
        context: CallContext,
    ) -> None:
        self._diagnostics_reports[context.charge_point_id] = _diagnostics_report(
            status=request.status, received_at=context.received_at
        )
        if (
            keeping := self._keep(context, TransferKind.DIAGNOSTICS, None, request.status)
        ) is not None:
            await keeping

    async def _record_log_status(
        self,
        request: LogStatusNotificationRequest,
        response: LogStatusNotificationResponse,
        context: CallContext,
    ) -> None:
        reports = self._log_reports.setdefault(context.charge_point_id, OrderedDict())
        reports[request.request_id] = _log_report(
            status=request.status, request_id=request.request_id, received_at=context.received_at
        )
        reports.move_to_end(request.request_id)
        while len(reports) > _LOG_REQUESTS_KEPT:
            reports.popitem(last=False)
        if (
            keeping := self._keep(context, TransferKind.LOG, request.request_id, request.status)
        ) is not None:
            await keeping

    def _keep(
        self,
        context: CallContext,
        kind: TransferKind,
        request_id: int | None,
        status: FirmwareStatus | FirmwareStatusEnumType | DiagnosticsStatus | UploadLogStatus,
    ) -> Awaitable[bool] | None:
        """The store write that keeps the status (None without a device-state store), for
        the caller to await: no coroutine of ours around it."""
        # Kept durably before the charge point is told (an answer hook), so it retries on a
        # store failure and no status is lost.
        if self._device_state is None:
            return None
        received_at = context.received_at
        # The usual clock's UTC value is what TransferStatus's one check (an aware
        # received_at) accepts: then the record is built without running it.
        make = _transfer_status if received_at.tzinfo is UTC else TransferStatus
        return self._device_state.record_status(
            make(
                charge_point_id=context.charge_point_id,
                kind=kind,
                request_id=request_id,
                status=status,
                received_at=received_at,
            )
        )
