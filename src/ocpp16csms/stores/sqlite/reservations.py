"""SQLite store of reservations."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime

from ...profiles.reservation.lifecycle import ReservationRecord, ReservationState
from ._database import (
    _LIVE_STATES_SQL,
    _enum_text,
    _member,
    _micros,
    _SqliteStore,
    _text,
    _when,
)

__all__ = ["SqliteReservationStore"]


def _reservation(row: sqlite3.Row) -> ReservationRecord:
    return ReservationRecord(
        charge_point_id=row["charge_point_id"],
        reservation_id=row["reservation_id"],
        connector_id=row["connector_id"],
        id_tag=row["id_tag"],
        parent_id_tag=row["parent_id_tag"],
        expiry_date=_when(row["expiry_date"]),
        status=_member(ReservationState, row["status"]),
        requested_at=_when(row["requested_at"]),
        updated_at=_when(row["updated_at"]),
        transaction_id=row["transaction_id"],
    )


def _reservation_values(record: ReservationRecord) -> tuple[object, ...]:
    return (
        record.charge_point_id,
        record.reservation_id,
        record.connector_id,
        record.id_tag,
        record.parent_id_tag,
        _text(record.expiry_date),
        _micros(record.expiry_date),
        _enum_text(record.status),
        _text(record.requested_at),
        _micros(record.requested_at),
        _text(record.updated_at),
        _micros(record.updated_at),
        record.transaction_id,
    )


_SAVE_RESERVATION = (
    "INSERT OR REPLACE INTO reservations (charge_point_id, reservation_id, connector_id, id_tag,"
    " parent_id_tag, expiry_date, expiry_date_us, status, requested_at, requested_at_us,"
    " updated_at, updated_at_us, transaction_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SqliteReservationStore(_SqliteStore):
    """:class:`~ocpp16csms.stores.ReservationStore` in SQLite (made by :func:`sqlite_stores`).

    :meth:`save_if_unchanged` reads, compares and writes in one ``BEGIN IMMEDIATE``
    transaction, so it is a compare-and-set also against other connections to the same file.
    """

    async def get(self, charge_point_id: str, reservation_id: int) -> ReservationRecord | None:
        def work(db: sqlite3.Connection) -> ReservationRecord | None:
            row = db.execute(
                "SELECT * FROM reservations WHERE charge_point_id = ? AND reservation_id = ?",
                (charge_point_id, reservation_id),
            ).fetchone()
            return None if row is None else _reservation(row)

        return await self._db.read(work)

    async def save(self, record: ReservationRecord) -> None:
        values = _reservation_values(record)

        def work(db: sqlite3.Connection) -> None:
            db.execute(_SAVE_RESERVATION, values)

        await self._db.write(work)

    async def save_if_unchanged(
        self, expected: ReservationRecord, record: ReservationRecord
    ) -> bool:
        key = (record.charge_point_id, record.reservation_id)
        if (expected.charge_point_id, expected.reservation_id) != key:
            raise ValueError(
                "save_if_unchanged replaces a reservation by one with the same charge point and id"
            )
        values = _reservation_values(record)

        def work(db: sqlite3.Connection) -> bool:
            row = db.execute(
                "SELECT * FROM reservations WHERE charge_point_id = ? AND reservation_id = ?",
                key,
            ).fetchone()
            # Compared as records (datetimes as instants), exactly as the in-memory store does.
            if row is None or _reservation(row) != expected:
                return False
            db.execute(_SAVE_RESERVATION, values)
            return True

        return await self._db.write(work)

    async def find(
        self,
        *,
        charge_point_id: str | None = None,
        states: Iterable[ReservationState] | None = None,
    ) -> Sequence[ReservationRecord]:
        where: list[str] = []
        params: list[object] = []
        if charge_point_id is not None:
            where.append("charge_point_id = ?")
            params.append(charge_point_id)
        if states is not None:
            wanted = sorted({_enum_text(state) for state in states})
            if not wanted:
                return []
            where.append(f"status IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        query = "SELECT * FROM reservations"
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY charge_point_id, reservation_id"

        def work(db: sqlite3.Connection) -> list[ReservationRecord]:
            return [_reservation(row) for row in db.execute(query, params)]

        return await self._db.read(work)

    async def due_for_expiry(self, now: datetime) -> Sequence[ReservationRecord]:
        micros = _micros(now)

        def work(db: sqlite3.Connection) -> list[ReservationRecord]:
            rows = db.execute(
                f"SELECT * FROM reservations WHERE {_LIVE_STATES_SQL} AND expiry_date_us <= ?"
                " ORDER BY charge_point_id, reservation_id",
                (micros,),
            )
            return [_reservation(row) for row in rows]

        return await self._db.read(work)


# --- charging profiles ----------------------------------------------------------------------
