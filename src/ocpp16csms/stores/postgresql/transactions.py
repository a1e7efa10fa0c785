""":class:`~ocpp16csms.stores.TransactionStore` in PostgreSQL: transactions, their meter values and
the StopTransactions that closed no transaction."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import psycopg.errors

from ...datatypes import MeterValue
from ...enums import AuthorizationStatus, Reason
from .._lossless import dump_value, load_value, load_values, value_digest
from ..records import (
    StoredMeterValue,
    StoreError,
    TransactionRecord,
    TransactionStart,
    TransactionStop,
    UnconfirmedEnd,
    UnconfirmedEndCause,
    UnmatchedStop,
    UnmatchedStopCause,
)
from ._database import Cursor, PostgresStore
from ._values import (
    enum_text,
    instant,
    member,
    offset_text,
    opt_enum_text,
    opt_member,
    opt_text,
    opt_when,
    read_opt_text,
    read_text,
    text,
    when,
)

__all__ = ["PostgresTransactionStore"]

# Six parameters a row; PostgreSQL takes at most 65535 parameters a statement.
_ROWS_PER_INSERT = 1000

# Neither stopped nor marked ended-unconfirmed; and marked, not stopped since.
_ACTIVE_SQL = "stop_timestamp IS NULL AND unconfirmed_cause IS NULL"
_UNCONFIRMED_SQL = "stop_timestamp IS NULL AND unconfirmed_cause IS NOT NULL"

_START_KEY = (
    "charge_point_id = %s AND connector_id = %s AND id_tag_key = %s AND meter_start = %s"
    " AND start_timestamp = %s"
)


def _transaction(row: Mapping[str, Any]) -> TransactionRecord:
    start = TransactionStart(
        charge_point_id=read_text(row["charge_point_id"]),
        connector_id=row["connector_id"],
        id_tag=read_text(row["id_tag"]),
        meter_start=row["meter_start"],
        timestamp=when(row["start_timestamp"], row["start_timestamp_offset"]),
        reservation_id=row["reservation_id"],
        id_tag_status=member(AuthorizationStatus, row["id_tag_status"]),
    )
    stop_at = opt_when(row["stop_timestamp"], row["stop_timestamp_offset"])
    stop = None
    if stop_at is not None:
        stop = TransactionStop(
            meter_stop=row["meter_stop"],
            timestamp=stop_at,
            reason=opt_member(Reason, row["stop_reason"]),
            id_tag=read_opt_text(row["stop_id_tag"]),
        )
    unconfirmed = None
    if row["unconfirmed_cause"] is not None:
        unconfirmed = UnconfirmedEnd(
            meter_stop=row["unconfirmed_meter_stop"],
            timestamp=when(row["unconfirmed_timestamp"], row["unconfirmed_timestamp_offset"]),
            cause=member(UnconfirmedEndCause, row["unconfirmed_cause"]),
            detected_at=when(row["unconfirmed_detected_at"], row["unconfirmed_detected_at_offset"]),
        )
    return TransactionRecord(
        transaction_id=row["transaction_id"], start=start, stop=stop, unconfirmed_end=unconfirmed
    )


def _unmatched_stop(row: Mapping[str, Any]) -> UnmatchedStop:
    return UnmatchedStop(
        charge_point_id=read_text(row["charge_point_id"]),
        transaction_id=row["transaction_id"],
        stop=TransactionStop(
            meter_stop=row["meter_stop"],
            timestamp=when(row["stop_timestamp"], row["stop_timestamp_offset"]),
            reason=opt_member(Reason, row["stop_reason"]),
            id_tag=read_opt_text(row["stop_id_tag"]),
        ),
        cause=member(UnmatchedStopCause, row["cause"]),
        received_at=when(row["received_at"], row["received_at_offset"]),
        transaction_data=load_values(row["transaction_data"], MeterValue),
    )


def _stored_meter_value(row: Mapping[str, Any]) -> StoredMeterValue:
    return StoredMeterValue(
        charge_point_id=read_text(row["charge_point_id"]),
        connector_id=row["connector_id"],
        transaction_id=row["transaction_id"],
        meter_value=load_value(row["meter_value"], MeterValue),
    )


class PostgresTransactionStore(PostgresStore):
    """:class:`~ocpp16csms.stores.TransactionStore` in PostgreSQL (made by
    :func:`~ocpp16csms.stores.postgresql.postgresql_stores`).

    Ids come from an identity column limited to 2**31-1: unique across every process using the
    database and never handed out twice; a StartTransaction retry may use one up without
    keeping it, so ids can skip. A retry is recognised by a unique constraint on the start key
    (``INSERT … ON CONFLICT DO NOTHING``, then reading the row that won), so two processes
    receiving the same start at once return the same transaction. Marking a transaction
    ended-unconfirmed and stopping it are each one conditional ``UPDATE``, so the first of two
    concurrent marks wins and a stop completes a marked transaction whatever the order.
    StopTransactions that closed no transaction are kept once each (a unique constraint on
    charge point, transaction id, meterStop and instant), in the order they were kept.
    """

    async def start(self, start: TransactionStart) -> tuple[TransactionRecord, bool]:
        key = (
            text(start.charge_point_id),
            start.connector_id,
            text(start.id_tag.casefold()),
            start.meter_start,
            instant(start.timestamp),
        )
        values = (
            *key,
            offset_text(start.timestamp),
            text(start.id_tag),
            start.reservation_id,
            enum_text(start.id_tag_status),
        )

        def work(cursor: Cursor) -> tuple[TransactionRecord, bool]:
            # Each statement is atomic on its own; no transaction is needed around them: the
            # insert either creates the row or finds the key taken, and a taken key was
            # committed before the conflict was reported, so the read below sees it.
            try:
                row = cursor.execute(
                    "INSERT INTO transactions (charge_point_id, connector_id, id_tag_key,"
                    " meter_start, start_timestamp, start_timestamp_offset, id_tag,"
                    " reservation_id, id_tag_status)"
                    " VALUES (%s, %s, %s, %s, %s, %s::interval, %s, %s, %s)"
                    " ON CONFLICT ON CONSTRAINT transactions_start_key DO NOTHING"
                    " RETURNING transaction_id",
                    values,
                ).fetchone()
            except psycopg.errors.SequenceGeneratorLimitExceeded:
                row = None
                exhausted = True
            else:
                exhausted = False
            if row is not None:
                return TransactionRecord(transaction_id=row["transaction_id"], start=start), True
            found = cursor.execute(f"SELECT * FROM transactions WHERE {_START_KEY}", key).fetchone()
            if found is not None:
                return _transaction(found), False
            if exhausted:
                raise OverflowError("transaction ids are exhausted")
            raise StoreError("a conflicting transaction start is no longer stored")

        return await self._db.write_one(work)

    async def get(self, transaction_id: int) -> TransactionRecord | None:
        def work(cursor: Cursor) -> TransactionRecord | None:
            row = cursor.execute(
                "SELECT * FROM transactions WHERE transaction_id = %s", (transaction_id,)
            ).fetchone()
            return None if row is None else _transaction(row)

        return await self._db.read(work)

    async def stop(self, transaction_id: int, stop: TransactionStop) -> TransactionRecord | None:
        values = (
            stop.meter_stop,
            instant(stop.timestamp),
            offset_text(stop.timestamp),
            opt_enum_text(stop.reason),
            opt_text(stop.id_tag),
            transaction_id,
        )

        def work(cursor: Cursor) -> TransactionRecord | None:
            # The first stop wins: a concurrent second one waits for the row, then finds it
            # stopped and matches nothing. A mark (ended-unconfirmed) is kept: the stop
            # completes the marked transaction.
            row = cursor.execute(
                "UPDATE transactions SET meter_stop = %s, stop_timestamp = %s,"
                " stop_timestamp_offset = %s::interval, stop_reason = %s, stop_id_tag = %s"
                " WHERE transaction_id = %s AND stop_timestamp IS NULL RETURNING *",
                values,
            ).fetchone()
            if row is None:
                row = cursor.execute(
                    "SELECT * FROM transactions WHERE transaction_id = %s", (transaction_id,)
                ).fetchone()
            return None if row is None else _transaction(row)

        return await self._db.write_one(work)

    async def active(
        self, *, charge_point_id: str | None = None, id_tag: str | None = None
    ) -> Sequence[TransactionRecord]:
        where = [_ACTIVE_SQL]
        params: list[object] = []
        if charge_point_id is not None:
            where.append("charge_point_id = %s")
            params.append(text(charge_point_id))
        if id_tag is not None:
            where.append("id_tag_key = %s")
            params.append(text(id_tag.casefold()))
        query = f"SELECT * FROM transactions WHERE {' AND '.join(where)} ORDER BY transaction_id"

        def work(cursor: Cursor) -> list[TransactionRecord]:
            return [_transaction(row) for row in cursor.execute(query, params).fetchall()]

        return await self._db.read(work)

    async def end_unconfirmed(
        self, transaction_id: int, end: UnconfirmedEnd
    ) -> TransactionRecord | None:
        values = (
            end.meter_stop,
            instant(end.timestamp),
            offset_text(end.timestamp),
            enum_text(end.cause),
            instant(end.detected_at),
            offset_text(end.detected_at),
            transaction_id,
        )

        def work(cursor: Cursor) -> TransactionRecord | None:
            # Only an active transaction is marked; a concurrent mark or stop waits for the
            # row, then finds it no longer active and matches nothing.
            row = cursor.execute(
                "UPDATE transactions SET unconfirmed_meter_stop = %s,"
                " unconfirmed_timestamp = %s, unconfirmed_timestamp_offset = %s::interval,"
                " unconfirmed_cause = %s, unconfirmed_detected_at = %s,"
                " unconfirmed_detected_at_offset = %s::interval"
                f" WHERE transaction_id = %s AND {_ACTIVE_SQL} RETURNING *",
                values,
            ).fetchone()
            if row is None:
                row = cursor.execute(
                    "SELECT * FROM transactions WHERE transaction_id = %s", (transaction_id,)
                ).fetchone()
            return None if row is None else _transaction(row)

        return await self._db.write_one(work)

    async def unconfirmed(
        self, *, charge_point_id: str | None = None
    ) -> Sequence[TransactionRecord]:
        query = f"SELECT * FROM transactions WHERE {_UNCONFIRMED_SQL}"
        params: tuple[object, ...] = ()
        if charge_point_id is not None:
            query += " AND charge_point_id = %s"
            params = (text(charge_point_id),)
        query += " ORDER BY transaction_id"

        def work(cursor: Cursor) -> list[TransactionRecord]:
            return [_transaction(row) for row in cursor.execute(query, params).fetchall()]

        return await self._db.read(work)

    async def add_unmatched_stop(self, stop: UnmatchedStop) -> bool:
        values = (
            text(stop.charge_point_id),
            stop.transaction_id,
            stop.stop.meter_stop,
            instant(stop.stop.timestamp),
            offset_text(stop.stop.timestamp),
            opt_enum_text(stop.stop.reason),
            opt_text(stop.stop.id_tag),
            enum_text(stop.cause),
            instant(stop.received_at),
            offset_text(stop.received_at),
            dump_value(list(stop.transaction_data)),
        )

        def work(cursor: Cursor) -> bool:
            # A retry meets the unique constraint (whichever process kept the first) and
            # inserts nothing.
            cursor.execute(
                "INSERT INTO unmatched_stops (charge_point_id, transaction_id, meter_stop,"
                " stop_timestamp, stop_timestamp_offset, stop_reason, stop_id_tag, cause,"
                " received_at, received_at_offset, transaction_data)"
                " VALUES (%s, %s, %s, %s, %s::interval, %s, %s, %s, %s, %s::interval, %s)"
                " ON CONFLICT ON CONSTRAINT unmatched_stops_once DO NOTHING",
                values,
            )
            return cursor.rowcount == 1

        return await self._db.write_one(work)

    async def unmatched_stops(self, charge_point_id: str | None = None) -> Sequence[UnmatchedStop]:
        query = "SELECT * FROM unmatched_stops"
        params: tuple[object, ...] = ()
        if charge_point_id is not None:
            query += " WHERE charge_point_id = %s"
            params = (text(charge_point_id),)
        query += " ORDER BY seq"

        def work(cursor: Cursor) -> list[UnmatchedStop]:
            return [_unmatched_stop(row) for row in cursor.execute(query, params).fetchall()]

        return await self._db.read(work)

    async def add_meter_values(
        self,
        charge_point_id: str,
        connector_id: int,
        transaction_id: int | None,
        meter_values: Iterable[MeterValue],
    ) -> int:
        cp = text(charge_point_id)
        rows = [
            (
                cp,
                connector_id,
                transaction_id,
                instant(value.timestamp),
                dump_value(value),
                value_digest(value),
            )
            for value in meter_values
        ]

        def work(cursor: Cursor) -> int:
            added = 0
            for first in range(0, len(rows), _ROWS_PER_INSERT):
                chunk = rows[first : first + _ROWS_PER_INSERT]
                # Values already stored for the place (or twice in this batch) are skipped by
                # the unique index; the row count is what was new. Each chunk commits on its
                # own: a retry after a failure stores only what is still missing.
                placeholders = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(chunk))
                cursor.execute(
                    "INSERT INTO meter_values (charge_point_id, connector_id, transaction_id,"
                    f' "timestamp", meter_value, value_sha256) VALUES {placeholders}'
                    " ON CONFLICT DO NOTHING",
                    [item for row in chunk for item in row],
                )
                added += cursor.rowcount
            return added

        if not rows:
            return 0
        return await self._db.write_one(work)

    async def meter_values(
        self, charge_point_id: str, *, transaction_id: int | None = None
    ) -> Sequence[StoredMeterValue]:
        query = "SELECT * FROM meter_values WHERE charge_point_id = %s"
        params: tuple[object, ...] = (text(charge_point_id),)
        if transaction_id is not None:
            query += " AND transaction_id = %s"
            params = (*params, transaction_id)
        query += " ORDER BY seq"

        def work(cursor: Cursor) -> list[StoredMeterValue]:
            return [_stored_meter_value(row) for row in cursor.execute(query, params).fetchall()]

        return await self._db.read(work)
