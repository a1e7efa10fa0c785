"""The per-message path makes no reference cycles: every object a CALL allocates is freed by
reference counting. The GC setting recommended for large hosts (docs/performance.md) rests
on this: with no cyclic garbage from us, rare generation-0 collections lose nothing."""

from __future__ import annotations

import collections
import gc
from collections.abc import Iterator

import anyio
import pytest

from ocpp16csms import CentralSystem, ChargePointRecord, memory_connection_pair, memory_stores
from ocpp16csms.messages import RegistrationStatus

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    """asyncio only: trio's own scheduler keeps cycles of its own that are not ours."""
    return "asyncio"


def frames() -> Iterator[str]:
    n = 0
    while True:
        n += 1
        stamp = f"2026-01-01T00:{n // 60 % 60:02d}:{n % 60:02d}Z"
        yield f'[2,"h{n}","Heartbeat",{{}}]'
        yield (
            f'[2,"s{n}","StatusNotification",{{"connectorId":1,"errorCode":"NoError",'
            f'"status":"Available","timestamp":"{stamp}"}}]'
        )
        yield (
            f'[2,"m{n}","MeterValues",{{"connectorId":1,"meterValue":[{{"timestamp":"{stamp}",'
            f'"sampledValue":[{{"value":"{n}","measurand":"Energy.Active.Import.Register"}}]}}]}}]'
        )
        yield f'[2,"d{n}","DataTransfer",{{"vendorId":"nobody"}}]'  # answered UnknownVendorId


async def test_a_stream_of_calls_leaves_no_cyclic_garbage() -> None:
    stores = memory_stores()
    await stores.charge_points.save(
        ChargePointRecord(charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED)
    )
    cs = CentralSystem(stores)
    ours, theirs = memory_connection_pair()
    source = frames()
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, ours, "CP1")
        for _ in range(100):  # warm-up: caches, lazily built objects
            await theirs.send(next(source))
            await theirs.receive()
        gc.collect()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            for _ in range(400):
                await theirs.send(next(source))
                answer = await theirs.receive()
                assert answer.startswith("[3,")
            gc.collect()
            garbage = collections.Counter(type(o).__qualname__ for o in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
        await theirs.close()
        group.cancel_scope.cancel()
    assert sum(garbage.values()) == 0, garbage.most_common(10)
