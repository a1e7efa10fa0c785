"""SQLite implementations of every store protocol, over one database (standard library only).

``sqlite_stores(path)`` returns a :class:`SqliteStores`: a :class:`~ocpp16csms.stores.Stores`
whose seven stores share one SQLite connection. Every database call runs in a worker thread
(``anyio.to_thread.run_sync``, one at a time per store set) while holding the store set's lock,
so the event loop never blocks and calls are serialised. Each call is one SQLite transaction
(``BEGIN IMMEDIATE`` for writes), kept whole or not at all. The schema is created on first use.

Datetimes are stored twice: as ISO 8601 UTC text (what is read back) and as integer microseconds
since the Unix epoch (what is compared and ordered), so instants compare whatever offset they
were given in. Nested datatypes are JSON made by :func:`ocpp16csms.converter.make_converter`.
``docs/stores.md`` ("SQLite stores") describes the schema, the concurrency model and the limits.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from types import TracebackType
from typing import Any, TypeVar, TypeVarTuple

import anyio
import anyio.to_thread
import attrs
from anyio.lowlevel import RunVar

from ..converter import datetime_to_wire, make_converter, parse_datetime, wire_name
from ..datatypes import AuthorizationData, ChargingProfile, KeyValue, MeterValue
from ..enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingProfilePurposeType,
    Reason,
    RegistrationStatus,
)
from ..reservations import LIVE_STATES, ReservationRecord, ReservationState
from .charging_profiles import InstalledChargingProfile, clear_matches, replaces
from .local_lists import LocalListState
from .protocols import (
    BootInfo,
    ChargePointRecord,
    ConnectorStatus,
    IdTagRecord,
    StoredMeterValue,
    StoreError,
    Stores,
    TransactionRecord,
    TransactionStart,
    TransactionStop,
    UnknownChargePoint,
)

__all__ = [
    "SqliteChargePointStore",
    "SqliteChargingProfileStore",
    "SqliteConfigurationStore",
    "SqliteIdTagStore",
    "SqliteLocalListStore",
    "SqliteReservationStore",
    "SqliteStores",
    "SqliteTransactionStore",
    "sqlite_stores",
]

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

# The schema this module writes; a database with a higher version is refused (written by a newer
# library), a lower one would be migrated step by step here once there is a second version.
_SCHEMA_VERSION = 1
_MAX_TRANSACTION_ID = 2**31 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# The partial index of live reservations and the query for due ones use this same text.
_LIVE_STATES_SQL = f"status IN ({', '.join(repr(s.value) for s in sorted(LIVE_STATES))})"

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS schema_version (
        version INTEGER NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS charge_points (
        charge_point_id TEXT PRIMARY KEY,
        registration_status TEXT,
        security_profile INTEGER NOT NULL,
        password_hash TEXT,
        boot TEXT,
        last_boot_at TEXT,
        last_boot_at_us INTEGER,
        last_seen TEXT,
        last_seen_us INTEGER
    )""",
    """CREATE TABLE IF NOT EXISTS connector_statuses (
        charge_point_id TEXT NOT NULL,
        connector_id INTEGER NOT NULL,
        status TEXT NOT NULL,
        error_code TEXT NOT NULL,
        timestamp TEXT NOT NULL,
        timestamp_us INTEGER NOT NULL,
        info TEXT,
        vendor_id TEXT,
        vendor_error_code TEXT,
        PRIMARY KEY (charge_point_id, connector_id)
    )""",
    """CREATE TABLE IF NOT EXISTS id_tags (
        id_tag_key TEXT PRIMARY KEY,
        id_tag TEXT NOT NULL,
        status TEXT NOT NULL,
        expiry_date TEXT,
        expiry_date_us INTEGER,
        parent_id_tag TEXT
    )""",
    """CREATE TABLE IF NOT EXISTS transactions (
        transaction_id INTEGER PRIMARY KEY AUTOINCREMENT,
        charge_point_id TEXT NOT NULL,
        connector_id INTEGER NOT NULL,
        id_tag TEXT NOT NULL,
        id_tag_key TEXT NOT NULL,
        meter_start INTEGER NOT NULL,
        start_timestamp TEXT NOT NULL,
        start_timestamp_us INTEGER NOT NULL,
        reservation_id INTEGER,
        id_tag_status TEXT NOT NULL,
        meter_stop INTEGER,
        stop_timestamp TEXT,
        stop_timestamp_us INTEGER,
        stop_reason TEXT,
        stop_id_tag TEXT,
        UNIQUE (charge_point_id, connector_id, id_tag_key, meter_start, start_timestamp_us)
    )""",
    """CREATE INDEX IF NOT EXISTS transactions_active_by_charge_point
        ON transactions (charge_point_id) WHERE stop_timestamp IS NULL""",
    """CREATE INDEX IF NOT EXISTS transactions_active_by_id_tag
        ON transactions (id_tag_key) WHERE stop_timestamp IS NULL""",
    """CREATE TABLE IF NOT EXISTS meter_values (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        charge_point_id TEXT NOT NULL,
        connector_id INTEGER NOT NULL,
        transaction_id INTEGER,
        timestamp_us INTEGER NOT NULL,
        meter_value TEXT NOT NULL,
        value_sha256 BLOB NOT NULL
    )""",
    # Once per place: NULL transaction ids are distinct in a unique index, so the index holds
    # "is NULL" and the id with NULL mapped to 0, which together tell every place apart.
    """CREATE UNIQUE INDEX IF NOT EXISTS meter_values_once_per_place ON meter_values (
        charge_point_id, connector_id, transaction_id IS NULL, ifnull(transaction_id, 0),
        value_sha256
    )""",
    """CREATE INDEX IF NOT EXISTS meter_values_by_transaction
        ON meter_values (charge_point_id, transaction_id, seq)""",
    """CREATE TABLE IF NOT EXISTS configuration (
        charge_point_id TEXT NOT NULL,
        key TEXT NOT NULL,
        readonly INTEGER NOT NULL,
        value TEXT,
        PRIMARY KEY (charge_point_id, key)
    )""",
    """CREATE TABLE IF NOT EXISTS local_lists (
        charge_point_id TEXT PRIMARY KEY,
        version INTEGER NOT NULL,
        entries TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS reservations (
        charge_point_id TEXT NOT NULL,
        reservation_id INTEGER NOT NULL,
        connector_id INTEGER NOT NULL,
        id_tag TEXT NOT NULL,
        parent_id_tag TEXT,
        expiry_date TEXT NOT NULL,
        expiry_date_us INTEGER NOT NULL,
        status TEXT NOT NULL,
        requested_at TEXT NOT NULL,
        requested_at_us INTEGER NOT NULL,
        updated_at TEXT NOT NULL,
        updated_at_us INTEGER NOT NULL,
        transaction_id INTEGER,
        PRIMARY KEY (charge_point_id, reservation_id)
    )""",
    "CREATE INDEX IF NOT EXISTS reservations_live_by_expiry"
    f" ON reservations (expiry_date_us) WHERE {_LIVE_STATES_SQL}",
    """CREATE TABLE IF NOT EXISTS charging_profiles (
        charge_point_id TEXT NOT NULL,
        charging_profile_id INTEGER NOT NULL,
        connector_id INTEGER NOT NULL,
        purpose TEXT NOT NULL,
        stack_level INTEGER NOT NULL,
        transaction_id INTEGER,
        profile TEXT NOT NULL,
        PRIMARY KEY (charge_point_id, charging_profile_id),
        UNIQUE (charge_point_id, connector_id, purpose, stack_level)
    )""",
)


