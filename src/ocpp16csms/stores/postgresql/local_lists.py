""":class:`~ocpp16csms.stores.LocalListStore` in PostgreSQL."""

from __future__ import annotations

from ...datatypes import AuthorizationData
from ...profiles.local_auth_list.store import LocalListState
from .._lossless import dump_value, load_values
from ._database import Cursor, PostgresStore
from ._values import text

__all__ = ["PostgresLocalListStore"]


class PostgresLocalListStore(PostgresStore):
    """:class:`~ocpp16csms.stores.LocalListStore` in PostgreSQL (made by
    :func:`~ocpp16csms.stores.postgresql.postgresql_stores`).

    One row per charge point: the version and the entries as one JSON array, written by one
    upsert, so a reader in any process sees a version with its own entries, never a mix.
    """

    async def get(self, charge_point_id: str) -> LocalListState | None:
        key = text(charge_point_id)

        def work(cursor: Cursor) -> LocalListState | None:
            row = cursor.execute(
                "SELECT version, entries FROM local_lists WHERE charge_point_id = %s", (key,)
            ).fetchone()
            if row is None:
                return None
            entries = load_values(row["entries"], AuthorizationData)
            return LocalListState(version=row["version"], entries=entries)

        return await self._db.read(work)

    async def save(self, charge_point_id: str, state: LocalListState) -> None:
        values = (text(charge_point_id), state.version, dump_value(list(state.entries)))

        def work(cursor: Cursor) -> None:
            cursor.execute(
                "INSERT INTO local_lists (charge_point_id, version, entries) VALUES (%s, %s, %s)"
                " ON CONFLICT (charge_point_id) DO UPDATE SET"
                " version = excluded.version, entries = excluded.entries",
                values,
            )

        await self._db.write_one(work)
