"""SQLite store of charge points and connector statuses."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from datetime import datetime

import attrs

from ...converter import wire_name
from ...enums import (
    ChargePointErrorCode,
    ChargePointStatus,
    RegistrationStatus,
)
from ..records import (
    BootInfo,
    ChargePointRecord,
    ConnectorStatus,
    UnknownChargePoint,
)
from ._database import (
    _dump,
    _enum_text,
    _member,
    _micros,
    _opt_enum_text,
    _opt_member,
    _opt_micros,
    _opt_text,
    _opt_when,
    _SqliteStore,
    _text,
    _when,
)

__all__ = ["SqliteChargePointStore"]


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