# --- values ---------------------------------------------------------------------------------

_CONVERTER = make_converter()
# Reading back: a value a relaxed validation policy let through (an enum value outside the
# enumeration, kept as a plain str) must read back too rather than make the row unreadable.
_READER = make_converter(lenient=True)


def _micros(value: datetime) -> int:
    """Microseconds since the Unix epoch: the instant, whatever the offset."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{value!r} is naive; stored date-times must be timezone-aware")
    return (value - _EPOCH) // _MICROSECOND


def _text(value: datetime) -> str:
    return datetime_to_wire(value)


def _opt_text(value: datetime | None) -> str | None:
    return None if value is None else datetime_to_wire(value)


def _opt_micros(value: datetime | None) -> int | None:
    return None if value is None else _micros(value)


def _when(text: str) -> datetime:
    return parse_datetime(text)


def _opt_when(text: str | None) -> datetime | None:
    return None if text is None else parse_datetime(text)


def _enum_text(value: Any) -> str:
    return str(value.value) if isinstance(value, Enum) else str(value)


def _opt_enum_text(value: Any) -> str | None:
    return None if value is None else _enum_text(value)


def _member(cls: type[Enum], text: str) -> Any:
    """The member of ``cls`` with value ``text``; the text itself when there is none."""
    try:
        return cls(text)
    except ValueError:
        return text


def _opt_member(cls: type[Enum], text: str | None) -> Any:
    return None if text is None else _member(cls, text)


def _dump(value: Any) -> str:
    """Canonical JSON of an unstructured value: sorted keys, no spaces."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# --- the database ---------------------------------------------------------------------------


