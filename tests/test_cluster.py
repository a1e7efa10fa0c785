"""Central systems in one cluster over a real NATS server: every call reaches the process holding
the charge point and comes back typed as a local call; presence and events are cluster-wide.

Each central system here has its own router and its own NATS connection (in one test process);
tests/test_cluster_processes.py runs real processes and kills one.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio
import pytest

from harness import connected, make_central_system, wait_until
from nats_support import NatsServer, run_nats_server
from ocpp16csms import (
    CallErrorReceived,
    CallTimeout,
    CentralSystem,
    CentralSystemOptions,
    ChargePointDisconnected,
    ChargePointNotAccepted,
    ChargePointNotConnected,
    ChargePointRecord,
    ConnectionLost,
    ErrorCode,
    InvalidRequest,
    QueueFull,
    memory_stores,
)
from ocpp16csms.datatypes import ChargingProfile, ChargingSchedule, ChargingSchedulePeriod
from ocpp16csms.messages import (
    ChargingProfileKindType,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    ClearCacheRequest,
    ClearCacheResponse,
    DataTransferRequest,
    DataTransferResponse,
    DataTransferStatus,
    GetConfigurationRequest,
    GetConfigurationResponse,
    RegistrationStatus,
    RemoteStartTransactionRequest,
    ResetRequest,
    ResetResponse,
    ResetStatus,
    ResetType,
    UnlockConnectorRequest,
)
from ocpp16csms.profiles.smart_charging import ChargingProfileError
from ocpp16csms.routers import ClusterUnavailable, RoutedCallFailed, subject_token

try:
    import nats

    from ocpp16csms.routers.nats import NatsRouter
except ImportError as missing:  # pragma: no cover - the test extra installs nats-py
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(f"nats-py is not installed: {missing}", allow_module_level=True)

pytestmark = [pytest.mark.anyio, pytest.mark.cluster]

CHARGE_POINTS = tuple(f"CP-{n}" for n in range(1, 7))


@pytest.fixture
def anyio_backend() -> str:
    """asyncio only: nats-py, the NATS client under the router, does not run on trio."""
    return "asyncio"


@pytest.fixture(scope="module")
def nats_server() -> Iterator[NatsServer]:
    yield from run_nats_server()


@pytest.fixture
def own_nats_server() -> Iterator[NatsServer]:
    """A server of the test's own, for tests that stop and restart it."""
    yield from run_nats_server()


class Node:
    def __init__(self, cs: CentralSystem, router: NatsRouter) -> None:
        self.cs = cs
        self.router = router
        self.events: list[Any] = []
        cs.observe(self.events.append)


@asynccontextmanager
async def cluster(
    url: str,
    *names: str,
    prefix: str | None = None,
    request_timeout: float = 10.0,
    charge_points: tuple[str, ...] = CHARGE_POINTS,
    **options: Any,
) -> AsyncIterator[dict[str, Node]]:
    """Central systems named ``names``, each with its router, all on one NATS server."""
    prefix = prefix or f"t{time.monotonic_ns()}"  # each test its own subjects
    nodes: dict[str, Node] = {}
    async with AsyncExitStack() as stack:
        for name in names:
            cs = make_central_system(charge_points=charge_points, **options)
            router = NatsRouter(
                url,
                node=name,
                prefix=prefix,
                request_timeout=request_timeout,
                heartbeat_interval=0.2,
                gather_timeout=1.0,
            )
            router.attach(cs)
            await stack.enter_async_context(router)
            await stack.enter_async_context(cs)
            nodes[name] = Node(cs, router)
        yield nodes


async def held_by(router: NatsRouter, charge_point_id: str, node: str | None) -> None:
    """Wait until the cluster, asked through ``router``, says ``node`` holds the charge point."""
    with anyio.fail_after(5):
        while await router.holder_of(charge_point_id) != node:
            await anyio.sleep(0.01)


