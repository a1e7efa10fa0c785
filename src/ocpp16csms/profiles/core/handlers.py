"""Default behaviour for every action a charge point sends (OCPP 1.6 §4, whitepaper §5).

Every handler answers only after the store has what it must keep; a store failure propagates
and becomes ``InternalError``, so the charge point retries and nothing is acknowledged that was
not kept. Writes are idempotent, because a charge point retries until it gets an answer.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from ..._logging import get_logger
from ..._trusted import trusted_factory
from ...datatypes import IdTagInfo
from ...engine import CallContext, Engine, UnknownChargePointPolicy
from ...enums import AuthorizationStatus, DataTransferStatus, RegistrationStatus
from ...messages import (
    AuthorizeRequest,
    AuthorizeResponse,
    BootNotificationRequest,
    BootNotificationResponse,
    DataTransferRequest,
    DataTransferResponse,
    HeartbeatRequest,
    HeartbeatResponse,
    MeterValuesRequest,
    MeterValuesResponse,
    StartTransactionRequest,
    StartTransactionResponse,
    StatusNotificationRequest,
    StatusNotificationResponse,
    StopTransactionRequest,
    StopTransactionResponse,
)
from ...stores.records import (
    BootInfo,
    ChargePointRecord,
    ChargePointStore,
    ConnectorStatus,
    IdTagStore,
    TransactionRecord,
    TransactionStart,
    TransactionStop,
    TransactionStore,
    UnmatchedStop,
    UnmatchedStopCause,
)

__all__ = ["CoreHandlers", "DataTransferHandler"]

_HELD_STATUSES = (RegistrationStatus.PENDING, RegistrationStatus.REJECTED)

# The empty answers, made once: frozen, so one instance serves every charge point.
_STOPPED = StopTransactionResponse()
_METER_VALUES_KEPT = MeterValuesResponse()
_STATUS_KEPT = StatusNotificationResponse()

# A stop as the request holds it: its fields are the schema-checked request's, so the
# record is built without running its __init__ (no validator there to skip: the same object).
_stop_of = trusted_factory(TransactionStop)
_heartbeat_answer = trusted_factory(HeartbeatResponse)
# Its transaction data is the request's tuple (or the empty one): what the class's converter
# would make of it; it has no validator.
_unmatched_stop = trusted_factory(UnmatchedStop)

log = get_logger("ocpp16csms.handlers")

# At most one unmatched-stop warning per charge point in this time (the rest at INFO).
_UNMATCHED_WARNING_INTERVAL = timedelta(minutes=1)

DataTransferHandler = Callable[[DataTransferRequest, CallContext], Awaitable[DataTransferResponse]]
"""Answers one vendor's (and optionally one messageId's) DataTransfer requests."""


def _unmatched_cause(
    transaction_id: int,
    record: TransactionRecord | None,
    stop: TransactionStop,
    charge_point_id: str,
) -> UnmatchedStopCause | None:
    """Why a StopTransaction closes no transaction; None when it closes ``record`` (or is an
    exact retry of the stop that closed it)."""
    if record is None:
        # Errata 3.18: -1 is the id a charge point uses when it never received one.
        if transaction_id == -1:
            return UnmatchedStopCause.NO_TRANSACTION_ID
        return UnmatchedStopCause.UNKNOWN_TRANSACTION
    if record.start.charge_point_id != charge_point_id:
        return UnmatchedStopCause.OTHER_CHARGE_POINT
    if record.stop is not None and record.stop != stop:
        return UnmatchedStopCause.ALREADY_STOPPED
    return None


class CoreHandlers:
    """The default Core handlers (§4), and the id tag rules."""

    def __init__(
        self,
        engine: Engine,
        *,
        charge_points: ChargePointStore,
        id_tags: IdTagStore,
        transactions: TransactionStore,
    ) -> None:
        self._engine = engine
        self.charge_points = charge_points
        self.id_tags = id_tags
        self.transactions = transactions
        self._data_transfer: dict[tuple[str, str | None], DataTransferHandler] = {}
        # Per charge point: when its last unmatched-stop warning was logged, and how many
        # unmatched stops were logged at INFO since.
        self._unmatched_warned: dict[str, tuple[datetime, int]] = {}

    def install(self) -> None:
        """Register every default handler on the engine."""
        cs = self._engine
        cs.set_handler(AuthorizeRequest, self.authorize)
        cs.set_handler(BootNotificationRequest, self.boot_notification)
        cs.set_handler(DataTransferRequest, self.data_transfer)
        cs.set_handler(HeartbeatRequest, self.heartbeat)
        cs.set_handler(MeterValuesRequest, self.meter_values)
        cs.set_handler(StartTransactionRequest, self.start_transaction)
        cs.set_handler(StatusNotificationRequest, self.status_notification)
        cs.set_handler(StopTransactionRequest, self.stop_transaction)

    # -- id tags -------------------------------------------------------------------------------

    async def id_tag_info(
        self, id_tag: str, now: datetime, *, check_concurrent: bool = True
    ) -> IdTagInfo:
        """The IdTagInfo the central system gives ``id_tag`` at ``now`` (§4.1, §7.2)."""
        record = await self.id_tags.get(id_tag)
        if record is None:
            return IdTagInfo(status=AuthorizationStatus.INVALID)
        status = record.status
        if status is AuthorizationStatus.ACCEPTED:
            if record.expiry_date is not None and record.expiry_date <= now:
                status = AuthorizationStatus.EXPIRED
            elif (
                check_concurrent
                and self._engine.options.concurrent_tx
                and await self.transactions.active(id_tag=id_tag)
            ):
                status = AuthorizationStatus.CONCURRENT_TX
        return IdTagInfo(
            status=status, expiry_date=record.expiry_date, parent_id_tag=record.parent_id_tag
        )

    # -- handlers --------------------------------------------------------------------------------

    async def authorize(self, request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
        """§4.1: the identifier's status from the id tag store."""
        return AuthorizeResponse(
            id_tag_info=await self.id_tag_info(request.id_tag, ctx.received_at)
        )

    async def boot_notification(
        self, request: BootNotificationRequest, ctx: CallContext
    ) -> BootNotificationResponse:
        """§4.2: known charge points are accepted; unknown ones follow the configured policy.

        A charge point registered as Pending or Rejected (by the policy or an operator) keeps
        that status until the host accepts it (:meth:`CoreService.accept_charge_point`).
        """
        cp = ctx.charge_point_id
        boot = BootInfo(
            charge_point_vendor=request.charge_point_vendor,
            charge_point_model=request.charge_point_model,
            charge_point_serial_number=request.charge_point_serial_number,
            charge_box_serial_number=request.charge_box_serial_number,
            firmware_version=request.firmware_version,
            iccid=request.iccid,
            imsi=request.imsi,
            meter_type=request.meter_type,
            meter_serial_number=request.meter_serial_number,
        )
        record = await self.charge_points.get(cp)
        if record is None:
            policy = self._engine.options.unknown_charge_points
            if policy is UnknownChargePointPolicy.REJECT:
                log.warning("[%s] boot from an unknown charge point rejected", cp)
                return self._boot_answer(RegistrationStatus.REJECTED, ctx.received_at)
            status = (
                RegistrationStatus.ACCEPTED
                if policy is UnknownChargePointPolicy.ACCEPT
                else RegistrationStatus.PENDING
            )
            await self.charge_points.save(
                ChargePointRecord(charge_point_id=cp, registration_status=status)
            )
        elif record.registration_status in (
            RegistrationStatus.PENDING,
            RegistrationStatus.REJECTED,
        ):
            status = record.registration_status
        else:
            status = RegistrationStatus.ACCEPTED
        await self.charge_points.record_boot(cp, boot, status, ctx.received_at)
        return self._boot_answer(status, ctx.received_at)

    def _boot_answer(self, status: RegistrationStatus, now: datetime) -> BootNotificationResponse:
        options = self._engine.options
        interval = (
            options.heartbeat_interval
            if status is RegistrationStatus.ACCEPTED
            else options.retry_boot_interval
        )
        return BootNotificationResponse(current_time=now, interval=interval, status=status)

    async def heartbeat(self, request: HeartbeatRequest, ctx: CallContext) -> HeartbeatResponse:
        """§4.6: the current time. Last-seen is the central system's to keep, for every
        message a charge point sends (``last_seen_resolution``): a store write here too
        would be a second one for the same heartbeat."""
        now = ctx.received_at
        if now.tzinfo is UTC:  # the usual clock's: what the answer's one check accepts
            return _heartbeat_answer(now)
        return HeartbeatResponse(current_time=now)

    async def start_transaction(
        self, request: StartTransactionRequest, ctx: CallContext
    ) -> StartTransactionResponse:
        """§4.8: record the transaction (even with a refused tag) and give it a unique id.

        A retried StartTransaction (same charge point, connector, tag, meter start and
        timestamp) gets the same id and the status first given, and creates nothing.
        """
        info = await self.id_tag_info(request.id_tag, ctx.received_at)
        record, created = await self.transactions.start(
            TransactionStart(
                charge_point_id=ctx.charge_point_id,
                connector_id=request.connector_id,
                id_tag=request.id_tag,
                meter_start=request.meter_start,
                timestamp=request.timestamp,
                reservation_id=request.reservation_id,
                id_tag_status=info.status,
            )
        )
        if not created:
            log.info(
                "[%s] message %s: repeated StartTransaction, transaction %d",
                ctx.charge_point_id,
                ctx.message_id,
                record.transaction_id,
            )
            info = IdTagInfo(
                status=record.start.id_tag_status,
                expiry_date=info.expiry_date,
                parent_id_tag=info.parent_id_tag,
            )
        return StartTransactionResponse(id_tag_info=info, transaction_id=record.transaction_id)

    async def stop_transaction(
        self, request: StopTransactionRequest, ctx: CallContext
    ) -> StopTransactionResponse:
        """§4.10: close the transaction and keep its meter values.

        Every StopTransaction is answered as if its transaction were known (errata 3.18), and
        none of its data is dropped: one that closes no transaction (transactionId -1, an
        unknown id, another charge point's transaction, or one already stopped with other
        data) is kept whole as an :class:`~ocpp16csms.stores.UnmatchedStop` for the host to
        reconcile. A transaction marked ended-unconfirmed is completed by its late stop.
        """
        transactions = self.transactions
        stop = _stop_of(
            meter_stop=request.meter_stop,
            timestamp=request.timestamp,
            reason=request.reason,
            id_tag=request.id_tag,
        )
        record = await transactions.get(request.transaction_id)
        cause = _unmatched_cause(request.transaction_id, record, stop, ctx.charge_point_id)
        if record is not None and cause is None:
            if request.transaction_data:
                await transactions.add_meter_values(
                    ctx.charge_point_id,
                    record.start.connector_id,
                    request.transaction_id,
                    request.transaction_data,
                )
            if record.stop is None:
                await transactions.stop(request.transaction_id, stop)
        else:
            kept = await transactions.add_unmatched_stop(
                _unmatched_stop(
                    charge_point_id=ctx.charge_point_id,
                    transaction_id=request.transaction_id,
                    stop=stop,
                    cause=cause or UnmatchedStopCause.UNKNOWN_TRANSACTION,
                    received_at=ctx.received_at,
                    transaction_data=tuple(request.transaction_data or ()),
                )
            )
            self._log_unmatched(ctx, request.transaction_id, cause, kept)
        if request.id_tag is None:
            return _STOPPED
        info = await self.id_tag_info(request.id_tag, ctx.received_at, check_concurrent=False)
        return StopTransactionResponse(id_tag_info=info)

    def _log_unmatched(
        self, ctx: CallContext, transaction_id: int, cause: object, kept: bool
    ) -> None:
        """A warning for the first unmatched stop of a charge point in a minute, INFO for the
        rest (counted in the next warning): a charge point emptying a queue of thousands,
        or one sending them on purpose, does not flood the log. Each is kept in the store."""
        cp, at = ctx.charge_point_id, ctx.received_at
        last = self._unmatched_warned.get(cp)
        level, more = logging.INFO, 0
        if last is None or not timedelta(0) <= at - last[0] < _UNMATCHED_WARNING_INTERVAL:
            level, more = logging.WARNING, (last[1] if last is not None else 0)
            self._unmatched_warned[cp] = (at, 0)
        else:
            self._unmatched_warned[cp] = (last[0], last[1] + 1)
        if log.isEnabledFor(level):
            log.log(
                level,
                "[%s] message %s: StopTransaction for transaction %d closes none (%s); %s%s",
                cp,
                ctx.message_id,
                transaction_id,
                cause,
                "kept as an unmatched stop" if kept else "a retry, already kept",
                f" ({more} more since the last warning, logged at INFO)" if more else "",
                extra={"charge_point_id": cp, "message_id": ctx.message_id},
            )

    async def meter_values(
        self, request: MeterValuesRequest, ctx: CallContext
    ) -> MeterValuesResponse:
        """§4.7: store the values against charge point, connector and transaction, once."""
        await self.transactions.add_meter_values(
            ctx.charge_point_id, request.connector_id, request.transaction_id, request.meter_value
        )
        return _METER_VALUES_KEPT

    async def status_notification(
        self, request: StatusNotificationRequest, ctx: CallContext
    ) -> StatusNotificationResponse:
        """§4.9: keep the newest status per connector (0 = the charge point)."""
        kept = await self.charge_points.set_connector_status(
            ctx.charge_point_id,
            ConnectorStatus(
                connector_id=request.connector_id,
                status=request.status,
                error_code=request.error_code,
                timestamp=request.timestamp or ctx.received_at,
                info=request.info,
                vendor_id=request.vendor_id,
                vendor_error_code=request.vendor_error_code,
            ),
        )
        if not kept:
            log.info(
                "[%s] message %s: older status for connector %d ignored",
                ctx.charge_point_id,
                ctx.message_id,
                request.connector_id,
            )
        return _STATUS_KEPT

    # -- DataTransfer ------------------------------------------------------------------------------

    def register_data_transfer(
        self, vendor_id: str, message_id: str | None, handler: DataTransferHandler
    ) -> None:
        """Route DataTransfer for ``vendor_id`` (and ``message_id``, or any when None)."""
        self._data_transfer[(vendor_id, message_id)] = handler

    async def data_transfer(
        self, request: DataTransferRequest, ctx: CallContext
    ) -> DataTransferResponse:
        """§4.3: routed by vendorId, then messageId; unknown ones get their own status."""
        vendor = request.vendor_id
        handler = self._data_transfer.get((vendor, request.message_id)) or self._data_transfer.get(
            (vendor, None)
        )
        if handler is not None:
            return await handler(request, ctx)
        if any(v == vendor for v, _ in self._data_transfer):
            return DataTransferResponse(status=DataTransferStatus.UNKNOWN_MESSAGE_ID)
        return DataTransferResponse(status=DataTransferStatus.UNKNOWN_VENDOR_ID)
