""":class:`~ocpp16csms.stores.ChargePointStore` in PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from ...converter import wire_name
from ...enums import ChargePointErrorCode, ChargePointStatus, RegistrationStatus
from .._lossless import dump_value, unescape_text
from ..records import BootInfo, ChargePointRecord, ConnectorStatus, UnknownChargePoint
from ._database import Cursor, PostgresStore
from ._values import (
    enum_text,
    instant,
    member,
    offset_text,
    opt_enum_text,
    opt_instant,
    opt_member,
    opt_offset_text,
    opt_text,
    opt_when,
    read_opt_text,
    read_text,
    text,
    when,
)

__all__ = ["PostgresChargePointStore"]

# BootInfo as JSON under the BootNotification's own (camelCase) field names.
_BOOT_FIELDS = {wire_name(field.name): field.name for field in attrs.fields(BootInfo)}


def _boot(stored: str | None) -> BootInfo | None:
    if stored is None:
        return None
    values = json.loads(unescape_text(stored))
    return BootInfo(**{_BOOT_FIELDS[wire]: value for wire, value in values.items()})


def _charge_point(row: Mapping[str, Any]) -> ChargePointRecord:
    return ChargePointRecord(
        charge_point_id=read_text(row["charge_point_id"]),
        registration_status=opt_member(RegistrationStatus, row["registration_status"]),
        security_profile=row["security_profile"],
        password_hash=read_opt_text(row["password_hash"]),
        boot=_boot(row["boot"]),
        last_boot_at=opt_when(row["last_boot_at"], row["last_boot_at_offset"]),
        last_seen=opt_when(row["last_seen"], row["last_seen_offset"]),
    )


def _connector_status(row: Mapping[str, Any]) -> ConnectorStatus:
    return ConnectorStatus(
        connector_id=row["connector_id"],
        status=member(ChargePointStatus, row["status"]),
        error_code=member(ChargePointErrorCode, row["error_code"]),
        timestamp=when(row["timestamp"], row["timestamp_offset"]),
        info=read_opt_text(row["info"]),
        vendor_id=read_opt_text(row["vendor_id"]),
        vendor_error_code=read_opt_text(row["vendor_error_code"]),
    )


class PostgresChargePointStore(PostgresStore):
    """:class:`~ocpp16csms.stores.ChargePointStore` in PostgreSQL (made by
    :func:`~ocpp16csms.stores.postgresql.postgresql_stores`). Every method is one statement."""

    async def get(self, charge_point_id: str) -> ChargePointRecord | None:
        key = text(charge_point_id)

        def work(cursor: Cursor) -> ChargePointRecord | None:
            row = cursor.execute(
                "SELECT * FROM charge_points WHERE charge_point_id = %s", (key,)
            ).fetchone()
            return None if row is None else _charge_point(row)

        return await self._db.read(work)

    async def save(self, record: ChargePointRecord) -> None:
        values = (
            text(record.charge_point_id),
            opt_enum_text(record.registration_status),
            record.security_profile,
            opt_text(record.password_hash),
            None if record.boot is None else dump_value(record.boot),
            opt_instant(record.last_boot_at),
            opt_offset_text(record.last_boot_at),
            opt_instant(record.last_seen),
            opt_offset_text(record.last_seen),
        )

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "INSERT INTO charge_points (charge_point_id, registration_status,"
                " security_profile, password_hash, boot, last_boot_at, last_boot_at_offset,"
                " last_seen, last_seen_offset)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s::interval, %s, %s::interval)"
                " ON CONFLICT (charge_point_id) DO UPDATE SET"
                " registration_status = excluded.registration_status,"
                " security_profile = excluded.security_profile,"
                " password_hash = excluded.password_hash, boot = excluded.boot,"
                " last_boot_at = excluded.last_boot_at,"
                " last_boot_at_offset = excluded.last_boot_at_offset,"
                " last_seen = excluded.last_seen, last_seen_offset = excluded.last_seen_offset",
                values,
            )

        await self._db.write_one(work)

    async def record_boot(
        self, charge_point_id: str, boot: BootInfo, status: RegistrationStatus, at: datetime
    ) -> None:
        values = (
            dump_value(boot),
            enum_text(status),
            instant(at),
            offset_text(at),
            text(charge_point_id),
        )

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "UPDATE charge_points SET boot = %s, registration_status = %s,"
                " last_boot_at = %s, last_boot_at_offset = %s::interval"
                " WHERE charge_point_id = %s",
                values,
            )
            if cursor.rowcount == 0:
                raise UnknownChargePoint(charge_point_id)

        await self._db.write_one(work)

    async def touch(self, charge_point_id: str, at: datetime) -> None:
        values = (instant(at), offset_text(at), text(charge_point_id), at)

        def work(cursor: Cursor) -> None:
            # Only forward: the comparison and the write are one statement, so a late touch
            # from another process never moves last_seen back.
            cursor.execute(
                "UPDATE charge_points SET last_seen = %s, last_seen_offset = %s::interval"
                " WHERE charge_point_id = %s AND (last_seen IS NULL OR last_seen < %s)",
                values,
            )

        await self._db.write_one(work)

    async def set_connector_status(self, charge_point_id: str, status: ConnectorStatus) -> bool:
        values = (
            text(charge_point_id),
            status.connector_id,
            enum_text(status.status),
            enum_text(status.error_code),
            instant(status.timestamp),
            offset_text(status.timestamp),
            opt_text(status.info),
            opt_text(status.vendor_id),
            opt_text(status.vendor_error_code),
        )

        def work(cursor: Cursor) -> bool:
            # Newest wins; the same instant replaces (as a repeated report should).
            cursor.execute(
                "INSERT INTO connector_statuses (charge_point_id, connector_id, status,"
                ' error_code, "timestamp", timestamp_offset, info, vendor_id, vendor_error_code)'
                " VALUES (%s, %s, %s, %s, %s, %s::interval, %s, %s, %s)"
                " ON CONFLICT (charge_point_id, connector_id) DO UPDATE SET"
                " status = excluded.status, error_code = excluded.error_code,"
                ' "timestamp" = excluded."timestamp",'
                " timestamp_offset = excluded.timestamp_offset, info = excluded.info,"
                " vendor_id = excluded.vendor_id, vendor_error_code = excluded.vendor_error_code"
                ' WHERE excluded."timestamp" >= connector_statuses."timestamp"',
                values,
            )
            return cursor.rowcount > 0

        return await self._db.write_one(work)

    async def connector_statuses(self, charge_point_id: str) -> Mapping[int, ConnectorStatus]:
        key = text(charge_point_id)

        def work(cursor: Cursor) -> dict[int, ConnectorStatus]:
            rows = cursor.execute(
                "SELECT * FROM connector_statuses WHERE charge_point_id = %s ORDER BY connector_id",
                (key,),
            ).fetchall()
            return {row["connector_id"]: _connector_status(row) for row in rows}

        return await self._db.read(work)