async def test_every_process_reaches_every_charge_point(nats_server: NatsServer) -> None:
    async with cluster(nats_server.url, "a", "b", "c") as nodes, AsyncExitStack() as stack:
        names = list(nodes)
        placement = {cp: names[i % 3] for i, cp in enumerate(CHARGE_POINTS)}
        sims = {}
        for cp, name in placement.items():
            sims[cp] = await stack.enter_async_context(connected(nodes[name].cs, cp))
        for cp, name in placement.items():
            await held_by(nodes["a"].router, cp, name)

        for caller in nodes.values():
            for cp in CHARGE_POINTS:
                answer = await caller.cs.core.reset(cp, ResetType.SOFT)
                assert answer == ResetResponse(status=ResetStatus.ACCEPTED)
                configuration = await caller.cs.call(cp, GetConfigurationRequest(key=["X"]))
                assert isinstance(configuration, GetConfigurationResponse)
        for cp, sim in sims.items():
            assert len(sim.received_of(ResetRequest)) == 3, cp
            assert len(sim.received_of(GetConfigurationRequest)) == 3, cp

        for node in nodes.values():
            assert await node.router.holders() == placement
            assert await node.router.connected_charge_points() == set(CHARGE_POINTS)
            # The heartbeat view is eventual: each process hears the others' counts within a
            # heartbeat of the last connection (under load, after the calls above).
            await wait_until(lambda router=node.router: router.nodes() == {"a": 2, "b": 2, "c": 2})
        assert await nodes["b"].router.is_connected("CP-1")
        assert not await nodes["b"].router.is_connected("CP-99")
        # Only the holder saw the exchange (it made the call): one Reset event per caller.
        holder = nodes[placement["CP-2"]]
        resets = [
            e
            for e in holder.events
            if getattr(e, "charge_point_id", None) == "CP-2"
            and isinstance(getattr(e, "request", None), ResetRequest)
        ]
        assert len(resets) == 3


async def test_a_charge_point_nobody_holds_fails_at_once(nats_server: NatsServer) -> None:
    async with cluster(nats_server.url, "a", request_timeout=30.0) as nodes:
        started = anyio.current_time()
        with pytest.raises(ChargePointNotConnected) as raised:
            await nodes["a"].cs.core.reset("CP-1", ResetType.HARD)
        assert anyio.current_time() - started < 1.0
        assert raised.value.charge_point_id == "CP-1"
        assert not isinstance(raised.value, ClusterUnavailable)


