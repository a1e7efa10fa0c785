"""SQLite store of the configuration charge points report."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Mapping

from ...datatypes import KeyValue
from ._database import (
    _SqliteStore,
)

__all__ = ["SqliteConfigurationStore"]


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
