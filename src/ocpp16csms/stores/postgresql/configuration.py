""":class:`~ocpp16csms.stores.ConfigurationStore` in PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ...datatypes import KeyValue
from ._database import Cursor, PostgresStore
from ._values import opt_text, read_opt_text, read_text, text

__all__ = ["PostgresConfigurationStore"]


class PostgresConfigurationStore(PostgresStore):
    """:class:`~ocpp16csms.stores.ConfigurationStore` in PostgreSQL (made by
    :func:`~ocpp16csms.stores.postgresql.postgresql_stores`).

    One row per charge point and key; keys read back in the order they were first stored.
    Each write is one upsert statement, so writes from several processes never lose one
    another's keys, and :meth:`set_value` keeps the readonly flag whatever runs beside it.
    """

    async def get(self, charge_point_id: str) -> Mapping[str, KeyValue]:
        key = text(charge_point_id)

        def work(cursor: Cursor) -> dict[str, KeyValue]:
            rows = cursor.execute(
                "SELECT key, readonly, value FROM configuration WHERE charge_point_id = %s"
                " ORDER BY seq",
                (key,),
            ).fetchall()
            entries = (
                KeyValue(
                    key=read_text(row["key"]),
                    readonly=row["readonly"],
                    value=read_opt_text(row["value"]),
                )
                for row in rows
            )
            return {entry.key: entry for entry in entries}

        return await self._db.read(work)

    async def put(self, charge_point_id: str, entries: Iterable[KeyValue]) -> None:
        # The last entry of a key wins, at the place of its first (as a dict update does); one
        # statement may not touch a row twice, so duplicates are merged here.
        merged = {entry.key: entry for entry in entries}
        if not merged:
            return
        cp = text(charge_point_id)
        params: list[object] = []
        for entry in merged.values():
            params += (cp, text(entry.key), entry.readonly, opt_text(entry.value))
        placeholders = ", ".join(["(%s, %s, %s, %s)"] * len(merged))
        query = (
            "INSERT INTO configuration (charge_point_id, key, readonly, value)"
            f" VALUES {placeholders} ON CONFLICT (charge_point_id, key) DO UPDATE SET"
            " readonly = excluded.readonly, value = excluded.value"
        )

        def work(cursor: Cursor) -> None:
            cursor.execute(query, params)

        await self._db.write_one(work)

    async def set_value(self, charge_point_id: str, key: str, value: str) -> None:
        values = (text(charge_point_id), text(key), text(value))

        def work(cursor: Cursor) -> None:
            # A known key keeps its readonly flag; a new one is not readonly.
            cursor.execute(
                "INSERT INTO configuration (charge_point_id, key, readonly, value)"
                " VALUES (%s, %s, false, %s) ON CONFLICT (charge_point_id, key) DO UPDATE SET"
                " value = excluded.value",
                values,
            )

        await self._db.write_one(work)
