"""Plug in your own store: id tags from a SQLite table (standard library only).

    python examples/custom_store.py

A store is any object with the protocol's async methods (``ocpp16csms.stores.IdTagStore``
here); the rest of the stores stay in memory. Blocking database calls run in a worker thread
so they never stall the event loop.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime

import anyio
import anyio.to_thread
import attrs

from ocpp16csms import (
    CentralSystem,
    ChargePointRecord,
    IdTagRecord,
    memory_stores,
)
from ocpp16csms.messages import (
    AuthorizationStatus,
    RegistrationStatus,
)
from ocpp16csms.testing import (
    ChargePointSimulator,
    memory_connection_pair,
)


class SqliteIdTagStore:
    """``IdTagStore`` over a SQLite table; id tags compare case-insensitively (CiString20)."""

    def __init__(self, path: str = ":memory:") -> None:
        self.db = sqlite3.connect(path, check_same_thread=False)
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS id_tags (key TEXT PRIMARY KEY, id_tag TEXT, status TEXT,"
            " expiry TEXT, parent TEXT)"
        )

    async def get(self, id_tag: str) -> IdTagRecord | None:
        row = await anyio.to_thread.run_sync(
            lambda: self.db.execute(
                "SELECT id_tag, status, expiry, parent FROM id_tags WHERE key = ?",
                (id_tag.casefold(),),
            ).fetchone()
        )
        if row is None:
            return None
        tag, status, expiry, parent = row
        return IdTagRecord(
            id_tag=tag,
            status=AuthorizationStatus(status),
            expiry_date=datetime.fromisoformat(expiry) if expiry else None,
            parent_id_tag=parent,
        )

    async def save(self, record: IdTagRecord) -> None:
        def write() -> None:
            with self.db:
                self.db.execute(
                    "INSERT OR REPLACE INTO id_tags VALUES (?, ?, ?, ?, ?)",
                    (
                        record.id_tag.casefold(),
                        record.id_tag,
                        record.status.value,
                        record.expiry_date.isoformat() if record.expiry_date else None,
                        record.parent_id_tag,
                    ),
                )

        await anyio.to_thread.run_sync(write)

    async def delete(self, id_tag: str) -> bool:
        def remove() -> bool:
            with self.db:
                cursor = self.db.execute("DELETE FROM id_tags WHERE key = ?", (id_tag.casefold(),))
            return cursor.rowcount > 0

        return await anyio.to_thread.run_sync(remove)


async def main() -> None:
    id_tags = SqliteIdTagStore()
    await id_tags.save(IdTagRecord(id_tag="Alice-01"))
    await id_tags.save(IdTagRecord(id_tag="MALLORY", status=AuthorizationStatus.BLOCKED))
    stores = attrs.evolve(
        memory_stores(
            charge_points=[
                ChargePointRecord(
                    charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
                )
            ]
        ),
        id_tags=id_tags,
    )
    cs = CentralSystem(stores)
    cs_end, cp_end = memory_connection_pair()
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, cs_end, "CP1")
        async with ChargePointSimulator("CP1", cp_end).running() as cp:
            for tag in ("alice-01", "MALLORY", "nobody"):
                answer = await cp.authorize(tag)
                print(f"{tag}: {answer.id_tag_info.status.value}")


if __name__ == "__main__":
    anyio.run(main)
