"""Reservation store (OCPP 1.6 §5.13, §5.1): reservations and their lifecycle.

The record and its states are defined with the lifecycle rules in :mod:`.lifecycle` (pure,
no stores) and re-exported here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

from .lifecycle import LIVE_STATES, ReservationRecord, ReservationState

__all__ = [
    "MemoryReservationStore",
    "ReservationRecord",
    "ReservationState",
    "ReservationStore",
]


@runtime_checkable
class ReservationStore(Protocol):
    """Reservations by charge point and reservation id.

    One record per ``(charge_point_id, reservation_id)``: a new reservation with the id of an
    earlier one replaces it (§5.13). Every method may raise
    :class:`~ocpp16csms.stores.StoreError` when the backing store fails.
    """

    async def get(self, charge_point_id: str, reservation_id: int) -> ReservationRecord | None:
        """The reservation, or None when the charge point has none with that id."""
        ...

    async def save(self, record: ReservationRecord) -> None:
        """Create the reservation, or replace the one with the same charge point and id."""
        ...

    async def save_if_unchanged(
        self, expected: ReservationRecord, record: ReservationRecord
    ) -> bool:
        """Replace ``expected`` by ``record`` only if the stored record still equals ``expected``.

        Return whether it was replaced. This is how lifecycle moves are written, so that two
        processes moving the same reservation (expiry and a StartTransaction) cannot both win.
        Raise :class:`ValueError` when the two records differ in charge point or id.
        """
        ...

    async def find(
        self,
        *,
        charge_point_id: str | None = None,
        states: Iterable[ReservationState] | None = None,
    ) -> Sequence[ReservationRecord]:
        """Reservations filtered by charge point and state (None: any), ordered by charge point
        id, then reservation id."""
        ...

    async def due_for_expiry(self, now: datetime) -> Sequence[ReservationRecord]:
        """Requested or accepted reservations whose expiry date is at or before ``now``."""
        ...


def _check_same_key(expected: ReservationRecord, record: ReservationRecord) -> None:
    if (expected.charge_point_id, expected.reservation_id) != (
        record.charge_point_id,
        record.reservation_id,
    ):
        raise ValueError(
            "save_if_unchanged replaces a reservation by one with the same charge point and id"
        )


class MemoryReservationStore:
    """:class:`ReservationStore` in memory."""

    def __init__(self, records: Iterable[ReservationRecord] = ()) -> None:
        self._records = {(r.charge_point_id, r.reservation_id): r for r in records}

    async def get(self, charge_point_id: str, reservation_id: int) -> ReservationRecord | None:
        return self._records.get((charge_point_id, reservation_id))

    async def save(self, record: ReservationRecord) -> None:
        self._records[(record.charge_point_id, record.reservation_id)] = record

    async def save_if_unchanged(
        self, expected: ReservationRecord, record: ReservationRecord
    ) -> bool:
        _check_same_key(expected, record)
        key = (record.charge_point_id, record.reservation_id)
        if self._records.get(key) != expected:
            return False
        self._records[key] = record
        return True

    async def find(
        self,
        *,
        charge_point_id: str | None = None,
        states: Iterable[ReservationState] | None = None,
    ) -> Sequence[ReservationRecord]:
        wanted = frozenset(states) if states is not None else None
        return [
            record
            for key, record in sorted(self._records.items())
            if (charge_point_id is None or key[0] == charge_point_id)
            and (wanted is None or record.status in wanted)
        ]

    async def due_for_expiry(self, now: datetime) -> Sequence[ReservationRecord]:
        return [
            record
            for _, record in sorted(self._records.items())
            if record.status in LIVE_STATES and record.expiry_date <= now
        ]