async def test_errors_come_back_typed_as_local_ones(nats_server: NatsServer) -> None:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP-1", registration_status=RegistrationStatus.ACCEPTED
            ),
            ChargePointRecord(
                charge_point_id="CP-P", registration_status=RegistrationStatus.PENDING
            ),
        ]
    )
    async with cluster(nats_server.url, "b") as nodes, AsyncExitStack() as stack:
        holder = CentralSystem(stores, CentralSystemOptions(call_timeout=0.3, max_queued_calls=0))
        router = NatsRouter(nats_server.url, node="a", prefix=nodes["b"].router.subjects.prefix)
        router.attach(holder)
        await stack.enter_async_context(router)
        await stack.enter_async_context(holder)

        async def no_unlocking(charge_point_id: str, request: UnlockConnectorRequest) -> None:
            raise InvalidRequest("no unlocking today")

        holder.add_pre_send_check(UnlockConnectorRequest, no_unlocking)
        sim = await stack.enter_async_context(connected(holder, "CP-1"))
        await stack.enter_async_context(connected(holder, "CP-P"))
        caller = nodes["b"].cs
        await held_by(nodes["b"].router, "CP-1", "a")
        await held_by(nodes["b"].router, "CP-P", "a")

        sim.answer("Reset", error=ErrorCode.NOT_SUPPORTED, description="not here")
        with pytest.raises(CallErrorReceived) as call_error:
            await caller.core.reset("CP-1", ResetType.SOFT)
        assert (call_error.value.code, call_error.value.description) == ("NotSupported", "not here")
        assert (call_error.value.charge_point_id, call_error.value.action) == ("CP-1", "Reset")

        sim.answer("ClearCache", drop=True)
        with pytest.raises(CallTimeout) as timeout:
            await caller.call("CP-1", ClearCacheRequest())
        assert timeout.value.timeout == 0.3
        assert timeout.value.message_id  # the holder's own message id

        with pytest.raises(InvalidRequest, match="no unlocking today"):
            await caller.call("CP-1", UnlockConnectorRequest(connector_id=1))
        profile = ChargingProfile(
            charging_profile_id=1,
            stack_level=0,
            charging_profile_purpose=ChargingProfilePurposeType.TX_DEFAULT_PROFILE,
            charging_profile_kind=ChargingProfileKindType.RELATIVE,
            charging_schedule=ChargingSchedule(
                charging_rate_unit=ChargingRateUnitType.A,
                charging_schedule_period=[ChargingSchedulePeriod(start_period=0, limit=16)],
            ),
        )
        with pytest.raises(ChargingProfileError) as profile_error:
            await caller.call(
                "CP-1", RemoteStartTransactionRequest(id_tag="T", charging_profile=profile)
            )
        assert profile_error.value.rule == "remote_start_purpose"
        assert len(sim.received_of(UnlockConnectorRequest)) == 0
        assert len(sim.received_of(RemoteStartTransactionRequest)) == 0

        with pytest.raises(ChargePointNotAccepted) as not_accepted:
            await caller.core.reset("CP-P", ResetType.SOFT)
        assert not_accepted.value.status == "Pending"

        sim.answer("ClearCache", ClearCacheResponse(status="Accepted"), delay=0.2)
        outcomes: list[Any] = []

        async def clear() -> None:
            try:
                outcomes.append(await caller.call("CP-1", ClearCacheRequest()))
            except QueueFull as full:
                outcomes.append(full)

        async with anyio.create_task_group() as group:
            group.start_soon(clear)
            await anyio.sleep(0.05)
            group.start_soon(clear)
        assert isinstance(outcomes[0], QueueFull)
        assert outcomes[0].limit == 0
        assert isinstance(outcomes[1], ClearCacheResponse)

        sim.answer("ClearCache", drop=True)
        sent = len(sim.received_of(ClearCacheRequest))
        lost: list[ConnectionLost] = []

        async def lose() -> None:
            with pytest.raises(ConnectionLost) as raised:
                await caller.call("CP-1", ClearCacheRequest())
            lost.append(raised.value)

        async with anyio.create_task_group() as group:
            group.start_soon(lose)
            await wait_until(lambda: len(sim.received_of(ClearCacheRequest)) > sent)
            await sim.close()
        assert lost[0].action == "ClearCache"


async def test_size_limits(nats_server: NatsServer) -> None:
    async with cluster(nats_server.url, "a", "b") as nodes, connected(nodes["a"].cs, "CP-1") as sim:
        await held_by(nodes["b"].router, "CP-1", "a")
        huge = "x" * (1 << 20)
        with pytest.raises(InvalidRequest, match="max_payload"):
            await nodes["b"].cs.call("CP-1", DataTransferRequest(vendor_id="v", data=huge))
        assert sim.received_of(DataTransferRequest) == []  # nothing was sent

        sim.answer(
            "DataTransfer", DataTransferResponse(status=DataTransferStatus.ACCEPTED, data=huge)
        )
        with pytest.raises(RoutedCallFailed, match="max_payload"):
            await nodes["b"].cs.call("CP-1", DataTransferRequest(vendor_id="v"))
        assert len(sim.received_of(DataTransferRequest)) == 1  # the charge point had it


