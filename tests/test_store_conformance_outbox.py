"""The outbox store contract, against the memory and SQLite stores."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ocpp16csms.messages import (
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    ConfigurationStatus,
    ResetRequest,
    ResetType,
)
from ocpp16csms.profiles.core import MemoryOutboxStore, OutboxEntry, OutboxState, OutboxStore
from ocpp16csms.stores.sqlite import SqliteOutboxStore, sqlite_stores

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@contextlib.asynccontextmanager
async def memory() -> AsyncIterator[OutboxStore]:
    yield MemoryOutboxStore()


@contextlib.asynccontextmanager
async def sqlite_shared() -> AsyncIterator[OutboxStore]:
    with tempfile.TemporaryDirectory() as directory:
        stores = sqlite_stores(Path(directory) / "csms.sqlite3")
        with contextlib.closing(stores):
            yield SqliteOutboxStore(stores)


@contextlib.asynccontextmanager
async def sqlite_own() -> AsyncIterator[OutboxStore]:
    store = SqliteOutboxStore(":memory:")
    try:
        yield store
    finally:
        await store.aclose()


FACTORIES: dict[str, Callable[[], Any]] = {
    "memory": memory,
    "sqlite": sqlite_shared,
    "sqlite-own-file": sqlite_own,
}


@pytest.fixture(params=sorted(FACTORIES))
async def store(request: pytest.FixtureRequest) -> AsyncIterator[OutboxStore]:
    async with FACTORIES[request.param]() as made:
        yield made


def _entry(entry_id: str, cp: str = "CP1", minutes: int = 0, **fields: Any) -> OutboxEntry:
    return OutboxEntry(
        entry_id=entry_id,
        charge_point_id=cp,
        request=fields.pop("request", ResetRequest(type=ResetType.SOFT)),
        created_at=T0 + timedelta(minutes=minutes),
        expires_at=T0 + timedelta(hours=1),
        **fields,
    )


async def test_an_entry_round_trips_every_field(store: OutboxStore) -> None:
    delivered = _entry(
        "e1",
        request=ChangeConfigurationRequest(key="HeartbeatInterval", value="300"),
        state=OutboxState.DELIVERED,
        attempts=2,
        response=ChangeConfigurationResponse(status=ConfigurationStatus.REBOOT_REQUIRED),
        updated_at=T0 + timedelta(minutes=5),
    )
    failed = _entry("e2", cp="CP \ud800\x00", state=OutboxState.FAILED, error="no \x00 luck")
    await store.save(delivered)
    await store.save(failed)
    assert await store.get("e1") == delivered
    assert await store.get("e2") == failed
    assert await store.get("nope") is None


async def test_queued_is_one_charge_points_queued_entries_oldest_first(
    store: OutboxStore,
) -> None:
    await store.save(_entry("late", minutes=5))
    await store.save(_entry("early", minutes=1))
    await store.save(_entry("other", cp="CP2", minutes=0))
    await store.save(_entry("done", minutes=0, state=OutboxState.DELIVERED))
    assert [e.entry_id for e in await store.queued("CP1")] == ["early", "late"]
    assert [e.entry_id for e in await store.queued("CP2")] == ["other"]
    assert await store.queued("CP3") == []


async def test_saving_again_replaces_the_entry(store: OutboxStore) -> None:
    await store.save(_entry("e1"))
    moved = _entry("e1", state=OutboxState.EXPIRED, attempts=3)
    await store.save(moved)
    assert await store.get("e1") == moved
    assert await store.queued("CP1") == []
