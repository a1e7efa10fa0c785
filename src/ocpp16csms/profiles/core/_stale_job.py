"""The job that applies :mod:`.stale` to the stores: suspicions from boots and Available
statuses, and, every ``stale_transaction_interval`` seconds, the marking of what is due."""

from __future__ import annotations

from datetime import datetime, timedelta

from ..._logging import get_logger
from ...engine import CallContext, Engine
from ...enums import ChargePointStatus
from ...messages import (
    BootNotificationRequest,
    BootNotificationResponse,
    MeterValuesRequest,
    MeterValuesResponse,
    StatusNotificationRequest,
    StatusNotificationResponse,
)
from ...stores.records import (
    ChargePointStore,
    TransactionRecord,
    TransactionStore,
    UnconfirmedEndCause,
)
from .stale import (
    StaleSuspicion,
    clear_transaction,
    is_due,
    stale_transactions,
    suspect_transactions,
    unconfirmed_end,
)

__all__ = ["StaleTransactionJob"]

log = get_logger("ocpp16csms.transactions")

# Suspicions waiting, per charge point: one that reboots in a loop cannot grow the list
# without bound (the oldest is dropped; the newer ones name the same open transactions).
_PENDING_PER_CHARGE_POINT = 16


class StaleTransactionJob:
    """Watches boots and Available statuses, and marks stale transactions ended-unconfirmed.

    Suspicions live in this process's memory: after a restart, the next boot or Available
    status raises them again.
    """

    def __init__(
        self, engine: Engine, *, charge_points: ChargePointStore, transactions: TransactionStore
    ) -> None:
        self._engine = engine
        self._charge_points = charge_points
        self._transactions = transactions
        self._pending: dict[str, list[StaleSuspicion]] = {}
        options = engine.options
        if options.stale_transaction_grace is None:
            return
        engine.after(BootNotificationRequest)(self._after_boot)
        engine.after(StatusNotificationRequest)(self._after_status)
        engine.after(MeterValuesRequest)(self._after_meter_values)
        engine.add_periodic(options.stale_transaction_interval, self._job)

    @property
    def pending(self) -> tuple[StaleSuspicion, ...]:
        """The suspicions waiting for their grace period, oldest first per charge point."""
        return tuple(s for waiting in self._pending.values() for s in waiting)

    async def _after_boot(
        self,
        request: BootNotificationRequest,
        response: BootNotificationResponse,
        ctx: CallContext,
    ) -> None:
        # Whatever the answer: a BootNotification means the charge point started again.
        cp = ctx.charge_point_id
        open_now = await self._transactions.active(charge_point_id=cp)
        self._watch(
            suspect_transactions(cp, UnconfirmedEndCause.BOOT, ctx.received_at, open_now), ctx
        )

    async def _after_status(
        self,
        request: StatusNotificationRequest,
        response: StatusNotificationResponse,
        ctx: CallContext,
    ) -> None:
        connector = request.connector_id
        if connector == 0 or request.status is not ChargePointStatus.AVAILABLE:
            return
        cp = ctx.charge_point_id
        open_now = await self._transactions.active(charge_point_id=cp)
        suspicion = suspect_transactions(
            cp,
            UnconfirmedEndCause.CONNECTOR_AVAILABLE,
            ctx.received_at,
            open_now,
            connector_id=connector,
        )
        if suspicion is None:
            return  # no transaction open on it (the usual Available): nothing to read
        stored = (await self._charge_points.connector_statuses(cp)).get(connector)
        reported_at = request.timestamp or ctx.received_at
        if stored is not None and stored.timestamp > reported_at:
            return  # an older status that arrived late: the connector has moved on since
        self._watch(suspicion, ctx)

    def _after_meter_values(
        self, request: MeterValuesRequest, response: MeterValuesResponse, ctx: CallContext
    ) -> None:
        # Values of a suspected transaction after the sign: it still runs (some charge points
        # send a BootNotification on every reconnection and go on charging).
        transaction_id = request.transaction_id
        waiting = self._pending.get(ctx.charge_point_id)
        if transaction_id is None or not waiting:
            return
        kept = [
            cleared
            for suspicion in waiting
            if (cleared := clear_transaction(suspicion, transaction_id)) is not None
        ]
        if kept != waiting:
            log.info(
                "[%s] message %s: transaction %d still runs; no longer suspected",
                ctx.charge_point_id,
                ctx.message_id,
                transaction_id,
                extra={"charge_point_id": ctx.charge_point_id, "message_id": ctx.message_id},
            )
        if kept:
            self._pending[ctx.charge_point_id] = kept
        else:
            del self._pending[ctx.charge_point_id]

    def _watch(self, suspicion: StaleSuspicion | None, ctx: CallContext) -> None:
        if suspicion is None:
            return
        waiting = self._pending.setdefault(suspicion.charge_point_id, [])
        waiting.append(suspicion)
        if len(waiting) > _PENDING_PER_CHARGE_POINT:
            del waiting[0]
        log.info(
            "[%s] message %s: transactions %s may have ended (%s); marked ended-unconfirmed "
            "unless stopped within the grace period",
            ctx.charge_point_id,
            ctx.message_id,
            sorted(suspicion.transaction_ids),
            suspicion.cause,
            extra={"charge_point_id": ctx.charge_point_id, "message_id": ctx.message_id},
        )

    async def check(self, now: datetime | None = None) -> list[TransactionRecord]:
        """Mark the transactions due at ``now`` (default: the clock) ended-unconfirmed and
        return them as stored. A store failure leaves the suspicion waiting for the next run."""
        grace_seconds = self._engine.options.stale_transaction_grace
        if grace_seconds is None:
            return []
        grace = timedelta(seconds=grace_seconds)
        now = now if now is not None else self._engine.clock()
        marked: list[TransactionRecord] = []
        for cp, waiting in list(self._pending.items()):
            for suspicion in [s for s in waiting if is_due(s, now, grace)]:
                marked.extend(await self._mark(suspicion, now, grace))
                waiting.remove(suspicion)
            if not waiting:
                self._pending.pop(cp, None)
        return marked

    async def _mark(
        self, suspicion: StaleSuspicion, now: datetime, grace: timedelta
    ) -> list[TransactionRecord]:
        store = self._transactions
        cp = suspicion.charge_point_id
        current = [
            record
            for transaction_id in sorted(suspicion.transaction_ids)
            if (record := await store.get(transaction_id)) is not None
        ]
        marked = []
        for record in stale_transactions(suspicion, current, now, grace):
            values = await store.meter_values(cp, transaction_id=record.transaction_id)
            end = unconfirmed_end(
                record,
                [v.meter_value for v in values],
                cause=suspicion.cause,
                detected_at=now,
            )
            stored = await store.end_unconfirmed(record.transaction_id, end)
            if stored is None or stored.unconfirmed_end != end:
                continue  # stopped (or marked) in the meantime
            log.warning(
                "[%s] transaction %d ended-unconfirmed after %s: no StopTransaction within "
                "%s; last reading %d Wh at %s",
                cp,
                record.transaction_id,
                suspicion.cause,
                grace,
                end.meter_stop,
                end.timestamp.isoformat(),
                extra={"charge_point_id": cp},
            )
            marked.append(stored)
        return marked

    async def _job(self) -> None:
        await self.check()
