""":class:`~ocpp16csms.stores.ReservationStore` in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ...profiles.reservation.lifecycle import ReservationRecord, ReservationState
from ._database import Cursor, PostgresStore
from ._schema import LIVE_STATES_SQL
from ._values import (
    enum_text,
    instant,
    member,
    offset_text,
    opt_text,
    read_opt_text,
    read_text,
    text,
    when,
)

__all__ = ["PostgresReservationStore"]


_COLUMNS = (
    "charge_point_id, reservation_id, connector_id, id_tag, parent_id_tag, expiry_date,"
    " expiry_date_offset, status, requested_at, requested_at_offset, updated_at,"
    " updated_at_offset, transaction_id"
)


def _reservation(row: Mapping[str, Any]) -> ReservationRecord:
    return ReservationRecord(
        charge_point_id=read_text(row["charge_point_id"]),
        reservation_id=row["reservation_id"],
        connector_id=row["connector_id"],
        id_tag=read_text(row["id_tag"]),
        parent_id_tag=read_opt_text(row["parent_id_tag"]),
        expiry_date=when(row["expiry_date"], row["expiry_date_offset"]),
        status=member(ReservationState, row["status"]),
        requested_at=when(row["requested_at"], row["requested_at_offset"]),
        updated_at=when(row["updated_at"], row["updated_at_offset"]),
        transaction_id=row["transaction_id"],
    )


def _values(record: ReservationRecord) -> tuple[object, ...]:
    return (
        text(record.charge_point_id),
        record.reservation_id,
        record.connector_id,
        text(record.id_tag),
        opt_text(record.parent_id_tag),
        instant(record.expiry_date),
        offset_text(record.expiry_date),
        enum_text(record.status),
        instant(record.requested_at),
        offset_text(record.requested_at),
        instant(record.updated_at),
        offset_text(record.updated_at),
        record.transaction_id,
    )


def _ordered(records: Iterable[ReservationRecord]) -> list[ReservationRecord]:
    # Sorted here, not by the database's collation: the same order as the in-memory store.
    return sorted(records, key=lambda r: (r.charge_point_id, r.reservation_id))


_SET = (
    "connector_id = %s, id_tag = %s, parent_id_tag = %s, expiry_date = %s,"
    " expiry_date_offset = %s::interval, status = %s, requested_at = %s,"
    " requested_at_offset = %s::interval, updated_at = %s, updated_at_offset = %s::interval,"
    " transaction_id = %s"
)

# The stored row equals the expected record as records compare: datetimes as instants (the
# offset a datetime was given in is not part of its equality), NULL equal to NULL.
_UNCHANGED = (
    "connector_id = %s AND id_tag = %s AND parent_id_tag IS NOT DISTINCT FROM %s"
    " AND expiry_date = %s AND status = %s AND requested_at = %s AND updated_at = %s"
    " AND transaction_id IS NOT DISTINCT FROM %s"
)


class PostgresReservationStore(PostgresStore):
    """:class:`~ocpp16csms.stores.ReservationStore` in PostgreSQL (made by
    :func:`~ocpp16csms.stores.postgresql.postgresql_stores`).

    :meth:`save_if_unchanged` is one ``UPDATE … WHERE`` every field still equals the expected
    record: a compare-and-set that two processes cannot both win, as the second waits for the
    first's row lock and then compares with what the first wrote.
    """

    async def get(self, charge_point_id: str, reservation_id: int) -> ReservationRecord | None:
        key = (text(charge_point_id), reservation_id)

        def work(cursor: Cursor) -> ReservationRecord | None:
            row = cursor.execute(
                "SELECT * FROM reservations WHERE charge_point_id = %s AND reservation_id = %s",
                key,
            ).fetchone()
            return None if row is None else _reservation(row)

        return await self._db.read(work)

    async def save(self, record: ReservationRecord) -> None:
        values = _values(record)

        def work(cursor: Cursor) -> None:
            cursor.execute(
                f"INSERT INTO reservations ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s,"
                " %s::interval, %s, %s, %s::interval, %s, %s::interval, %s)"
                " ON CONFLICT (charge_point_id, reservation_id) DO UPDATE SET"
                " connector_id = excluded.connector_id, id_tag = excluded.id_tag,"
                " parent_id_tag = excluded.parent_id_tag, expiry_date = excluded.expiry_date,"
                " expiry_date_offset = excluded.expiry_date_offset, status = excluded.status,"
                " requested_at = excluded.requested_at,"
                " requested_at_offset = excluded.requested_at_offset,"
                " updated_at = excluded.updated_at,"
                " updated_at_offset = excluded.updated_at_offset,"
                " transaction_id = excluded.transaction_id",
                values,
            )

        await self._db.write_one(work)

    async def save_if_unchanged(
        self, expected: ReservationRecord, record: ReservationRecord
    ) -> bool:
        if (expected.charge_point_id, expected.reservation_id) != (
            record.charge_point_id,
            record.reservation_id,
        ):
            raise ValueError(
                "save_if_unchanged replaces a reservation by one with the same charge point and id"
            )
        new = _values(record)
        old = _values(expected)
        params = (
            *new[2:],
            *new[:2],
            old[2],  # connector_id
            old[3],  # id_tag
            old[4],  # parent_id_tag
            old[5],  # expiry_date
            old[7],  # status
            old[8],  # requested_at
            old[10],  # updated_at
            old[12],  # transaction_id
        )

        def work(cursor: Cursor) -> bool:
            cursor.execute(
                f"UPDATE reservations SET {_SET}"
                f" WHERE charge_point_id = %s AND reservation_id = %s AND {_UNCHANGED}",
                params,
            )
            return cursor.rowcount > 0

        return await self._db.write_one(work)

    async def find(
        self,
        *,
        charge_point_id: str | None = None,
        states: Iterable[ReservationState] | None = None,
    ) -> Sequence[ReservationRecord]:
        where: list[str] = []
        params: list[object] = []
        if charge_point_id is not None:
            where.append("charge_point_id = %s")
            params.append(text(charge_point_id))
        if states is not None:
            wanted = sorted({enum_text(state) for state in states})
            if not wanted:
                return []
            where.append("status = ANY(%s)")
            params.append(wanted)
        query = "SELECT * FROM reservations"
        if where:
            query += " WHERE " + " AND ".join(where)

        def work(cursor: Cursor) -> list[ReservationRecord]:
            return _ordered(_reservation(row) for row in cursor.execute(query, params).fetchall())

        return await self._db.read(work)

    async def due_for_expiry(self, now: datetime) -> Sequence[ReservationRecord]:
        params = (instant(now),)

        def work(cursor: Cursor) -> list[ReservationRecord]:
            rows = cursor.execute(
                f"SELECT * FROM reservations WHERE status IN ({LIVE_STATES_SQL})"
                " AND expiry_date <= %s",
                params,
            ).fetchall()
            return _ordered(_reservation(row) for row in rows)

        return await self._db.read(work)