class _Database:
    """One connection, opened in a worker thread on first use, used under one lock.

    Calls go to a worker thread through a capacity limiter of 1 (one per event loop, as anyio
    limiters belong to one), so waiting calls queue in the event loop rather than holding worker
    threads; the lock makes the connection safe whatever thread or event loop calls.
    """

    def __init__(self, path: str, *, timeout: float) -> None:
        self.path = path
        self._timeout = timeout
        self._lock = threading.Lock()
        self._limiters: RunVar[anyio.CapacityLimiter] = RunVar("ocpp16csms sqlite limiter")
        self._connection: sqlite3.Connection | None = None
        self._closed = False

    async def read(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        return await self._in_thread(self._run, work, "BEGIN")

    async def write(self, work: Callable[[sqlite3.Connection], _T]) -> _T:
        return await self._in_thread(self._run, work, "BEGIN IMMEDIATE")

    async def open(self) -> None:
        await self._in_thread(self._open_locked)

    async def aclose(self) -> None:
        await self._in_thread(self.close)

    async def _in_thread(self, function: Callable[[*_Ts], _T], *args: *_Ts) -> _T:
        limiter = self._limiters.get(None)
        if limiter is None:
            limiter = anyio.CapacityLimiter(1)
            self._limiters.set(limiter)
        return await anyio.to_thread.run_sync(function, *args, limiter=limiter)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            connection, self._connection = self._connection, None
            if connection is not None:
                try:
                    connection.close()
                except sqlite3.Error as exc:
                    raise StoreError(f"closing SQLite database {self.path!r}: {exc}") from exc

    def _open_locked(self) -> None:
        with self._lock:
            self._connect()

    def _run(self, work: Callable[[sqlite3.Connection], _T], begin: str) -> _T:
        with self._lock:
            connection = self._connect()
            try:
                connection.execute(begin)
                try:
                    result = work(connection)
                    connection.execute("COMMIT")
                except BaseException:
                    if connection.in_transaction:
                        connection.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise StoreError(f"SQLite database {self.path!r}: {exc}") from exc
            return result

    def _connect(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreError(f"the SQLite stores of {self.path!r} are closed")
        if self._connection is None:
            try:
                connection = sqlite3.connect(
                    self.path,
                    timeout=self._timeout,
                    isolation_level=None,  # transactions are begun and ended explicitly
                    check_same_thread=False,  # used from worker threads, under the lock
                )
            except sqlite3.Error as exc:
                raise StoreError(f"opening SQLite database {self.path!r}: {exc}") from exc
            try:
                _prepare(connection)
            except BaseException as exc:
                connection.close()
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"preparing SQLite database {self.path!r}: {exc}") from exc
                raise
            self._connection = connection
        return self._connection


def _prepare(connection: sqlite3.Connection) -> None:
    connection.row_factory = sqlite3.Row
    # WAL for files (an in-memory database answers "memory" and stays so); FULL so that a
    # committed write survives a power loss too: what was answered to a charge point is kept.
    connection.execute("PRAGMA journal_mode = WAL")
    connection.execute("PRAGMA synchronous = FULL")
    connection.execute("BEGIN IMMEDIATE")
    try:
        connection.execute(_SCHEMA[0])  # schema_version
        (version,) = connection.execute("SELECT max(version) FROM schema_version").fetchone()
        if version is not None and version > _SCHEMA_VERSION:
            raise StoreError(
                f"the database has schema version {version}; this library knows up to "
                f"{_SCHEMA_VERSION}"
            )
        for statement in _SCHEMA[1:]:
            connection.execute(statement)
        if version is None:
            connection.execute(
                "INSERT INTO schema_version (version) VALUES (?)", (_SCHEMA_VERSION,)
            )
        connection.execute("COMMIT")
    except BaseException:
        if connection.in_transaction:
            connection.execute("ROLLBACK")
        raise


class _SqliteStore:
    def __init__(self, database: _Database) -> None:
        self._db = database


# --- charge points --------------------------------------------------------------------------


# BootInfo as JSON under the BootNotification's own (camelCase) field names.
_BOOT_FIELDS = {wire_name(field.name): field.name for field in attrs.fields(BootInfo)}


def _boot_json(boot: BootInfo | None) -> str | None:
    if boot is None:
        return None
    values = {wire: getattr(boot, name) for wire, name in _BOOT_FIELDS.items()}
    return _dump({wire: value for wire, value in values.items() if value is not None})


def _boot(text: str | None) -> BootInfo | None:
    if text is None:
        return None
    return BootInfo(**{_BOOT_FIELDS[wire]: v for wire, v in json.loads(text).items()})


def _charge_point(row: sqlite3.Row) -> ChargePointRecord:
    return ChargePointRecord(
        charge_point_id=row["charge_point_id"],
        registration_status=_opt_member(RegistrationStatus, row["registration_status"]),
        security_profile=row["security_profile"],
        password_hash=row["password_hash"],
        boot=_boot(row["boot"]),
        last_boot_at=_opt_when(row["last_boot_at"]),
        last_seen=_opt_when(row["last_seen"]),
    )


def _connector_status(row: sqlite3.Row) -> ConnectorStatus:
    return ConnectorStatus(
        connector_id=row["connector_id"],
        status=_member(ChargePointStatus, row["status"]),
        error_code=_member(ChargePointErrorCode, row["error_code"]),
        timestamp=_when(row["timestamp"]),
        info=row["info"],
        vendor_id=row["vendor_id"],
        vendor_error_code=row["vendor_error_code"],
    )


class SqliteChargePointStore(_SqliteStore):
    """:class:`~ocpp16csms.stores.ChargePointStore` in SQLite (made by :func:`sqlite_stores`)."""

    async def get(self, charge_point_id: str) -> ChargePointRecord | None:
        def work(db: sqlite3.Connection) -> ChargePointRecord | None:
            row = db.execute(
                "SELECT * FROM charge_points WHERE charge_point_id = ?", (charge_point_id,)
            ).fetchone()
            return None if row is None else _charge_point(row)

        return await self._db.read(work)

    async def save(self, record: ChargePointRecord) -> None:
        values = (
            record.charge_point_id,
            _opt_enum_text(record.registration_status),
            record.security_profile,
            record.password_hash,
            _boot_json(record.boot),
            _opt_text(record.last_boot_at),
            _opt_micros(record.last_boot_at),
            _opt_text(record.last_seen),
            _opt_micros(record.last_seen),
        )

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO charge_points (charge_point_id, registration_status,"
                " security_profile, password_hash, boot, last_boot_at, last_boot_at_us,"
                " last_seen, last_seen_us) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                values,
            )

        await self._db.write(work)

    async def record_boot(
        self, charge_point_id: str, boot: BootInfo, status: RegistrationStatus, at: datetime
    ) -> None:
        values = (_boot_json(boot), _enum_text(status), _text(at), _micros(at), charge_point_id)

        def work(db: sqlite3.Connection) -> None:
            cursor = db.execute(
                "UPDATE charge_points SET boot = ?, registration_status = ?, last_boot_at = ?,"
                " last_boot_at_us = ? WHERE charge_point_id = ?",
                values,
            )
            if cursor.rowcount == 0:
                raise UnknownChargePoint(charge_point_id)

        await self._db.write(work)

    async def touch(self, charge_point_id: str, at: datetime) -> None:
        micros = _micros(at)
        values = (_text(at), micros, charge_point_id, micros)

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "UPDATE charge_points SET last_seen = ?, last_seen_us = ?"
                " WHERE charge_point_id = ? AND (last_seen_us IS NULL OR last_seen_us < ?)",
                values,
            )

        await self._db.write(work)

    async def set_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> bool:
        values = (
            charge_point_id,
            status.connector_id,
            _enum_text(status.status),
            _enum_text(status.error_code),
            _text(status.timestamp),
            _micros(status.timestamp),
            status.info,
            status.vendor_id,
            status.vendor_error_code,
        )

        def work(db: sqlite3.Connection) -> bool:
            # Newest wins; the same instant replaces (as a repeated report should).
            cursor = db.execute(
                "INSERT INTO connector_statuses (charge_point_id, connector_id, status,"
                " error_code, timestamp, timestamp_us, info, vendor_id, vendor_error_code)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (charge_point_id, connector_id) DO UPDATE SET"
                " status = excluded.status, error_code = excluded.error_code,"
                " timestamp = excluded.timestamp, timestamp_us = excluded.timestamp_us,"
                " info = excluded.info, vendor_id = excluded.vendor_id,"
                " vendor_error_code = excluded.vendor_error_code"
                " WHERE excluded.timestamp_us >= connector_statuses.timestamp_us",
                values,
            )
            return cursor.rowcount > 0

        return await self._db.write(work)

    async def connector_statuses(self, charge_point_id: str) -> Mapping[int, ConnectorStatus]:
        def work(db: sqlite3.Connection) -> dict[int, ConnectorStatus]:
            rows = db.execute(
                "SELECT * FROM connector_statuses WHERE charge_point_id = ? ORDER BY connector_id",
                (charge_point_id,),
            )
            return {row["connector_id"]: _connector_status(row) for row in rows}

        return await self._db.read(work)


