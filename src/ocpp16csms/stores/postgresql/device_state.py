""":class:`~ocpp16csms.stores.device_state.DeviceStateStore` in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from ...enums import LogType
from ..device_state import (
    STATUS_TYPES,
    SecurityEventRecord,
    TransferKind,
    TransferRequest,
    TransferStatus,
    kind_set,
)
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

__all__ = ["PostgresDeviceStateStore"]

# Request ids are nullable; the unique indexes hold "is NULL" and the id with NULL as 0.
_KEY_COLUMNS = "charge_point_id, kind, (request_id IS NULL), (coalesce(request_id, 0))"
_KEY = "charge_point_id = %s AND kind = %s AND request_id IS NOT DISTINCT FROM %s"


def _request(row: Mapping[str, Any]) -> TransferRequest:
    return TransferRequest(
        charge_point_id=read_text(row["charge_point_id"]),
        kind=TransferKind(row["kind"]),
        request_id=row["request_id"],
        location=read_text(row["location"]),
        requested_at=when(row["requested_at"], row["requested_at_offset"]),
        retrieve_date=opt_when(row["retrieve_date"], row["retrieve_date_offset"]),
        install_date=opt_when(row["install_date"], row["install_date_offset"]),
        retries=row["retries"],
        retry_interval=row["retry_interval"],
        start_time=opt_when(row["start_time"], row["start_time_offset"]),
        stop_time=opt_when(row["stop_time"], row["stop_time_offset"]),
        log_type=opt_member(LogType, row["log_type"]),
        file_name=read_opt_text(row["file_name"]),
    )


def _status(row: Mapping[str, Any]) -> TransferStatus:
    kind = TransferKind(row["kind"])
    return TransferStatus(
        charge_point_id=read_text(row["charge_point_id"]),
        kind=kind,
        request_id=row["request_id"],
        status=member(STATUS_TYPES[kind], row["status"]),
        received_at=when(row["received_at"], row["received_at_offset"]),
    )


def _event(row: Mapping[str, Any]) -> SecurityEventRecord:
    return SecurityEventRecord(
        charge_point_id=read_text(row["charge_point_id"]),
        type=read_text(row["type"]),
        timestamp=when(row["timestamp"], row["timestamp_offset"]),
        tech_info=read_opt_text(row["tech_info"]),
        received_at=when(row["received_at"], row["received_at_offset"]),
    )


def _request_order(request: TransferRequest) -> tuple[datetime, str, bool, int]:
    rid = request.request_id
    return request.requested_at, request.kind.value, rid is not None, rid or 0


class PostgresDeviceStateStore(PostgresStore):
    """:class:`~ocpp16csms.stores.device_state.DeviceStateStore` in PostgreSQL (made by
    :func:`~ocpp16csms.stores.postgresql.postgresql_stores`). Every write is one statement:
    an upsert keyed by charge point, kind and request id, or an insert that a unique index on
    the event's fields turns into nothing for a resent security event."""

    async def record_request(self, request: TransferRequest) -> None:
        values = (
            text(request.charge_point_id),
            TransferKind(request.kind).value,
            request.request_id,
            text(request.location),
            instant(request.requested_at),
            offset_text(request.requested_at),
            opt_instant(request.retrieve_date),
            opt_offset_text(request.retrieve_date),
            opt_instant(request.install_date),
            opt_offset_text(request.install_date),
            request.retries,
            request.retry_interval,
            opt_instant(request.start_time),
            opt_offset_text(request.start_time),
            opt_instant(request.stop_time),
            opt_offset_text(request.stop_time),
            opt_enum_text(request.log_type),
            opt_text(request.file_name),
        )
        replaced = (
            "location, requested_at, requested_at_offset, retrieve_date, retrieve_date_offset,"
            " install_date, install_date_offset, retries, retry_interval, start_time,"
            " start_time_offset, stop_time, stop_time_offset, log_type, file_name"
        )
        updates = ", ".join(f"{c} = excluded.{c}" for c in replaced.replace(" ", "").split(","))

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "INSERT INTO transfer_requests (charge_point_id, kind, request_id,"
                f" {replaced}) VALUES (%s, %s, %s, %s, %s, %s::interval, %s, %s::interval, %s,"
                " %s::interval, %s, %s, %s, %s::interval, %s, %s::interval, %s, %s)"
                f" ON CONFLICT ({_KEY_COLUMNS}) DO UPDATE SET {updates}",
                values,
            )

        await self._db.write_one(work)

    async def request(
        self, charge_point_id: str, kind: TransferKind, request_id: int | None = None
    ) -> TransferRequest | None:
        key = (text(charge_point_id), TransferKind(kind).value, request_id)

        def work(cursor: Cursor) -> TransferRequest | None:
            row = cursor.execute(f"SELECT * FROM transfer_requests WHERE {_KEY}", key).fetchone()
            return None if row is None else _request(row)

        return await self._db.read(work)

    async def requests(
        self, charge_point_id: str, *, kind: TransferKind | None = None
    ) -> Sequence[TransferRequest]:
        query = "SELECT * FROM transfer_requests WHERE charge_point_id = %s"
        params: tuple[object, ...] = (text(charge_point_id),)
        if kind is not None:
            query += " AND kind = %s"
            params = (*params, TransferKind(kind).value)

        def work(cursor: Cursor) -> list[TransferRequest]:
            found = [_request(row) for row in cursor.execute(query, params).fetchall()]
            return sorted(found, key=_request_order)

        return await self._db.read(work)

    async def record_status(self, status: TransferStatus) -> bool:
        values = (
            text(status.charge_point_id),
            TransferKind(status.kind).value,
            status.request_id,
            enum_text(status.status),
            instant(status.received_at),
            offset_text(status.received_at),
        )

        def work(cursor: Cursor) -> bool:
            # Newest wins in one statement; a replacing write takes a new sequence number, so
            # of equal instants the last written is the newest.
            cursor.execute(
                "INSERT INTO transfer_statuses (charge_point_id, kind, request_id, status,"
                " received_at, received_at_offset) VALUES (%s, %s, %s, %s, %s, %s::interval)"
                f" ON CONFLICT ({_KEY_COLUMNS}) DO UPDATE SET seq = excluded.seq,"
                " status = excluded.status, received_at = excluded.received_at,"
                " received_at_offset = excluded.received_at_offset"
                " WHERE excluded.received_at >= transfer_statuses.received_at",
                values,
            )
            return cursor.rowcount > 0

        return await self._db.write_one(work)

    async def status(
        self, charge_point_id: str, kind: TransferKind, request_id: int | None = None
    ) -> TransferStatus | None:
        key = (text(charge_point_id), TransferKind(kind).value, request_id)

        def work(cursor: Cursor) -> TransferStatus | None:
            row = cursor.execute(f"SELECT * FROM transfer_statuses WHERE {_KEY}", key).fetchone()
            return None if row is None else _status(row)

        return await self._db.read(work)

    async def latest_status(
        self, charge_point_id: str, kinds: TransferKind | Iterable[TransferKind]
    ) -> TransferStatus | None:
        wanted = sorted(kind.value for kind in kind_set(kinds))
        if not wanted:
            return None
        params = (text(charge_point_id), wanted)

        def work(cursor: Cursor) -> TransferStatus | None:
            row = cursor.execute(
                "SELECT * FROM transfer_statuses WHERE charge_point_id = %s AND kind = ANY(%s)"
                " ORDER BY received_at DESC, seq DESC LIMIT 1",
                params,
            ).fetchone()
            return None if row is None else _status(row)

        return await self._db.read(work)

    async def add_security_event(self, event: SecurityEventRecord) -> bool:
        values = (
            text(event.charge_point_id),
            text(event.type),
            instant(event.timestamp),
            offset_text(event.timestamp),
            opt_text(event.tech_info),
            instant(event.received_at),
            offset_text(event.received_at),
        )

        def work(cursor: Cursor) -> bool:
            cursor.execute(
                'INSERT INTO security_events (charge_point_id, type, "timestamp",'
                " timestamp_offset, tech_info, received_at, received_at_offset)"
                " VALUES (%s, %s, %s, %s::interval, %s, %s, %s::interval)"
                " ON CONFLICT DO NOTHING",
                values,
            )
            return cursor.rowcount > 0

        return await self._db.write_one(work)

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
        query = "SELECT * FROM security_events WHERE charge_point_id = %s"
        params: list[object] = [text(charge_point_id)]
        if since is not None:
            query += ' AND "timestamp" >= %s'
            params.append(instant(since))
        if until is not None:
            query += ' AND "timestamp" < %s'
            params.append(instant(until))
        query += ' ORDER BY "timestamp", seq'
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)

        def work(cursor: Cursor) -> list[SecurityEventRecord]:
            return [_event(row) for row in cursor.execute(query, params).fetchall()]

        return await self._db.read(work)
