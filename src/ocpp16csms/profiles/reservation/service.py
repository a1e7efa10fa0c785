"""Reservation operations (OCPP 1.6 §5.1, §5.13).

ReserveNow and CancelReservation, the expiry job, and the answer hook that marks a reservation
used by a StartTransaction. The lifecycle rules are in :mod:`.lifecycle`; this
module applies them to the reservation store. ``docs/reservations.md`` has the whole story.
"""

from __future__ import annotations

from datetime import datetime

from ..._logging import get_logger
from ...checks import build_request, check_connector
from ...engine import CallContext, Engine
from ...enums import CancelReservationStatus
from ...errors import (
    CallErrorReceived,
    ChargePointNotAccepted,
    ChargePointNotConnected,
    InvalidRequest,
    QueueFull,
)
from ...messages import (
    CancelReservationRequest,
    CancelReservationResponse,
    ReserveNowRequest,
    ReserveNowResponse,
    StartTransactionRequest,
    StartTransactionResponse,
)
from ...stores.records import ChargePointStore, ConfigurationStore, IdTagStore, StoreError
from .lifecycle import (
    LIVE_STATES,
    ReservationEvent,
    ReservationRecord,
    ReservationState,
    ReservationView,
    event_for_answer,
    is_due_for_expiry,
    move_reservation,
    new_reservation,
    reservation_matches,
    view_reservation,
)
from .store import ReservationStore

__all__ = ["ReservationService"]

log = get_logger("ocpp16csms.reservation")

# Errors after which the charge point certainly did not take the ReserveNow: it was never sent,
# or the charge point answered with a CALLERROR. A timeout or a lost connection leaves the
# outcome unknown, so those are not here.
_NOT_TAKEN = (
    CallErrorReceived,
    ChargePointNotAccepted,
    ChargePointNotConnected,
    InvalidRequest,
    QueueFull,
)

_ZERO_KEY = "ReserveConnectorZeroSupported"


