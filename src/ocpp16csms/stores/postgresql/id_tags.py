""":class:`~ocpp16csms.stores.IdTagStore` in PostgreSQL."""

from __future__ import annotations

from ...enums import AuthorizationStatus
from ..records import IdTagRecord
from ._database import Cursor, PostgresStore
from ._values import (
    enum_text,
    member,
    opt_instant,
    opt_offset_text,
    opt_text,
    opt_when,
    read_opt_text,
    read_text,
    text,
)

__all__ = ["PostgresIdTagStore"]


class PostgresIdTagStore(PostgresStore):
    """:class:`~ocpp16csms.stores.IdTagStore` in PostgreSQL (made by
    :func:`~ocpp16csms.stores.postgresql.postgresql_stores`): keyed by ``id_tag.casefold()``,
    with the spelling given kept beside it. Every method is one statement."""

    async def get(self, id_tag: str) -> IdTagRecord | None:
        key = text(id_tag.casefold())

        def work(cursor: Cursor) -> IdTagRecord | None:
            row = cursor.execute("SELECT * FROM id_tags WHERE id_tag_key = %s", (key,)).fetchone()
            if row is None:
                return None
            return IdTagRecord(
                id_tag=read_text(row["id_tag"]),
                status=member(AuthorizationStatus, row["status"]),
                expiry_date=opt_when(row["expiry_date"], row["expiry_date_offset"]),
                parent_id_tag=read_opt_text(row["parent_id_tag"]),
            )

        return await self._db.read(work)

    async def save(self, record: IdTagRecord) -> None:
        values = (
            text(record.id_tag.casefold()),
            text(record.id_tag),
            enum_text(record.status),
            opt_instant(record.expiry_date),
            opt_offset_text(record.expiry_date),
            opt_text(record.parent_id_tag),
        )

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "INSERT INTO id_tags (id_tag_key, id_tag, status, expiry_date,"
                " expiry_date_offset, parent_id_tag) VALUES (%s, %s, %s, %s, %s::interval, %s)"
                " ON CONFLICT (id_tag_key) DO UPDATE SET id_tag = excluded.id_tag,"
                " status = excluded.status, expiry_date = excluded.expiry_date,"
                " expiry_date_offset = excluded.expiry_date_offset,"
                " parent_id_tag = excluded.parent_id_tag",
                values,
            )

        await self._db.write_one(work)

    async def delete(self, id_tag: str) -> bool:
        key = text(id_tag.casefold())

        def work(cursor: Cursor) -> bool:
            cursor.execute("DELETE FROM id_tags WHERE id_tag_key = %s", (key,))
            return cursor.rowcount > 0

        return await self._db.write_one(work)
