"""SQLite store of transactions, their meter values and the unmatched StopTransactions."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable, Sequence

import attrs

from ...datatypes import MeterValue
from ...enums import (
    AuthorizationStatus,
    Reason,
)
from ..records import (
    StoredMeterValue,
    TransactionRecord,
    TransactionStart,
    TransactionStop,
    UnconfirmedEnd,
    UnconfirmedEndCause,
    UnmatchedStop,
    UnmatchedStopCause,
)
from ._database import (
    _CONVERTER,
    _MAX_TRANSACTION_ID,
    _READER,
    _dump,
    _enum_text,
    _member,
    _micros,
    _opt_enum_text,
    _opt_member,
    _SqliteStore,
    _text,
    _when,
)

__all__ = ["SqliteTransactionStore"]


def _transaction(row: sqlite3.Row) -> TransactionRecord:
    start = TransactionStart(
        charge_point_id=row["charge_point_id"],
        connector_id=row["connector_id"],
        id_tag=row["id_tag"],
        meter_start=row["meter_start"],
        timestamp=_when(row["start_timestamp"]),
        reservation_id=row["reservation_id"],
        id_tag_status=_member(AuthorizationStatus, row["id_tag_status"]),
    )
    stop = None
    if row["stop_timestamp"] is not None:
        stop = TransactionStop(
            meter_stop=row["meter_stop"],
            timestamp=_when(row["stop_timestamp"]),
            reason=_opt_member(Reason, row["stop_reason"]),
            id_tag=row["stop_id_tag"],
        )
    unconfirmed = None
    if row["unconfirmed_cause"] is not None:
        unconfirmed = UnconfirmedEnd(
            meter_stop=row["unconfirmed_meter_stop"],
            timestamp=_when(row["unconfirmed_timestamp"]),
            cause=_member(UnconfirmedEndCause, row["unconfirmed_cause"]),
            detected_at=_when(row["unconfirmed_detected_at"]),
        )
    return TransactionRecord(
        transaction_id=row["transaction_id"], start=start, stop=stop, unconfirmed_end=unconfirmed
    )


def _unmatched_stop(row: sqlite3.Row) -> UnmatchedStop:
    return UnmatchedStop(
        charge_point_id=row["charge_point_id"],
        transaction_id=row["transaction_id"],
        stop=TransactionStop(
            meter_stop=row["meter_stop"],
            timestamp=_when(row["stop_timestamp"]),
            reason=_opt_member(Reason, row["stop_reason"]),
            id_tag=row["stop_id_tag"],
        ),
        cause=_member(UnmatchedStopCause, row["cause"]),
        received_at=_when(row["received_at"]),
        transaction_data=tuple(
            _READER.structure(item, MeterValue) for item in json.loads(row["transaction_data"])
        ),
    )


# Neither stopped nor marked ended-unconfirmed.
_ACTIVE_SQL = "stop_timestamp IS NULL AND unconfirmed_cause IS NULL"


def _stored_meter_value(row: sqlite3.Row) -> StoredMeterValue:
    return StoredMeterValue(
        charge_point_id=row["charge_point_id"],
        connector_id=row["connector_id"],
        transaction_id=row["transaction_id"],
        meter_value=_READER.structure(json.loads(row["meter_value"]), MeterValue),
    )


class SqliteTransactionStore(_SqliteStore):
    """:class:`~ocpp16csms.stores.TransactionStore` in SQLite (made by :func:`sqlite_stores`),
    with the StopTransactions that closed no transaction in their own table.

    Transaction ids come from an ``AUTOINCREMENT`` key, so an id is never reused, not even
    after a rolled-back or deleted transaction; past 2**31-1, :meth:`start` raises
    :class:`OverflowError` and keeps nothing.
    """

    async def start(self, start: TransactionStart) -> tuple[TransactionRecord, bool]:
        key = (
            start.charge_point_id,
            start.connector_id,
            start.id_tag.casefold(),
            start.meter_start,
            _micros(start.timestamp),
        )
        values = (
            *key,
            start.id_tag,
            _text(start.timestamp),
            start.reservation_id,
            _enum_text(start.id_tag_status),
        )

        def work(db: sqlite3.Connection) -> tuple[TransactionRecord, bool]:
            row = db.execute(
                "SELECT * FROM transactions WHERE charge_point_id = ? AND connector_id = ?"
                " AND id_tag_key = ? AND meter_start = ? AND start_timestamp_us = ?",
                key,
            ).fetchone()
            if row is not None:
                return _transaction(row), False
            cursor = db.execute(
                "INSERT INTO transactions (charge_point_id, connector_id, id_tag_key,"
                " meter_start, start_timestamp_us, id_tag, start_timestamp, reservation_id,"
                " id_tag_status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            transaction_id = cursor.lastrowid
            assert transaction_id is not None
            if transaction_id > _MAX_TRANSACTION_ID:
                raise OverflowError("transaction ids are exhausted")  # rolled back
            return TransactionRecord(transaction_id=transaction_id, start=start), True

        return await self._db.write(work)

    async def get(self, transaction_id: int) -> TransactionRecord | None:
        def work(db: sqlite3.Connection) -> TransactionRecord | None:
            row = db.execute(
                "SELECT * FROM transactions WHERE transaction_id = ?", (transaction_id,)
            ).fetchone()
            return None if row is None else _transaction(row)

        return await self._db.read(work)

    async def stop(self, transaction_id: int, stop: TransactionStop) -> TransactionRecord | None:
        values = (
            stop.meter_stop,
            _text(stop.timestamp),
            _micros(stop.timestamp),
            _opt_enum_text(stop.reason),
            stop.id_tag,
            transaction_id,
        )

        def work(db: sqlite3.Connection) -> TransactionRecord | None:
            row = db.execute(
                "SELECT * FROM transactions WHERE transaction_id = ?", (transaction_id,)
            ).fetchone()
            if row is None:
                return None
            record = _transaction(row)
            if record.stop is not None:
                return record
            db.execute(
                "UPDATE transactions SET meter_stop = ?, stop_timestamp = ?,"
                " stop_timestamp_us = ?, stop_reason = ?, stop_id_tag = ?"
                " WHERE transaction_id = ?",
                values,
            )
            return attrs.evolve(record, stop=stop)

        return await self._db.write(work)

    async def active(
        self, *, charge_point_id: str | None = None, id_tag: str | None = None
    ) -> Sequence[TransactionRecord]:
        where = [_ACTIVE_SQL]
        params: list[object] = []
        if charge_point_id is not None:
            where.append("charge_point_id = ?")
            params.append(charge_point_id)
        if id_tag is not None:
            where.append("id_tag_key = ?")
            params.append(id_tag.casefold())
        query = f"SELECT * FROM transactions WHERE {' AND '.join(where)} ORDER BY transaction_id"

        def work(db: sqlite3.Connection) -> list[TransactionRecord]:
            return [_transaction(row) for row in db.execute(query, params)]

        return await self._db.read(work)

    async def end_unconfirmed(
        self, transaction_id: int, end: UnconfirmedEnd
    ) -> TransactionRecord | None:
        values = (
            end.meter_stop,
            _text(end.timestamp),
            _enum_text(end.cause),
            _text(end.detected_at),
            transaction_id,
        )

        def work(db: sqlite3.Connection) -> TransactionRecord | None:
            row = db.execute(
                "SELECT * FROM transactions WHERE transaction_id = ?", (transaction_id,)
            ).fetchone()
            if row is None:
                return None
            record = _transaction(row)
            if not record.active:
                return record
            db.execute(
                "UPDATE transactions SET unconfirmed_meter_stop = ?, unconfirmed_timestamp = ?,"
                " unconfirmed_cause = ?, unconfirmed_detected_at = ? WHERE transaction_id = ?",
                values,
            )
            return attrs.evolve(record, unconfirmed_end=end)

        return await self._db.write(work)

    async def unconfirmed(
        self, *, charge_point_id: str | None = None
    ) -> Sequence[TransactionRecord]:
        query = (
            "SELECT * FROM transactions"
            " WHERE stop_timestamp IS NULL AND unconfirmed_cause IS NOT NULL"
        )
        params: tuple[object, ...] = ()
        if charge_point_id is not None:
            query += " AND charge_point_id = ?"
            params = (charge_point_id,)

        def work(db: sqlite3.Connection) -> list[TransactionRecord]:
            rows = db.execute(query + " ORDER BY transaction_id", params)
            return [_transaction(row) for row in rows]

        return await self._db.read(work)

    async def add_unmatched_stop(self, stop: UnmatchedStop) -> bool:
        values = (
            stop.charge_point_id,
            stop.transaction_id,
            stop.stop.meter_stop,
            _text(stop.stop.timestamp),
            _micros(stop.stop.timestamp),
            _opt_enum_text(stop.stop.reason),
            stop.stop.id_tag,
            _enum_text(stop.cause),
            _text(stop.received_at),
            _dump(_CONVERTER.unstructure(list(stop.transaction_data))),
        )

        def work(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "INSERT INTO unmatched_stops (charge_point_id, transaction_id, meter_stop,"
                " stop_timestamp, stop_timestamp_us, stop_reason, stop_id_tag, cause,"
                " received_at, transaction_data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                values,
            )
            return cursor.rowcount == 1

        return await self._db.write(work)

    async def unmatched_stops(self, charge_point_id: str | None = None) -> Sequence[UnmatchedStop]:
        query = "SELECT * FROM unmatched_stops"
        params: tuple[object, ...] = ()
        if charge_point_id is not None:
            query += " WHERE charge_point_id = ?"
            params = (charge_point_id,)

        def work(db: sqlite3.Connection) -> list[UnmatchedStop]:
            return [_unmatched_stop(row) for row in db.execute(query + " ORDER BY seq", params)]

        return await self._db.read(work)

    async def add_meter_values(
        self,
        charge_point_id: str,
        connector_id: int,
        transaction_id: int | None,
        meter_values: Iterable[MeterValue],
    ) -> int:
        rows = []
        for value in meter_values:
            text = _dump(_CONVERTER.unstructure(value))
            # surrogatepass: a lone surrogate a peer sent is kept (it is bound as a BLOB).
            digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()
            rows.append(
                (
                    charge_point_id,
                    connector_id,
                    transaction_id,
                    _micros(value.timestamp),
                    text,
                    digest,
                )
            )
        if not rows:
            return 0

        def work(db: sqlite3.Connection) -> int:
            added = 0
            for row in rows:
                added += db.execute(
                    "INSERT INTO meter_values (charge_point_id, connector_id, transaction_id,"
                    " timestamp_us, meter_value, value_sha256) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    row,
                ).rowcount
            return added

        return await self._db.write(work)

    async def meter_values(
        self, charge_point_id: str, *, transaction_id: int | None = None
    ) -> Sequence[StoredMeterValue]:
        query = "SELECT * FROM meter_values WHERE charge_point_id = ?"
        params: tuple[object, ...] = (charge_point_id,)
        if transaction_id is not None:
            query += " AND transaction_id = ?"
            params = (charge_point_id, transaction_id)

        def work(db: sqlite3.Connection) -> list[StoredMeterValue]:
            return [_stored_meter_value(row) for row in db.execute(query + " ORDER BY seq", params)]

        return await self._db.read(work)


# --- configuration --------------------------------------------------------------------------
