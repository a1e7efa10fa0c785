"""SQLite store of id tags."""

from __future__ import annotations

import sqlite3

from ...enums import (
    AuthorizationStatus,
)
from ..records import (
    IdTagRecord,
)
from ._database import (
    _enum_text,
    _member,
    _opt_micros,
    _opt_text,
    _opt_when,
    _SqliteStore,
)

__all__ = ["SqliteIdTagStore"]


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
