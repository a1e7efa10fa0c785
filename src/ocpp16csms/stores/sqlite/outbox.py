"""SQLite implementation of :class:`~ocpp16csms.profiles.core.outbox.OutboxStore`.

``SqliteOutboxStore(stores)`` keeps the outbox in the database of a
:class:`~ocpp16csms.stores.sqlite.SqliteStores`; ``SqliteOutboxStore("outbox.db")`` in a file
of its own. A request and its answer are kept as their action and wire payload (JSON), read
back into the same classes.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from ...converter import make_converter
from ...messages.base import Request, Response
from ...profiles.core.outbox import OutboxEntry, OutboxState
from ...registry import ACTIONS
from ...stores.records import StoreError
from .._lossless import escape_text, unescape_text
from ._side import SideTableStore, iso, read_text, text, when

__all__ = ["SqliteOutboxStore"]

_TABLE = """CREATE TABLE IF NOT EXISTS outbox_entries (
    entry_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    charge_point_id TEXT NOT NULL,
    action TEXT NOT NULL,
    request TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    response TEXT,
    error TEXT,
    updated_at TEXT
)"""

# Outbound requests are built in Python and checked when sent: read back as they were kept.
_CONVERTER = make_converter(lenient=True, parse_datetimes=datetime.fromisoformat)


def _payload(message: Request[Any] | Response) -> str:
    return escape_text(json.dumps(_CONVERTER.unstructure(message), ensure_ascii=False))


def _entry(row: sqlite3.Row) -> OutboxEntry:
    spec = ACTIONS.get(row["action"])
    if spec is None:
        raise StoreError(f"the outbox holds an unknown action {row['action']!r}")
    request = _CONVERTER.structure(json.loads(unescape_text(row["request"])), spec.request)
    response = None
    if row["response"] is not None:
        loaded = json.loads(unescape_text(row["response"]))
        response = _CONVERTER.structure(loaded, spec.response)
    return OutboxEntry(
        entry_id=unescape_text(row["entry_id"]),
        charge_point_id=unescape_text(row["charge_point_id"]),
        request=request,
        created_at=datetime.fromisoformat(row["created_at"]),
        expires_at=datetime.fromisoformat(row["expires_at"]),
        state=OutboxState(row["state"]),
        attempts=row["attempts"],
        response=response,
        error=read_text(row["error"]),
        updated_at=when(row["updated_at"]),
    )


class SqliteOutboxStore(SideTableStore):
    """Outbox entries in SQLite: in a :class:`SqliteStores`' database, or in the file at a
    path (``":memory:"``: a private database); see the module docstring."""

    TABLE = _TABLE

    async def save(self, entry: OutboxEntry) -> None:
        values = (
            escape_text(entry.entry_id),
            escape_text(entry.charge_point_id),
            entry.request.action,
            _payload(entry.request),
            iso(entry.created_at),
            iso(entry.expires_at),
            entry.state.value,
            entry.attempts,
            None if entry.response is None else _payload(entry.response),
            text(entry.error),
            iso(entry.updated_at),
        )

        def work(db: sqlite3.Connection) -> None:
            # A new entry goes last in the order kept; a saved one keeps its place.
            db.execute(
                "INSERT INTO outbox_entries (entry_id, seq, charge_point_id, action, request,"
                " created_at, expires_at, state, attempts, response, error, updated_at)"
                " VALUES (?, (SELECT COALESCE(MAX(seq), 0) + 1 FROM outbox_entries),"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (entry_id) DO UPDATE SET"
                " charge_point_id = excluded.charge_point_id, action = excluded.action,"
                " request = excluded.request, created_at = excluded.created_at,"
                " expires_at = excluded.expires_at, state = excluded.state,"
                " attempts = excluded.attempts, response = excluded.response,"
                " error = excluded.error, updated_at = excluded.updated_at",
                values,
            )

        await self._run(work, write=True)

    async def queued(self, charge_point_id: str) -> Sequence[OutboxEntry]:
        key = (escape_text(charge_point_id), OutboxState.QUEUED.value)

        def work(db: sqlite3.Connection) -> list[OutboxEntry]:
            rows = db.execute(
                "SELECT * FROM outbox_entries WHERE charge_point_id = ? AND state = ? ORDER BY seq",
                key,
            )
            return sorted((_entry(row) for row in rows), key=lambda e: e.created_at)

        result: list[OutboxEntry] = await self._run(work, write=False)
        return result

    async def get(self, entry_id: str) -> OutboxEntry | None:
        key = (escape_text(entry_id),)

        def work(db: sqlite3.Connection) -> OutboxEntry | None:
            row = db.execute("SELECT * FROM outbox_entries WHERE entry_id = ?", key).fetchone()
            return None if row is None else _entry(row)

        result: OutboxEntry | None = await self._run(work, write=False)
        return result