async def test_a_newer_connection_elsewhere_replaces_the_older(nats_server: NatsServer) -> None:
    async with cluster(nats_server.url, "a", "b", "c") as nodes:
        async with connected(nodes["a"].cs, "CP-1") as old:
            await held_by(nodes["c"].router, "CP-1", "a")
            async with connected(nodes["b"].cs, "CP-1") as new:
                with anyio.fail_after(5):
                    await old.closed.wait()
                await wait_until(lambda: not nodes["a"].cs.is_connected("CP-1"))
                await held_by(nodes["c"].router, "CP-1", "b")
                assert await nodes["c"].router.holders() == {"CP-1": "b"}
                for caller in ("a", "b", "c"):
                    await nodes[caller].cs.core.reset("CP-1", ResetType.SOFT)
                assert len(new.received_of(ResetRequest)) == 3
                assert old.received_of(ResetRequest) == []
        gone = [e for e in nodes["a"].events if isinstance(e, ChargePointDisconnected)]
        assert gone == [ChargePointDisconnected("CP-1", replaced=True)]


async def test_events_follow_the_whole_network(nats_server: NatsServer) -> None:
    prefix = f"ev{time.monotonic_ns()}"
    consumer = await nats.connect(nats_server.url)
    try:
        subscription = await consumer.subscribe(f"{prefix}.events.>")
        async with cluster(
            nats_server.url, "a", "b", prefix=prefix, charge_points=("CP 7.x",)
        ) as nodes:
            async with connected(nodes["a"].cs, "CP 7.x") as sim:
                await sim.boot()
                await held_by(nodes["b"].router, "CP 7.x", "a")
                await nodes["b"].cs.core.reset("CP 7.x", ResetType.HARD)
        seen = []
        with anyio.fail_after(5):
            while len(seen) < 4:
                msg = await subscription.next_msg(timeout=5)
                seen.append((msg.subject, json.loads(msg.data)))
    finally:
        await consumer.close()
    token = subject_token("CP 7.x")
    assert token == "CP~207~2Ex"
    assert [subject for subject, _ in seen] == [
        f"{prefix}.events.{token}.{name}"
        for name in ("connected", "BootNotification", "Reset", "disconnected")
    ]
    bodies = [body for _, body in seen]
    assert all(b["charge_point_id"] == "CP 7.x" and b["node"] == "a" for b in bodies)
    boot, reset, gone = bodies[1], bodies[2], bodies[3]
    assert boot["direction"] == "ChargePointToCentralSystem"
    assert boot["request"]["chargePointModel"] == "Simulator"
    assert boot["response"]["status"] == "Accepted"
    assert reset["direction"] == "CentralSystemToChargePoint"
    assert (reset["request"], reset["response"], reset["error"]) == (
        {"type": "Hard"},
        {"status": "Accepted"},
        None,
    )
    assert gone["replaced"] is False


async def test_nats_restarts_are_survived(own_nats_server: NatsServer) -> None:
    async with cluster(own_nats_server.url, "a", "b") as nodes, connected(nodes["a"].cs, "CP-1"):
        await held_by(nodes["b"].router, "CP-1", "a")
        own_nats_server.stop()
        await wait_until(lambda: not nodes["b"].router._nc.is_connected)  # type: ignore[union-attr]
        started = anyio.current_time()
        with pytest.raises(ClusterUnavailable):
            await nodes["b"].cs.core.reset("CP-1", ResetType.SOFT)
        assert anyio.current_time() - started < 0.5
        own_nats_server.start()
        with anyio.fail_after(10):
            while True:
                try:
                    await nodes["b"].cs.core.reset("CP-1", ResetType.SOFT)
                    break
                except ChargePointNotConnected:
                    await anyio.sleep(0.1)
        assert await nodes["b"].router.holders() == {"CP-1": "a"}


async def test_a_node_name_is_used_once(nats_server: NatsServer) -> None:
    async with cluster(nats_server.url, "a") as nodes:
        twin = NatsRouter(nats_server.url, node="a", prefix=nodes["a"].router.subjects.prefix)
        twin.attach(make_central_system())
        with pytest.raises(RuntimeError, match="used by another running process"):
            await twin.__aenter__()


@pytest.mark.parametrize("anyio_backend", ["trio"])
async def test_the_router_says_it_needs_asyncio() -> None:
    with pytest.raises(RuntimeError, match="asyncio"):
        async with NatsRouter("nats://127.0.0.1:1"):
            pass
