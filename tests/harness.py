"""Helpers for scenario tests: a central system serving simulated charge points in memory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    IdTagRecord,
    Stores,
    memory_connection_pair,
    memory_stores,
)
from ocpp16csms.messages import (
    BootNotificationRequest,
    RegistrationStatus,
)
from ocpp16csms.testing import ChargePointSimulator

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


class FakeClock:
    """A wall clock the test moves by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_central_system(
    *,
    charge_points: tuple[str, ...] = ("CP1",),
    id_tags: tuple[IdTagRecord, ...] = (),
    stores: Stores | None = None,
    **options: Any,
) -> CentralSystem:
    """A central system with in-memory stores knowing ``charge_points`` (Accepted)."""
    stores = stores or memory_stores(
        charge_points=[
            ChargePointRecord(charge_point_id=cp, registration_status=RegistrationStatus.ACCEPTED)
            for cp in charge_points
        ],
        id_tags=id_tags,
    )
    options.setdefault("handler_grace", 1.0)
    return CentralSystem(stores, CentralSystemOptions(**options), clock=FakeClock())


BOOT = BootNotificationRequest(charge_point_vendor="Acme", charge_point_model="Volt 22")


@asynccontextmanager
async def connected(
    cs: CentralSystem, charge_point_id: str = "CP1", **simulator: Any
) -> AsyncIterator[ChargePointSimulator]:
    """Serve one simulated charge point; the connection closes when the block ends."""
    cs_end, cp_end = memory_connection_pair()
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, cs_end, charge_point_id)
        sim = ChargePointSimulator(charge_point_id, cp_end, **simulator)
        async with sim.running():
            await wait_until(lambda: cs.is_connected(charge_point_id))
            yield sim
        await wait_until(lambda: not cs.is_connected(charge_point_id))


async def wait_until(condition: Any, timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while not condition():
            await anyio.sleep(0.001)