# --- id tags --------------------------------------------------------------------------------


class SqliteIdTagStore(_SqliteStore):
    """:class:`~ocpp16csms.stores.IdTagStore` in SQLite (made by :func:`sqlite_stores`)."""

    async def get(self, id_tag: str) -> IdTagRecord | None:
        key = id_tag.casefold()

        def work(db: sqlite3.Connection) -> IdTagRecord | None:
            row = db.execute("SELECT * FROM id_tags WHERE id_tag_key = ?", (key,)).fetchone()
            if row is None:
                return None
            return IdTagRecord(
                id_tag=row["id_tag"],
                status=_member(AuthorizationStatus, row["status"]),
                expiry_date=_opt_when(row["expiry_date"]),
                parent_id_tag=row["parent_id_tag"],
            )

        return await self._db.read(work)

    async def save(self, record: IdTagRecord) -> None:
        values = (
            record.id_tag.casefold(),
            record.id_tag,
            _enum_text(record.status),
            _opt_text(record.expiry_date),
            _opt_micros(record.expiry_date),
            record.parent_id_tag,
        )

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO id_tags (id_tag_key, id_tag, status, expiry_date,"
                " expiry_date_us, parent_id_tag) VALUES (?, ?, ?, ?, ?, ?)",
                values,
            )

        await self._db.write(work)

    async def delete(self, id_tag: str) -> bool:
        key = id_tag.casefold()

        def work(db: sqlite3.Connection) -> bool:
            return db.execute("DELETE FROM id_tags WHERE id_tag_key = ?", (key,)).rowcount > 0

        return await self._db.write(work)


