"""SQLite implementation of :class:`~ocpp16csms.stores.device_state.DeviceStateStore`.

``sqlite_stores(...).device_state`` keeps the device state in the database of a
:class:`~ocpp16csms.stores.sqlite.SqliteStores`, through its connection, lock and worker thread;
its three tables are created (``IF NOT EXISTS``) on its first use. Datetimes are stored as ISO
8601 text in their own offset (read back exactly) and as integer microseconds since the Unix
epoch (compared and ordered); strings through
:func:`~ocpp16csms.stores._lossless.escape_text`, so NUL and lone surrogates round-trip.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any

from ...enums import LogType
from .._lossless import escape_text, instant_micros, unescape_text
from ..device_state import (
    STATUS_TYPES,
    SecurityEventRecord,
    TransferKind,
    TransferRequest,
    TransferStatus,
    kind_set,
)
from ._database import _Database

__all__ = ["SqliteDeviceStateStore"]

_TABLES = (
    """CREATE TABLE IF NOT EXISTS transfer_requests (
        charge_point_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        request_id INTEGER,
        location TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        requested_at_us INTEGER NOT NULL,
        retrieve_date TEXT,
        install_date TEXT,
        retries INTEGER,
        retry_interval INTEGER,
        start_time TEXT,
        stop_time TEXT,
        log_type TEXT,
        file_name TEXT
    )""",
    # NULL request ids are distinct in a unique index: index "is NULL" and the id with NULL as 0.
    """CREATE UNIQUE INDEX IF NOT EXISTS transfer_requests_key ON transfer_requests (
        charge_point_id, kind, request_id IS NULL, ifnull(request_id, 0)
    )""",
    """CREATE TABLE IF NOT EXISTS transfer_statuses (
        seq INTEGER NOT NULL,
        charge_point_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        request_id INTEGER,
        status TEXT NOT NULL,
        received_at TEXT NOT NULL,
        received_at_us INTEGER NOT NULL
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS transfer_statuses_key ON transfer_statuses (
        charge_point_id, kind, request_id IS NULL, ifnull(request_id, 0)
    )""",
    """CREATE TABLE IF NOT EXISTS security_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        charge_point_id TEXT NOT NULL,
        type TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        timestamp_us INTEGER NOT NULL,
        tech_info TEXT,
        received_at TEXT NOT NULL
    )""",
    """CREATE UNIQUE INDEX IF NOT EXISTS security_events_once ON security_events (
        charge_point_id, timestamp_us, type, tech_info IS NULL, ifnull(tech_info, '')
    )""",
)

_KEY = "charge_point_id = ? AND kind = ? AND request_id IS ?"


def _text(value: str | None) -> str | None:
    return None if value is None else escape_text(value)


def _read(value: str | None) -> str | None:
    return None if value is None else unescape_text(value)


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    instant_micros(value)  # refuses a naive datetime
    return value.isoformat()


def _when(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def _enum_text(value: Any) -> str:
    return escape_text(str(value.value) if isinstance(value, Enum) else str(value))


def _request(row: sqlite3.Row) -> TransferRequest:
    log_type = _read(row["log_type"])
    return TransferRequest(
        charge_point_id=unescape_text(row["charge_point_id"]),
        kind=TransferKind(row["kind"]),
        request_id=row["request_id"],
        location=unescape_text(row["location"]),
        requested_at=datetime.fromisoformat(row["requested_at"]),
        retrieve_date=_when(row["retrieve_date"]),
        install_date=_when(row["install_date"]),
        retries=row["retries"],
        retry_interval=row["retry_interval"],
        start_time=_when(row["start_time"]),
        stop_time=_when(row["stop_time"]),
        log_type=None if log_type is None else _member(LogType, log_type),
        file_name=_read(row["file_name"]),
    )


def _member(cls: type[Enum], value: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        return value


def _status(row: sqlite3.Row) -> TransferStatus:
    kind = TransferKind(row["kind"])
    return TransferStatus(
        charge_point_id=unescape_text(row["charge_point_id"]),
        kind=kind,
        request_id=row["request_id"],
        status=_member(STATUS_TYPES[kind], unescape_text(row["status"])),
        received_at=datetime.fromisoformat(row["received_at"]),
    )


def _event(row: sqlite3.Row) -> SecurityEventRecord:
    return SecurityEventRecord(
        charge_point_id=unescape_text(row["charge_point_id"]),
        type=unescape_text(row["type"]),
        timestamp=datetime.fromisoformat(row["timestamp"]),
        tech_info=_read(row["tech_info"]),
        received_at=datetime.fromisoformat(row["received_at"]),
    )


class SqliteDeviceStateStore:
    """:class:`~ocpp16csms.stores.device_state.DeviceStateStore` in SQLite (made by
    :func:`sqlite_device_state`)."""

    def __init__(self, database: _Database) -> None:
        self._db = database
        self._ready = False

    async def _write(self, work: Any) -> Any:
        await self._prepare()
        return await self._db.write(work)

    async def _read_rows(self, work: Any) -> Any:
        await self._prepare()
        return await self._db.read(work)

    async def _prepare(self) -> None:
        if self._ready:
            return

        def work(db: sqlite3.Connection) -> None:
            for statement in _TABLES:
                db.execute(statement)

        await self._db.write(work)
        self._ready = True

    async def record_request(self, request: TransferRequest) -> None:
        values = (
            escape_text(request.charge_point_id),
            request.kind.value,
            request.request_id,
            escape_text(request.location),
            _iso(request.requested_at),
            instant_micros(request.requested_at),
            _iso(request.retrieve_date),
            _iso(request.install_date),
            request.retries,
            request.retry_interval,
            _iso(request.start_time),
            _iso(request.stop_time),
            None if request.log_type is None else _enum_text(request.log_type),
            _text(request.file_name),
        )

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO transfer_requests (charge_point_id, kind, request_id,"
                " location, requested_at, requested_at_us, retrieve_date, install_date, retries,"
                " retry_interval, start_time, stop_time, log_type, file_name)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

        await self._write(work)

    async def request(
        self, charge_point_id: str, kind: TransferKind, request_id: int | None = None
    ) -> TransferRequest | None:
        key = (escape_text(charge_point_id), TransferKind(kind).value, request_id)

        def work(db: sqlite3.Connection) -> TransferRequest | None:
            row = db.execute(f"SELECT * FROM transfer_requests WHERE {_KEY}", key).fetchone()
            return None if row is None else _request(row)

        result: TransferRequest | None = await self._read_rows(work)
        return result

    async def requests(
        self, charge_point_id: str, *, kind: TransferKind | None = None
    ) -> Sequence[TransferRequest]:
        query = "SELECT * FROM transfer_requests WHERE charge_point_id = ?"
        params: tuple[object, ...] = (escape_text(charge_point_id),)
        if kind is not None:
            query += " AND kind = ?"
            params = (*params, TransferKind(kind).value)
        query += " ORDER BY requested_at_us, kind, request_id IS NOT NULL, ifnull(request_id, 0)"

        def work(db: sqlite3.Connection) -> list[TransferRequest]:
            return [_request(row) for row in db.execute(query, params)]

        result: list[TransferRequest] = await self._read_rows(work)
        return result

    async def record_status(self, status: TransferStatus) -> bool:
        key = (escape_text(status.charge_point_id), status.kind.value, status.request_id)
        micros = instant_micros(status.received_at)
        values = (
            *key,
            _enum_text(status.status),
            _iso(status.received_at),
            micros,
        )

        def work(db: sqlite3.Connection) -> bool:
            row = db.execute(
                f"SELECT received_at_us FROM transfer_statuses WHERE {_KEY}", key
            ).fetchone()
            if row is not None and row["received_at_us"] > micros:
                return False
            # The write order breaks ties between equal instants: one more than any so far.
            db.execute(
                "INSERT OR REPLACE INTO transfer_statuses (seq, charge_point_id, kind,"
                " request_id, status, received_at, received_at_us)"
                " VALUES ((SELECT ifnull(max(seq), 0) + 1 FROM transfer_statuses),"
                " ?, ?, ?, ?, ?, ?)",
                values,
            )
            return True

        result: bool = await self._write(work)
        return result

    async def status(
        self, charge_point_id: str, kind: TransferKind, request_id: int | None = None
    ) -> TransferStatus | None:
        key = (escape_text(charge_point_id), TransferKind(kind).value, request_id)

        def work(db: sqlite3.Connection) -> TransferStatus | None:
            row = db.execute(f"SELECT * FROM transfer_statuses WHERE {_KEY}", key).fetchone()
            return None if row is None else _status(row)

        result: TransferStatus | None = await self._read_rows(work)
        return result

    async def latest_status(
        self, charge_point_id: str, kinds: TransferKind | Iterable[TransferKind]
    ) -> TransferStatus | None:
        wanted = sorted(kind.value for kind in kind_set(kinds))
        if not wanted:
            return None
        query = (
            "SELECT * FROM transfer_statuses WHERE charge_point_id = ?"
            f" AND kind IN ({', '.join('?' * len(wanted))})"
            " ORDER BY received_at_us DESC, seq DESC LIMIT 1"
        )
        params = (escape_text(charge_point_id), *wanted)

        def work(db: sqlite3.Connection) -> TransferStatus | None:
            row = db.execute(query, params).fetchone()
            return None if row is None else _status(row)

        result: TransferStatus | None = await self._read_rows(work)
        return result

    async def add_security_event(self, event: SecurityEventRecord) -> bool:
        values = (
            escape_text(event.charge_point_id),
            escape_text(event.type),
            _iso(event.timestamp),
            instant_micros(event.timestamp),
            _text(event.tech_info),
            _iso(event.received_at),
        )

        def work(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "INSERT INTO security_events (charge_point_id, type, timestamp, timestamp_us,"
                " tech_info, received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                values,
            )
            return cursor.rowcount > 0

        result: bool = await self._write(work)
        return result

    async def security_events(
        self,
        charge_point_id: str,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> Sequence[SecurityEventRecord]:
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be at least 0, got {limit}")
        query = "SELECT * FROM security_events WHERE charge_point_id = ?"
        params: list[object] = [escape_text(charge_point_id)]
        if since is not None:
            query += " AND timestamp_us >= ?"
            params.append(instant_micros(since))
        if until is not None:
            query += " AND timestamp_us < ?"
            params.append(instant_micros(until))
        query += " ORDER BY timestamp_us, seq"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)

        def work(db: sqlite3.Connection) -> list[SecurityEventRecord]:
            return [_event(row) for row in db.execute(query, params)]

        result: list[SecurityEventRecord] = await self._read_rows(work)
        return result
