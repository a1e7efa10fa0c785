"""The reservation lifecycle (OCPP 1.6 §3.11, §5.1, §5.13) as data and pure functions.

Every move of a reservation is in :data:`~ocpp16csms.rules.RESERVATION_TRANSITIONS` (beside the
other state tables), and a move that is not there raises :class:`ReservationTransitionError`
naming the state and the event. No I/O, no clock, no store: times are passed in. The
reservation service (:mod:`.service`) stores what these functions compute;
``docs/reservations.md`` writes the rules out.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import attrs

from ...enums import ChargePointStatus, ReservationStatus
from ...errors import CsmsError
from ...rules import (
    FINAL_STATES,
    LIVE_STATES,
    RESERVATION_TRANSITIONS,
    ReservationEvent,
    ReservationState,
)

__all__ = [
    "FINAL_STATES",
    "LIVE_STATES",
    "RESERVATION_TRANSITIONS",
    "ReservationEvent",
    "ReservationRecord",
    "ReservationState",
    "ReservationTransitionError",
    "ReservationView",
    "event_for_answer",
    "expire_reservations",
    "is_due_for_expiry",
    "move_reservation",
    "new_reservation",
    "reservation_matches",
    "view_reservation",
]


_S, _E = ReservationState, ReservationEvent

_ANSWER_EVENTS = {
    ReservationStatus.ACCEPTED: _E.ANSWERED_ACCEPTED,
    ReservationStatus.FAULTED: _E.ANSWERED_FAULTED,
    ReservationStatus.OCCUPIED: _E.ANSWERED_OCCUPIED,
    ReservationStatus.REJECTED: _E.ANSWERED_REJECTED,
    ReservationStatus.UNAVAILABLE: _E.ANSWERED_UNAVAILABLE,
}


# Statuses after which the charge point no longer holds a reservation (§5.13: it ends when the
# connector, or for connector 0 the charge point, is set Faulted or Unavailable; a connector
# reported Available is free).
_CONNECTOR_ENDING = frozenset(
    {ChargePointStatus.AVAILABLE, ChargePointStatus.FAULTED, ChargePointStatus.UNAVAILABLE}
)
_CHARGE_POINT_ENDING = frozenset({ChargePointStatus.FAULTED, ChargePointStatus.UNAVAILABLE})


class ReservationTransitionError(CsmsError, ValueError):
    """A reservation was asked to make a move the lifecycle does not allow."""

    def __init__(self, state: ReservationState, event: ReservationEvent) -> None:
        final = " (a final state)" if state in FINAL_STATES else ""
        super().__init__(
            f"a reservation in state '{state.value}'{final} cannot take '{event.value}'"
        )
        self.state = state
        self.event = event


@attrs.frozen(kw_only=True)
class ReservationRecord:
    """A reservation as the central system keeps it (ReserveNow §6.39 plus its lifecycle).

    Identified by ``(charge_point_id, reservation_id)``; ``connector_id`` 0 means any connector.
    ``requested_at`` is when ReserveNow was recorded, ``updated_at`` when ``status`` last
    changed (central system clock); ``transaction_id`` is set once the reservation is used.
    """

    charge_point_id: str
    reservation_id: int
    connector_id: int = attrs.field(validator=attrs.validators.ge(0))
    id_tag: str
    expiry_date: datetime
    status: ReservationState = ReservationState.REQUESTED
    parent_id_tag: str | None = None
    requested_at: datetime
    updated_at: datetime
    transaction_id: int | None = None

    @property
    def live(self) -> bool:
        """True while the reservation may still change (requested or accepted)."""
        return self.status in LIVE_STATES


@attrs.frozen(kw_only=True)
class ReservationView:
    """A live reservation next to what its connector last reported (StatusNotification §4.9).

    ``connector_status`` and ``status_timestamp`` are the newest status of the reserved
    connector (for a connector-0 reservation: of the charge point itself), None when it
    reported none. ``held`` is True when a reserved connector reports Reserved; False when the
    status says the charge point has ended the reservation (§5.13: the connector Available,
    Faulted or Unavailable, or the charge point Faulted or Unavailable) and was reported at or
    after ``updated_at``; None otherwise (nothing known).
    """

    reservation: ReservationRecord
    connector_status: ChargePointStatus | None = None
    status_timestamp: datetime | None = None
    held: bool | None = None


def new_reservation(
    *,
    charge_point_id: str,
    reservation_id: int,
    connector_id: int,
    id_tag: str,
    expiry_date: datetime,
    now: datetime,
    parent_id_tag: str | None = None,
) -> ReservationRecord:
    """A reservation about to be sent, in state Requested."""
    return ReservationRecord(
        charge_point_id=charge_point_id,
        reservation_id=reservation_id,
        connector_id=connector_id,
        id_tag=id_tag,
        parent_id_tag=parent_id_tag,
        expiry_date=expiry_date,
        status=ReservationState.REQUESTED,
        requested_at=now,
        updated_at=now,
    )


def move_reservation(
    record: ReservationRecord,
    event: ReservationEvent,
    now: datetime,
    *,
    transaction_id: int | None = None,
) -> ReservationRecord:
    """``record`` after ``event`` at ``now``; raise :class:`ReservationTransitionError`.

    ``transaction_id`` is kept with :attr:`ReservationEvent.USED` (and only with it).
    """
    try:
        state = RESERVATION_TRANSITIONS[(record.status, event)]
    except KeyError:
        raise ReservationTransitionError(record.status, event) from None
    return attrs.evolve(
        record,
        status=state,
        updated_at=now,
        transaction_id=transaction_id if event is ReservationEvent.USED else record.transaction_id,
    )


def event_for_answer(status: ReservationStatus) -> ReservationEvent:
    """The event a ReserveNow answer (§6.40) is."""
    return _ANSWER_EVENTS[status]


def is_due_for_expiry(record: ReservationRecord, now: datetime) -> bool:
    """Whether ``record`` is live and its expiry date is at or before ``now``."""
    return record.live and record.expiry_date <= now


def expire_reservations(
    records: Iterable[ReservationRecord], now: datetime
) -> list[ReservationRecord]:
    """The records of ``records`` that are due at ``now``, moved to Expired (in input order)."""
    return [
        move_reservation(r, ReservationEvent.EXPIRED, now)
        for r in records
        if is_due_for_expiry(r, now)
    ]


def reservation_matches(
    record: ReservationRecord, id_tag: str, parent_id_tag: str | None = None
) -> bool:
    """Whether a transaction for ``id_tag`` (whose parent is ``parent_id_tag``) may use it.

    §5.13: the id tags are equal, or the reservation has a parent id tag equal to the
    transaction's tag's parent. Id tags compare case-insensitively (CiString20).
    """
    if record.id_tag.casefold() == id_tag.casefold():
        return True
    return (
        record.parent_id_tag is not None
        and parent_id_tag is not None
        and record.parent_id_tag.casefold() == parent_id_tag.casefold()
    )


def view_reservation(
    record: ReservationRecord,
    connector_status: ChargePointStatus | None,
    status_timestamp: datetime | None,
) -> ReservationView:
    """``record`` with the newest status of connector ``record.connector_id`` (None for none).

    See :class:`ReservationView` for what ``held`` says.
    """
    ending = _CHARGE_POINT_ENDING if record.connector_id == 0 else _CONNECTOR_ENDING
    held: bool | None = None
    if connector_status is ChargePointStatus.RESERVED and record.connector_id != 0:
        held = True
    elif (
        connector_status in ending
        and status_timestamp is not None
        and status_timestamp >= record.updated_at
    ):
        held = False
    return ReservationView(
        reservation=record,
        connector_status=connector_status,
        status_timestamp=status_timestamp,
        held=held,
    )