# --- transactions and meter values ----------------------------------------------------------


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
    return TransactionRecord(transaction_id=row["transaction_id"], start=start, stop=stop)


def _stored_meter_value(row: sqlite3.Row) -> StoredMeterValue:
    return StoredMeterValue(
        charge_point_id=row["charge_point_id"],
        connector_id=row["connector_id"],
        transaction_id=row["transaction_id"],
        meter_value=_READER.structure(json.loads(row["meter_value"]), MeterValue),
    )


class SqliteTransactionStore(_SqliteStore):
    """:class:`~ocpp16csms.stores.TransactionStore` in SQLite (made by :func:`sqlite_stores`).

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
        where = ["stop_timestamp IS NULL"]
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
            digest = hashlib.sha256(text.encode()).digest()
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


class SqliteConfigurationStore(_SqliteStore):
    """:class:`~ocpp16csms.stores.ConfigurationStore` in SQLite (made by :func:`sqlite_stores`).

    One row per charge point and key, with ``readonly`` and ``value`` as columns.
    """

    async def get(self, charge_point_id: str) -> Mapping[str, KeyValue]:
        def work(db: sqlite3.Connection) -> dict[str, KeyValue]:
            rows = db.execute(
                "SELECT key, readonly, value FROM configuration WHERE charge_point_id = ?"
                " ORDER BY rowid",
                (charge_point_id,),
            )
            return {
                row["key"]: KeyValue(
                    key=row["key"], readonly=bool(row["readonly"]), value=row["value"]
                )
                for row in rows
            }

        return await self._db.read(work)

    async def put(self, charge_point_id: str, entries: Iterable[KeyValue]) -> None:
        rows = [(charge_point_id, e.key, int(e.readonly), e.value) for e in entries]

        def work(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO configuration (charge_point_id, key, readonly, value)"
                " VALUES (?, ?, ?, ?) ON CONFLICT (charge_point_id, key) DO UPDATE SET"
                " readonly = excluded.readonly, value = excluded.value",
                rows,
            )

        await self._db.write(work)

    async def set_value(self, charge_point_id: str, key: str, value: str) -> None:
        def work(db: sqlite3.Connection) -> None:
            # A known key keeps its readonly flag; a new one is not readonly.
            db.execute(
                "INSERT INTO configuration (charge_point_id, key, readonly, value)"
                " VALUES (?, ?, 0, ?) ON CONFLICT (charge_point_id, key) DO UPDATE SET"
                " value = excluded.value",
                (charge_point_id, key, value),
            )

        await self._db.write(work)


# --- local lists ----------------------------------------------------------------------------


class SqliteLocalListStore(_SqliteStore):
    """:class:`~ocpp16csms.stores.LocalListStore` in SQLite (made by :func:`sqlite_stores`).

    One row per charge point: the version and the entries as one JSON array.
    """

    async def get(self, charge_point_id: str) -> LocalListState | None:
        def work(db: sqlite3.Connection) -> LocalListState | None:
            row = db.execute(
                "SELECT version, entries FROM local_lists WHERE charge_point_id = ?",
                (charge_point_id,),
            ).fetchone()
            if row is None:
                return None
            entries = tuple(
                _READER.structure(entry, AuthorizationData) for entry in json.loads(row["entries"])
            )
            return LocalListState(version=row["version"], entries=entries)

        return await self._db.read(work)

    async def save(self, charge_point_id: str, state: LocalListState) -> None:
        entries = _dump([_CONVERTER.unstructure(entry) for entry in state.entries])

        def work(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO local_lists (charge_point_id, version, entries)"
                " VALUES (?, ?, ?)",
                (charge_point_id, state.version, entries),
            )

        await self._db.write(work)


# --- reservations ---------------------------------------------------------------------------


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


def _installed(row: sqlite3.Row) -> InstalledChargingProfile:
    return InstalledChargingProfile(
        charge_point_id=row["charge_point_id"],
        connector_id=row["connector_id"],
        profile=_READER.structure(json.loads(row["profile"]), ChargingProfile),
    )


def _installed_of(
    db: sqlite3.Connection, charge_point_id: str, connector_id: int | None = None
) -> list[InstalledChargingProfile]:
    query = "SELECT * FROM charging_profiles WHERE charge_point_id = ?"
    params: tuple[object, ...] = (charge_point_id,)
    if connector_id is not None:
        query += " AND connector_id = ?"
        params = (charge_point_id, connector_id)
    rows = db.execute(query + " ORDER BY connector_id, charging_profile_id", params)
    return [_installed(row) for row in rows]


def _delete_profiles(db: sqlite3.Connection, items: Sequence[InstalledChargingProfile]) -> None:
    db.executemany(
        "DELETE FROM charging_profiles WHERE charge_point_id = ? AND charging_profile_id = ?",
        [(item.charge_point_id, item.profile.charging_profile_id) for item in items],
    )


class SqliteChargingProfileStore(_SqliteStore):
    """:class:`~ocpp16csms.stores.ChargingProfileStore` in SQLite (made by
    :func:`sqlite_stores`).

    The profile is JSON; its charge point, id, connector, purpose, stack level and transaction
    id are columns too. Which profiles an install replaces and a clear removes is decided by the
    shared rules :func:`~ocpp16csms.stores.replaces` and :func:`~ocpp16csms.stores.clear_matches`
    over the charge point's profiles, read and written in one transaction.
    """

    async def installed(
        self, charge_point_id: str, *, connector_id: int | None = None
    ) -> Sequence[InstalledChargingProfile]:
        def work(db: sqlite3.Connection) -> list[InstalledChargingProfile]:
            return _installed_of(db, charge_point_id, connector_id)

        return await self._db.read(work)

    async def install(self, item: InstalledChargingProfile) -> Sequence[InstalledChargingProfile]:
        profile = item.profile
        values = (
            item.charge_point_id,
            profile.charging_profile_id,
            item.connector_id,
            _enum_text(profile.charging_profile_purpose),
            profile.stack_level,
            profile.transaction_id,
            _dump(_CONVERTER.unstructure(profile)),
        )

        def work(db: sqlite3.Connection) -> list[InstalledChargingProfile]:
            removed = [
                old for old in _installed_of(db, item.charge_point_id) if replaces(item, old)
            ]
            _delete_profiles(db, removed)
            db.execute(
                "INSERT INTO charging_profiles (charge_point_id, charging_profile_id,"
                " connector_id, purpose, stack_level, transaction_id, profile)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                values,
            )
            return removed

        return await self._db.write(work)

    async def clear(
        self,
        charge_point_id: str,
        *,
        charging_profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: ChargingProfilePurposeType | None = None,
        stack_level: int | None = None,
    ) -> Sequence[InstalledChargingProfile]:
        def hit(item: InstalledChargingProfile) -> bool:
            return clear_matches(
                item,
                charging_profile_id=charging_profile_id,
                connector_id=connector_id,
                purpose=purpose,
                stack_level=stack_level,
            )

        return await self._remove(charge_point_id, hit)

    async def drop_transaction_profiles(
        self, charge_point_id: str, transaction_id: int, *, connector_id: int | None = None
    ) -> Sequence[InstalledChargingProfile]:
        def hit(item: InstalledChargingProfile) -> bool:
            profile = item.profile
            if profile.charging_profile_purpose is not ChargingProfilePurposeType.TX_PROFILE:
                return False
            if profile.transaction_id is None:
                return connector_id is not None and item.connector_id == connector_id
            return profile.transaction_id == transaction_id

        return await self._remove(charge_point_id, hit)

    async def _remove(
        self, charge_point_id: str, hit: Callable[[InstalledChargingProfile], bool]
    ) -> Sequence[InstalledChargingProfile]:
        def work(db: sqlite3.Connection) -> list[InstalledChargingProfile]:
            removed = [item for item in _installed_of(db, charge_point_id) if hit(item)]
            _delete_profiles(db, removed)
            return removed

        return await self._db.write(work)


# --- the store set --------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SqliteStores(Stores):
    """A complete :class:`~ocpp16csms.stores.Stores` over one SQLite database.

    Made by :func:`sqlite_stores`; pass it wherever a ``Stores`` goes. The connection opens on
    first use (or on ``async with`` / :meth:`open`); close it with :meth:`aclose` (or
    :meth:`close` from synchronous code, or by leaving ``async with``). Once closed, every store
    method raises :class:`~ocpp16csms.stores.StoreError`.
    """

    _database: _Database = attrs.field(alias="database", repr=False, eq=False)

    @property
    def path(self) -> str:
        """The database file (``":memory:"`` for a private in-memory database)."""
        return self._database.path

    async def open(self) -> None:
        """Open the database and create the schema now rather than on first use."""
        await self._database.open()

    async def aclose(self) -> None:
        """Close the connection (after the call in progress, if any); idempotent."""
        await self._database.aclose()

    def close(self) -> None:
        """:meth:`aclose` for synchronous code (blocks while a call is in progress)."""
        self._database.close()

    async def __aenter__(self) -> SqliteStores:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def sqlite_stores(
    path: str | os.PathLike[str] = ":memory:", *, timeout: float = 5.0
) -> SqliteStores:
    """All seven stores over the SQLite database at ``path`` (created when missing).

    The default ``":memory:"`` is a private database that lives until the stores are closed.
    ``timeout`` is how many seconds a write waits for another connection's lock on the same file
    before failing with :class:`~ocpp16csms.stores.StoreError`. Nothing is opened here; the
    database is opened and its schema created in a worker thread on first use.
    """
    database = _Database(os.fspath(path), timeout=timeout)
    return SqliteStores(
        charge_points=SqliteChargePointStore(database),
        id_tags=SqliteIdTagStore(database),
        transactions=SqliteTransactionStore(database),
        configuration=SqliteConfigurationStore(database),
        local_lists=SqliteLocalListStore(database),
        reservations=SqliteReservationStore(database),
        charging_profiles=SqliteChargingProfileStore(database),
        database=database,
    )
