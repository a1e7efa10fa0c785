"""Three central-system processes (examples/cluster.py node) over a real NATS server, with charge
points on WebSocket spread across them; one process is killed with SIGKILL."""

from __future__ import annotations

import importlib.util
import os
import select
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest

from nats_support import NatsServer, run_nats_server
from ocpp16csms import ChargePointNotConnected
from ocpp16csms.messages import (
    AuthorizationStatus,
    ResetRequest,
    ResetResponse,
    ResetStatus,
    ResetType,
    StartTransactionRequest,
)
from ocpp16csms.testing import ChargePointSimulator

try:
    from ocpp16csms.routers.nats import NatsRouter
    from ocpp16csms.testing.websocket import connect_simulator
except ImportError as missing:  # pragma: no cover - the test extra installs both
    if os.environ.get("CI") == "true":
        raise
    pytest.skip(f"a cluster test dependency is missing: {missing}", allow_module_level=True)

pytestmark = [pytest.mark.anyio, pytest.mark.cluster]

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "cluster.py"
RESET = ResetRequest(type=ResetType.SOFT)


@pytest.fixture
def anyio_backend() -> str:
    """asyncio only: nats-py, the NATS client under the router, does not run on trio."""
    return "asyncio"


@pytest.fixture
def nats_server() -> Iterator[NatsServer]:
    yield from run_nats_server()


def _environment() -> dict[str, str]:
    path = os.environ.get("PYTHONPATH")
    source = str(ROOT / "src")
    return {**os.environ, "PYTHONPATH": f"{source}{os.pathsep}{path}" if path else source}