class ReservationService:
    """Reservation (``central_system.reservation``): ReserveNow, CancelReservation, the expiry
    job, and a StartTransaction marking its reservation used."""

    def __init__(
        self,
        engine: Engine,
        *,
        reservations: ReservationStore | None,
        charge_points: ChargePointStore,
        id_tags: IdTagStore,
        configuration: ConfigurationStore,
        expiry_interval: float | None = None,
    ) -> None:
        self._engine = engine
        self._reservations = reservations
        self._charge_points = charge_points
        self._id_tags = id_tags
        self._configuration = configuration
        if reservations is None:
            return
        engine.add_answer_hook(StartTransactionRequest, self._use_reservation)
        interval = engine.options.reservation_expiry_interval
        engine.add_periodic(
            interval if expiry_interval is None else expiry_interval, self._expiry_job
        )

    def _reservation_store(self) -> ReservationStore:
        if self._reservations is None:
            raise StoreError("this central system was built without a reservations store")
        return self._reservations

    # -- ReserveNow ---------------------------------------------------------------------------

    async def reserve_now(
        self,
        charge_point_id: str,
        *,
        reservation_id: int,
        connector_id: int,
        id_tag: str,
        expiry_date: datetime,
        parent_id_tag: str | None = None,
    ) -> ReserveNowResponse:
        """§5.13: reserve a connector (0: any connector) for ``id_tag`` until ``expiry_date``.

        Checked before sending (:class:`InvalidRequest`, nothing sent, nothing stored): the
        fields' constraints, an expiry date after now, a connector the charge point reported,
        and connector 0 only where ReserveConnectorZeroSupported is not known to be false.
        The reservation is stored as Requested before it is sent, and moves with the answer.
        The id of an earlier reservation replaces that one (§5.13). If the call fails without
        reaching the charge point or with a CALLERROR, the store is put back as it was (an id
        never used before is kept as Failed); after a timeout or a lost connection the
        reservation stays Requested, as the charge point may hold it. Raises what
        :meth:`call` raises, and :class:`~ocpp16csms.stores.StoreError`.
        """
        store = self._reservation_store()
        request = build_request(
            ReserveNowRequest,
            connector_id=connector_id,
            expiry_date=expiry_date,
            id_tag=id_tag,
            reservation_id=reservation_id,
            parent_id_tag=parent_id_tag,
        )
        now = self._engine.clock()
        if expiry_date <= now:
            raise InvalidRequest(
                f"expiry date {expiry_date.isoformat()} is not after now ({now.isoformat()})"
            )
        await check_connector(self._configuration, charge_point_id, connector_id, allow_zero=True)
        if connector_id == 0:
            await self._check_connector_zero(charge_point_id)
        previous = await store.get(charge_point_id, reservation_id)
        record = new_reservation(
            charge_point_id=charge_point_id,
            reservation_id=reservation_id,
            connector_id=connector_id,
            id_tag=id_tag,
            parent_id_tag=parent_id_tag,
            expiry_date=expiry_date,
            now=now,
        )
        await store.save(record)
        if previous is not None and previous.live:
            log.info(
                "[%s] reservation %d (%s) is replaced by a new ReserveNow",
                charge_point_id,
                reservation_id,
                previous.status.value,
                extra={"charge_point_id": charge_point_id},
            )
        try:
            response = await self._engine.call(charge_point_id, request)
        except _NOT_TAKEN:
            await self._undo_reserve(store, record, previous)
            raise
        await self._apply(store, record, event_for_answer(response.status))
        return response

    async def _check_connector_zero(self, charge_point_id: str) -> None:
        entry = (await self._configuration.get(charge_point_id)).get(_ZERO_KEY)
        # Unknown to the store: the charge point decides (it answers Rejected if it cannot).
        if entry is None or entry.value is None:
            return
        if entry.value.strip().lower() != "true":
            raise InvalidRequest(
                f"{charge_point_id!r} does not support reservations of connector 0 "
                f"({_ZERO_KEY} is {entry.value!r})"
            )

    async def _undo_reserve(
        self,
        store: ReservationStore,
        record: ReservationRecord,
        previous: ReservationRecord | None,
    ) -> None:
        try:
            if previous is not None:
                await store.save_if_unchanged(record, previous)
            else:
                await self._apply(store, record, ReservationEvent.SEND_FAILED)
        except Exception:
            # The call's own error is what the caller must see; this one is only logged.
            log.exception(
                "[%s] reservation %d: could not record the failed ReserveNow",
                record.charge_point_id,
                record.reservation_id,
                extra={"charge_point_id": record.charge_point_id},
            )

    async def _apply(
        self,
        store: ReservationStore,
        record: ReservationRecord,
        event: ReservationEvent,
        *,
        now: datetime | None = None,
        transaction_id: int | None = None,
    ) -> ReservationRecord | None:
        """Move ``record`` by ``event`` in the store unless it changed meanwhile."""
        moved = move_reservation(
            record,
            event,
            now if now is not None else self._engine.clock(),
            transaction_id=transaction_id,
        )
        if await store.save_if_unchanged(record, moved):
            return moved
        log.info(
            "[%s] reservation %d changed meanwhile; '%s' not applied",
            record.charge_point_id,
            record.reservation_id,
            event.value,
            extra={"charge_point_id": record.charge_point_id},
        )
        return None

    # -- CancelReservation ----------------------------------------------------------------------

    async def cancel_reservation(
        self, charge_point_id: str, reservation_id: int
    ) -> CancelReservationResponse:
        """§5.1: cancel a reservation; Accepted moves it to Cancelled.

        A reservation the store has in a final state raises :class:`InvalidRequest` (nothing
        sent); an id the store does not know is sent anyway. Rejected (the charge point has no
        such reservation) leaves the record as it is, logged as a warning: it ends at its
        expiry date. Raises what :meth:`call` raises, and
        :class:`~ocpp16csms.stores.StoreError`.
        """
        store = self._reservation_store()
        request = build_request(CancelReservationRequest, reservation_id=reservation_id)
        record = await store.get(charge_point_id, reservation_id)
        if record is not None and not record.live:
            raise InvalidRequest(
                f"reservation {reservation_id} on {charge_point_id!r} is already "
                f"{record.status.value}; there is nothing to cancel"
            )
        response = await self._engine.call(charge_point_id, request)
        extra = {"charge_point_id": charge_point_id}
        current = await store.get(charge_point_id, reservation_id)
        if response.status is not CancelReservationStatus.ACCEPTED:
            log.warning(
                "[%s] CancelReservation %d rejected: the charge point holds no such reservation;"
                " the record stays %s",
                charge_point_id,
                reservation_id,
                current.status.value if current else "unknown",
                extra=extra,
            )
        elif current is None:
            log.info(
                "[%s] reservation %d cancelled; the store did not know it",
                charge_point_id,
                reservation_id,
                extra=extra,
            )
        elif current.live:
            await self._apply(store, current, ReservationEvent.CANCELLED)
        else:
            log.info(
                "[%s] reservation %d cancelled, but it was already %s",
                charge_point_id,
                reservation_id,
                current.status.value,
                extra=extra,
            )
        return response

    # -- expiry ---------------------------------------------------------------------------------

    async def expire_reservations(self, now: datetime | None = None) -> list[ReservationRecord]:
        """Mark every reservation due at ``now`` (default: the clock) Expired; return them.

        Also run every ``CentralSystemOptions.reservation_expiry_interval`` seconds while the
        central system runs (``async with central_system:``).
        """
        store = self._reservation_store()
        now = now if now is not None else self._engine.clock()
        expired: list[ReservationRecord] = []
        for record in await store.due_for_expiry(now):
            if not is_due_for_expiry(record, now):
                continue
            moved = await self._apply(store, record, ReservationEvent.EXPIRED, now=now)
            if moved is not None:
                expired.append(moved)
                log.info(
                    "[%s] reservation %d expired",
                    record.charge_point_id,
                    record.reservation_id,
                    extra={"charge_point_id": record.charge_point_id},
                )
        return expired

    async def _expiry_job(self) -> None:
        await self.expire_reservations()

    # -- queries --------------------------------------------------------------------------------

    async def reservation_view(self, charge_point_id: str) -> list[ReservationView]:
        """The live reservations of a charge point, each with the newest StatusNotification of
        its connector (0: of the charge point); see :class:`ReservationView`."""
        records = await self._reservation_store().find(
            charge_point_id=charge_point_id, states=LIVE_STATES
        )
        statuses = await self._charge_points.connector_statuses(charge_point_id)
        views = []
        for record in records:
            status = statuses.get(record.connector_id)
            views.append(
                view_reservation(
                    record,
                    status.status if status is not None else None,
                    status.timestamp if status is not None else None,
                )
            )
        return views

    # -- StartTransaction -----------------------------------------------------------------------

    async def _use_reservation(
        self,
        request: StartTransactionRequest,
        response: StartTransactionResponse,
        context: CallContext,
    ) -> None:
        """Answer hook: a StartTransaction with a reservationId uses that reservation (§5.13).

        Only a live, unexpired reservation for the transaction's connector (or for connector 0)
        whose id tag (or parent id tag) matches is used. Anything else is logged as a warning
        and changes nothing, except that an overdue reservation is expired. The
        StartTransaction handler records the transaction either way. A store failure
        propagates, so the charge point is answered InternalError and retries.
        """
        if request.reservation_id is None:
            return
        store = self._reservation_store()
        cp, transaction_id = context.charge_point_id, response.transaction_id
        record = await store.get(cp, request.reservation_id)
        problem: str | None = None
        if record is None:
            problem = "is unknown"
        elif record.status is ReservationState.USED:
            if record.transaction_id == transaction_id:
                return  # a retried StartTransaction
            problem = f"was already used by transaction {record.transaction_id}"
        elif not record.live:
            problem = f"is {record.status.value}"
        elif record.expiry_date <= context.received_at:
            problem = f"expired at {record.expiry_date.isoformat()}"
            await self._apply(store, record, ReservationEvent.EXPIRED, now=context.received_at)
        elif record.connector_id not in (0, request.connector_id):
            problem = f"is for connector {record.connector_id}, not {request.connector_id}"
        else:
            tag = await self._id_tags.get(request.id_tag)
            parent = tag.parent_id_tag if tag is not None else None
            if not reservation_matches(record, request.id_tag, parent):
                problem = (
                    f"is for id tag {record.id_tag!r} (parent {record.parent_id_tag!r}), "
                    f"not {request.id_tag!r} (parent {parent!r})"
                )
        if problem is not None or record is None:
            log.warning(
                "[%s] message %s: transaction %d names reservation %d, which %s; "
                "the reservation is not used",
                cp,
                context.message_id,
                transaction_id,
                request.reservation_id,
                problem,
                extra={"charge_point_id": cp, "message_id": context.message_id},
            )
            return
        await self._apply(
            store,
            record,
            ReservationEvent.USED,
            now=context.received_at,
            transaction_id=transaction_id,
        )
