"""The SQLite database the stores share: schema, migration, a worker thread, conversions."""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any, TypeVar, TypeVarTuple

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

from ...converter import datetime_to_wire, make_converter, parse_datetime
from ...profiles.reservation.lifecycle import LIVE_STATES
from ..records import (
    StoreError,
)

__all__: list[str] = []

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")

# The schema this module writes; a database with a higher version is refused (written by a newer
# library), a lower one is migrated step by step (_MIGRATIONS) before the schema is ensured.
# Versions: 1, the first; 2 marks transactions ended-unconfirmed (and adds unmatched_stops);
# 3 adds the Plug & Charge tables (pnc_*), made by the CREATE TABLE IF NOT EXISTS below.
_SCHEMA_VERSION = 3
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
        unconfirmed_meter_stop INTEGER,
        unconfirmed_timestamp TEXT,
        unconfirmed_cause TEXT,
        unconfirmed_detected_at TEXT,
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
    """CREATE TABLE IF NOT EXISTS unmatched_stops (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        charge_point_id TEXT NOT NULL,
        transaction_id INTEGER NOT NULL,
        meter_stop INTEGER NOT NULL,
        stop_timestamp TEXT NOT NULL,
        stop_timestamp_us INTEGER NOT NULL,
        stop_reason TEXT,
        stop_id_tag TEXT,
        cause TEXT NOT NULL,
        received_at TEXT NOT NULL,
        transaction_data TEXT NOT NULL,
        UNIQUE (charge_point_id, transaction_id, meter_stop, stop_timestamp_us)
    )""",
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
    # --- version 2: Plug & Charge ---
    """CREATE TABLE IF NOT EXISTS pnc_installed_certificates (
        charge_point_id TEXT NOT NULL,
        certificate_type TEXT NOT NULL,
        certificate_key TEXT NOT NULL,
        hash_data TEXT NOT NULL,
        child_hash_data TEXT NOT NULL,
        certificate TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (charge_point_id, certificate_type, certificate_key)
    )""",
    """CREATE TABLE IF NOT EXISTS pnc_signing_requests (
        charge_point_id TEXT NOT NULL,
        request_id TEXT NOT NULL,
        csr TEXT NOT NULL,
        certificate_type TEXT NOT NULL,
        received_at TEXT NOT NULL,
        received_at_us INTEGER NOT NULL,
        attempts INTEGER NOT NULL,
        last_error TEXT,
        PRIMARY KEY (charge_point_id, request_id)
    )""",
    """CREATE TABLE IF NOT EXISTS pnc_v2g_certificates (
        charge_point_id TEXT PRIMARY KEY,
        not_after TEXT NOT NULL,
        not_after_us INTEGER NOT NULL,
        installed_at TEXT NOT NULL,
        certificate_chain TEXT,
        renewal_requested_at TEXT
    )""",
    """CREATE INDEX IF NOT EXISTS pnc_v2g_certificates_by_expiry
        ON pnc_v2g_certificates (not_after_us)""",
)

# Statements that bring a database of version n - 1 to version n, run before _SCHEMA (whose
# CREATE ... IF NOT EXISTS makes the tables and indexes a version adds).
_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 2: transactions marked ended-unconfirmed (and the unmatched_stops table, from _SCHEMA).
    2: tuple(
        f"ALTER TABLE transactions ADD COLUMN {column}"
        for column in (
            "unconfirmed_meter_stop INTEGER",
            "unconfirmed_timestamp TEXT",
            "unconfirmed_cause TEXT",
            "unconfirmed_detected_at TEXT",
        )
    ),
    # 3: the Plug & Charge tables only, which the schema statements create.
    3: (),
}

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


# --- text that is not valid Unicode ------------------------------------------------------------

# A peer may send a lone surrogate (JSON "\ud800"); it is valid input and must be kept, but
# SQLite text is UTF-8, which cannot hold one. Such a string is bound as a BLOB holding its
# UTF-8 bytes with the surrogates passed through, and read back from the BLOB: lossless, and
# equal strings still compare equal in SQL. Every other string is stored as TEXT, unchanged.
_BLOB_COLUMNS = frozenset({"value_sha256"})


def _bind(value: object) -> object:
    if type(value) is str and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return value.encode("utf-8", "surrogatepass")
    return value


def _bound(parameters: Any) -> Any:
    if isinstance(parameters, Mapping):
        return {name: _bind(value) for name, value in parameters.items()}
    return tuple(_bind(value) for value in parameters)


def _row(cursor: sqlite3.Cursor, values: tuple[Any, ...]) -> sqlite3.Row:
    if any(type(value) is bytes for value in values):
        names = [column[0] for column in cursor.description]
        values = tuple(
            value.decode("utf-8", "surrogatepass")
            if type(value) is bytes and name not in _BLOB_COLUMNS
            else value
            for name, value in zip(names, values, strict=True)
        )
    return sqlite3.Row(cursor, values)


class _Connection(sqlite3.Connection):
    """A connection that binds strings holding lone surrogates losslessly (see above)."""

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return super().execute(sql, _bound(parameters))

    def executemany(self, sql: str, parameters: Iterable[Any], /) -> sqlite3.Cursor:
        return super().executemany(sql, (_bound(p) for p in parameters))


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
                    factory=_Connection,
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
    connection.row_factory = _row
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
        if version is not None:
            for step in range(version + 1, _SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[step]:
                    connection.execute(statement)
        for statement in _SCHEMA[1:]:
            connection.execute(statement)
        if version is None:
            connection.execute(
                "INSERT INTO schema_version (version) VALUES (?)", (_SCHEMA_VERSION,)
            )
        elif version < _SCHEMA_VERSION:
            connection.execute("UPDATE schema_version SET version = ?", (_SCHEMA_VERSION,))
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