class NodeProcess:
    """``examples/cluster.py node`` in a process of its own."""

    def __init__(self, name: str, nats_url: str, database: str | None = None) -> None:
        self.name = name
        self.log = tempfile.TemporaryFile()  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(EXAMPLE),
                "node",
                "--nats",
                nats_url,
                "--port",
                "0",
                "--name",
                name,
                *(["--database", database] if database else []),
            ],
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=_environment(),
            text=True,
        )
        self.url = ""

    def wait_ready(self, timeout: float = 30.0) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([stdout], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                break
            line = stdout.readline()
            if not line:
                break
            if " serving " in line:
                self.url = line.split(" serving ")[1].split()[0]
                return
        self.log.seek(0)
        raise AssertionError(f"node {self.name} did not start: {self.log.read().decode()[-2000:]}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()
        self.log.close()
        return self.process.returncode


async def _cli(*args: str) -> subprocess.CompletedProcess[bytes]:
    return await anyio.run_process(
        [sys.executable, str(EXAMPLE), *args], check=False, env=_environment()
    )


async def _reset_reaches(router: NatsRouter, sim: ChargePointSimulator) -> None:
    before = len(sim.received_of(ResetRequest))
    assert await router.call(sim.charge_point_id, RESET) == ResetResponse(
        status=ResetStatus.ACCEPTED
    )
    assert len(sim.received_of(ResetRequest)) == before + 1


async def test_a_killed_process_fails_fast_and_its_charge_points_move(
    nats_server: NatsServer,
) -> None:
    nodes = {name: NodeProcess(name, nats_server.url) for name in ("node-a", "node-b", "node-c")}
    try:
        for node in nodes.values():
            node.wait_ready()
        names = list(nodes)
        placement = {f"CP-{n}": names[n % 3] for n in range(1, 7)}
        router = NatsRouter(
            nats_server.url, node="test-client", request_timeout=5.0, gather_timeout=1.5
        )
        async with router, AsyncExitStack() as stack:
            sims = {}
            for cp, name in placement.items():
                sims[cp] = await stack.enter_async_context(connect_simulator(nodes[name].url, cp))
            with anyio.fail_after(10):
                while await router.holders() != placement:
                    await anyio.sleep(0.05)
            for sim in sims.values():
                await _reset_reaches(router, sim)

            listed = await _cli("list", "--nats", nats_server.url)
            assert listed.returncode == 0, listed.stderr
            for cp, name in placement.items():
                assert f"{cp}\t{name}" in listed.stdout.decode()
            answered = await _cli(
                "call", "--nats", nats_server.url, "CP-2", "Reset", '{"type": "Hard"}'
            )
            assert answered.returncode == 0, answered.stderr
            assert answered.stdout.decode().strip() == '{"status": "Accepted"}'
            assert sims["CP-2"].received_of(ResetRequest)[-1].type is ResetType.HARD

            victim = nodes["node-b"].process
            victim.send_signal(signal.SIGKILL)
            victim.wait(timeout=10)
            orphans = [cp for cp, name in placement.items() if name == "node-b"]
            with anyio.fail_after(5):
                for cp in orphans:
                    await sims[cp].closed.wait()
                    while await router.holder_of(cp) is not None:
                        await anyio.sleep(0.01)
            for cp in orphans:
                started = anyio.current_time()
                with pytest.raises(ChargePointNotConnected):
                    await router.call(cp, RESET)
                assert anyio.current_time() - started < 1.0  # not the 5 s request timeout
            holders = await router.holders()
            assert holders == {cp: n for cp, n in placement.items() if n != "node-b"}
            with anyio.fail_after(8):  # three missed heartbeats of one second
                while "node-b" in router.nodes():
                    await anyio.sleep(0.1)
            assert set(router.nodes()) == {"node-a", "node-c"}

            # The orphans reconnect, to node-c, and the calls follow them there.
            for cp in orphans:
                sims[cp] = await stack.enter_async_context(
                    connect_simulator(nodes["node-c"].url, cp)
                )
            with anyio.fail_after(5):
                for cp in orphans:
                    while await router.holder_of(cp) != "node-c":
                        await anyio.sleep(0.01)
            for sim in sims.values():
                await _reset_reaches(router, sim)
            assert await router.holders() == {
                cp: "node-c" if cp in orphans else name for cp, name in placement.items()
            }
    finally:
        codes = {name: node.stop() for name, node in nodes.items()}
    # The survivors drained and stopped cleanly on SIGTERM.
    assert codes["node-a"] == codes["node-c"] == 0
    assert codes["node-b"] == -signal.SIGKILL


@pytest.mark.postgres
async def test_nodes_on_one_database_share_its_transactions(nats_server: NatsServer) -> None:
    import _postgres
    from ocpp16csms.stores.postgresql import postgresql_stores

    _postgres.require()
    dsn, name = _postgres.fresh_database()
    nodes = {n: NodeProcess(n, nats_server.url, dsn) for n in ("node-a", "node-b")}
    try:
        for node in nodes.values():
            node.wait_ready()
        started: dict[str, int] = {}
        async with AsyncExitStack() as stack:
            router = await stack.enter_async_context(NatsRouter(nats_server.url, node="probe"))
            for cp, node in (("CP-1", "node-a"), ("CP-2", "node-b")):
                sim = await stack.enter_async_context(connect_simulator(nodes[node].url, cp))
                await sim.boot()
                answer = await sim.call(
                    StartTransactionRequest(
                        connector_id=1,
                        id_tag="DEMO-TAG",
                        meter_start=100,
                        timestamp=datetime.now(UTC),
                    )
                )
                assert answer.id_tag_info.status is AuthorizationStatus.ACCEPTED
                started[cp] = answer.transaction_id
            # A call made through the cluster reaches each charge point on its node.
            for cp in started:
                assert isinstance(await router.call(cp, RESET), ResetResponse)
        # Both processes wrote to the one database: distinct ids, both transactions there.
        assert len(set(started.values())) == 2
        async with postgresql_stores(dsn) as stores:
            for cp, transaction_id in started.items():
                record = await stores.transactions.get(transaction_id)
                assert record is not None
                assert record.start.charge_point_id == cp
    finally:
        for node in nodes.values():
            node.stop()
        _postgres.drop_database(name)


def test_a_node_without_the_postgresql_stores_says_so() -> None:
    if importlib.util.find_spec("ocpp16csms.stores.postgresql") is not None:
        pytest.skip("the PostgreSQL stores are installed here")
    result = subprocess.run(
        [sys.executable, str(EXAMPLE), "node", "--name", "n", "--database", "postgresql://x/y"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_environment(),
        check=False,
    )
    assert result.returncode != 0
    assert "--database needs the PostgreSQL stores" in result.stderr
