"""A realistic fleet: reply latency both ways while charge points do what charge points do.

One server process (``_servers.py``: ``ocpp16csms`` or the ``ocpp`` package from PyPI) and
``--clients`` load-generator processes holding the charge points (``_wsload.py``). After all
charge points connected at once and set up (BootNotification, StatusNotification for
connector 0 and 1, and for the charging share a StartTransaction and a Charging status, none
of it measured), for ``--duration`` seconds:

- every charge point sends a Heartbeat every 60 s;
- a charge point that is charging (``--charging``, default half of them) sends a MeterValues
  (four sampled values: energy, power, current, voltage) and a StatusNotification every 30 s;
- the operator side, inside the server process, sends a GetConfiguration to a random connected
  charge point ``--operator-rate`` times a second (default 20), each call its own task, on a
  fixed schedule;

each charge point starts at a random phase, and sends one CALL at a time (OCPP-J). Latency is
from just before a CALL is written to when its answer has been read, measured by its sender:
charge point → central system in the clients, central system → charge point in the server.

Time compression: ``--speedup S`` divides the charge points' intervals by S (the operator
rate stays as given). 10,000 charge points at real time send about 500 CALLs/s; the default,
1,000 charge points with ``--speedup 10``, sends the same rate from a tenth of the connections.

    python benchmarks/bench_fleet.py                                  # ~1 minute
    python benchmarks/bench_fleet.py --charge-points 10000 --speedup 1 --duration 120
    python benchmarks/bench_fleet.py --gc freeze+threshold:10000,10,100

All on loopback; every child exits when the orchestrator's pipe closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _servers import serve_implementation
from _wsload import (
    Child,
    GcMeter,
    LoadClient,
    apply_gc_setting,
    command_reader,
    open_clients,
    percentiles,
    raise_fd_limit,
    reply,
    rss_kib,
)

BOOT = '{"chargePointVendor":"Bench","chargePointModel":"Fleet","firmwareVersion":"1.0.0"}'
CONFIGURATION = '{"configurationKey":[{"key":"HeartbeatInterval","readonly":false,"value":"60"}]}'


def charge_point_ids(first: int, count: int) -> list[str]:
    return [f"CP{n:06d}" for n in range(first, first + count)]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _status(connector: int, status: str) -> str:
    return json.dumps(
        {"connectorId": connector, "errorCode": "NoError", "status": status, "timestamp": _now()}
    )


def _meter_values(transaction_id: int, energy: float) -> str:
    sampled = [
        {"value": f"{energy:.1f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "11000", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": "230.0", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
    ]
    return json.dumps(
        {
            "connectorId": 1,
            "transactionId": transaction_id,
            "meterValue": [{"timestamp": _now(), "sampledValue": sampled}],
        }
    )


# -- the server process --------------------------------------------------------------------


async def server_main(args: argparse.Namespace) -> None:
    raise_fd_limit()
    apply_gc_setting(args.gc)
    meter = GcMeter()
    ids = charge_point_ids(0, args.charge_points)
    async with serve_implementation(args.implementation, ids, backlog=args.charge_points) as served:
        if "freeze" in args.gc:
            gc.collect()
            gc.freeze()
        reader = await command_reader()
        reply(event="ready", port=served.port, pid=os.getpid())
        operator: asyncio.Task[dict[str, Any]] | None = None
        lag: asyncio.Task[list[float]] | None = None
        stop = asyncio.Event()
        window: dict[str, float] = {}
        while line := await reader.readline():
            command = json.loads(line)
            op = command["op"]
            if op == "mark":
                if command.get("freeze"):
                    gc.collect()
                    gc.freeze()
                reply(rss_kib=rss_kib(), connected=len(served.connected()))
            elif op == "start":
                stop.clear()
                meter.reset()
                window = {"cpu": time.process_time(), "wall": time.perf_counter()}
                operator = asyncio.create_task(
                    operate(served, command["rate"], stop, random.Random(7))
                )
                lag = asyncio.create_task(loop_lag(stop))
                reply(ok=True)
            elif op == "stop":
                stop.set()
                assert operator is not None
                assert lag is not None
                calls = await operator
                lags = await lag
                reply(
                    cpu=time.process_time() - window["cpu"],
                    wall=time.perf_counter() - window["wall"],
                    rss_kib=rss_kib(),
                    operator=calls,
                    loop_lag=percentiles(lags),
                    **meter.report(),
                )
            elif op == "exit":
                break
    reply(bye=True)


async def operate(
    served: Any, rate: float, stop: asyncio.Event, rng: random.Random
) -> dict[str, Any]:
    """Call a random connected charge point ``rate`` times a second until ``stop``."""
    latencies: list[float] = []
    failures: dict[str, int] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def one(charge_point_id: str) -> None:
        started = time.perf_counter()
        try:
            await served.operator_call(charge_point_id)
        except Exception as failure:  # counted, shown in the report
            failures[type(failure).__name__] = failures.get(type(failure).__name__, 0) + 1
            return
        latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    k = 0
    connected: list[str] = []
    while not stop.is_set():
        if k % 100 == 0:
            connected = served.connected()
        if connected:
            task = asyncio.create_task(one(rng.choice(connected)))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        k += 1
        delay = started + k / rate - time.perf_counter()
        if delay > 0:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    return {"latencies": latencies, "failures": failures, "sent": k}


async def loop_lag(stop: asyncio.Event, period: float = 0.01) -> list[float]:
    """How late a 10 ms sleep wakes up: the event loop's responsiveness."""
    lags = []
    while not stop.is_set():
        started = time.perf_counter()
        await asyncio.sleep(period)
        lags.append(time.perf_counter() - started - period)
    return lags


# -- a client process ----------------------------------------------------------------------


def answer_server_call(client: LoadClient, text: str) -> None:
    message_id = json.loads(text)[1]
    client.send_text(f"[3,{json.dumps(message_id)},{CONFIGURATION}]")


async def client_main(args: argparse.Namespace) -> None:
    raise_fd_limit()
    reader = await command_reader()
    ids = charge_point_ids(args.first, args.count)
    rng = random.Random(args.first)
    clients: list[LoadClient] = []
    transactions: dict[int, int] = {}  # client index → transaction id
    reply(event="ready")
    while line := await reader.readline():
        command = json.loads(line)
        op = command["op"]
        if op == "connect":
            started = time.perf_counter()
            clients, failed = await open_clients("127.0.0.1", args.port, "/ocpp", ids)
            for client in clients:
                client.on_call = answer_server_call
            reply(seconds=time.perf_counter() - started, connected=len(clients), failed=failed)
        elif op == "setup":
            started = time.perf_counter()
            charging = [rng.random() < command["charging"] for _ in clients]
            results = await asyncio.gather(
                *(setup(c, is_charging) for c, is_charging in zip(clients, charging, strict=True)),
                return_exceptions=True,
            )
            failures = 0
            for index, result in enumerate(results):
                if isinstance(result, BaseException) or result is False:
                    failures += 1
                elif result is not True:
                    transactions[index] = result
            reply(
                seconds=time.perf_counter() - started,
                charging=len(transactions),
                failures=failures,
            )
        elif op == "run":
            reply(**await run_fleet(clients, transactions, command, rng))
        elif op == "close":
            for client in clients:
                client.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(c.lost for c in clients)), 15)
            reply(closed=True)
            break


async def setup(client: LoadClient, charging: bool) -> int | bool:
    """Boot, report the connectors; start a transaction when charging (its id is returned)."""
    answer = await client.call("BootNotification", BOOT)
    if '"Accepted"' not in answer:
        return False
    await client.call("StatusNotification", _status(0, "Available"))
    if not charging:
        await client.call("StatusNotification", _status(1, "Available"))
        return True
    await client.call("StatusNotification", _status(1, "Preparing"))
    start = json.dumps({"connectorId": 1, "idTag": "TAG", "meterStart": 0, "timestamp": _now()})
    answer = json.loads(await client.call("StartTransaction", start))
    if answer[0] != 3:
        return False
    await client.call("StatusNotification", _status(1, "Charging"))
    return int(answer[2]["transactionId"])


async def run_fleet(
    clients: list[LoadClient],
    transactions: dict[int, int],
    command: dict[str, Any],
    rng: random.Random,
) -> dict[str, Any]:
    duration, speedup = command["seconds"], command["speedup"]
    heartbeat, metering = 60.0 / speedup, 30.0 / speedup
    latencies: dict[str, list[float]] = {
        "Heartbeat": [],
        "MeterValues": [],
        "StatusNotification": [],
    }
    errors = 0
    loop = asyncio.get_running_loop()
    begin = loop.time()
    deadline = begin + duration
    cpu = time.process_time()

    async def timed(client: LoadClient, action: str, payload: str) -> None:
        nonlocal errors
        started = time.perf_counter()
        answer = await client.call(action, payload)
        latencies[action].append(time.perf_counter() - started)
        if not answer.startswith("[3"):
            errors += 1

    async def charge_point(client: LoadClient, transaction_id: int | None) -> None:
        next_heartbeat = begin + rng.uniform(0, heartbeat)
        next_meter = (
            begin + rng.uniform(0, metering) if transaction_id is not None else float("inf")
        )
        energy = rng.uniform(0, 50_000)
        while True:
            due = min(next_heartbeat, next_meter)
            if due >= deadline:
                return
            await asyncio.sleep(max(0.0, due - loop.time()))
            if next_heartbeat <= next_meter:
                await timed(client, "Heartbeat", "{}")
                next_heartbeat += heartbeat
            else:
                assert transaction_id is not None
                energy += 11_000 * metering * speedup / 3600
                await timed(client, "MeterValues", _meter_values(transaction_id, energy))
                await timed(client, "StatusNotification", _status(1, "Charging"))
                next_meter += metering

    results = await asyncio.gather(
        *(charge_point(c, transactions.get(i)) for i, c in enumerate(clients)),
        return_exceptions=True,
    )
    failed = sum(1 for r in results if isinstance(r, BaseException))
    return {
        "latencies": latencies,
        "errors": errors,
        "failed": failed,
        "client_cpu": time.process_time() - cpu,
        "seconds": loop.time() - begin,
    }


# -- the orchestrator ----------------------------------------------------------------------


async def run_one(implementation: str, args: argparse.Namespace) -> dict[str, Any]:
    n = args.charge_points
    script = str(Path(__file__))
    server = await Child.start(
        script,
        "--role",
        "server",
        "--implementation",
        implementation,
        "--charge-points",
        str(n),
        "--gc",
        args.gc,
    )
    clients: list[Child] = []
    result: dict[str, Any] = {"implementation": implementation, "charge_points": n}
    try:
        ready = await server.read()
        processes = min(args.clients, n)
        first = 0
        for i in range(processes):
            count = n // processes + (1 if i < n % processes else 0)
            clients.append(
                await Child.start(
                    script,
                    "--role",
                    "client",
                    "--port",
                    str(ready["port"]),
                    "--first",
                    str(first),
                    "--count",
                    str(count),
                )
            )
            first += count
        for client in clients:
            await client.read()
        started = time.perf_counter()
        connected = await asyncio.gather(*(c.ask(op="connect", timeout=300) for c in clients))
        result["connect_s"] = time.perf_counter() - started
        result["connected"] = sum(c["connected"] for c in connected)
        started = time.perf_counter()
        setups = await asyncio.gather(
            *(c.ask(op="setup", charging=args.charging, timeout=600) for c in clients)
        )
        result["setup_s"] = time.perf_counter() - started
        result["charging"] = sum(s["charging"] for s in setups)
        result["setup_failures"] = sum(s["failures"] for s in setups)
        mark = await server.ask(op="mark", freeze="refreeze" in args.gc)
        result["rss_kib"] = mark["rss_kib"]
        await server.ask(op="start", rate=args.operator_rate)
        runs = await asyncio.gather(
            *(
                c.ask(
                    op="run",
                    seconds=args.duration,
                    speedup=args.speedup,
                    timeout=args.duration + 300,
                )
                for c in clients
            )
        )
        window = await server.ask(op="stop", timeout=120)
        await asyncio.gather(*(c.ask(op="close", timeout=60) for c in clients))
        await server.ask(op="exit", timeout=60)
    finally:
        await asyncio.gather(*(c.stop() for c in clients))
        await server.stop()
    merged: dict[str, list[float]] = {}
    for run in runs:
        for action, values in run["latencies"].items():
            merged.setdefault(action, []).extend(values)
    every = [v for values in merged.values() for v in values]
    result["cp_to_cs"] = {action: percentiles(v) for action, v in merged.items()}
    result["cp_to_cs"]["all"] = percentiles(every)
    result["cs_to_cp"] = percentiles(window["operator"]["latencies"])
    result["operator_failures"] = window["operator"]["failures"]
    result["operator_sent"] = window["operator"]["sent"]
    result["cp_errors"] = sum(r["errors"] for r in runs)
    result["cp_failed"] = sum(r["failed"] for r in runs)
    handled = len(every) + len(window["operator"]["latencies"])
    result["calls_per_s"] = handled / window["wall"]
    result["server_busy"] = window["cpu"] / window["wall"]
    result["server_cpu_us_per_call"] = window["cpu"] / max(handled, 1) * 1e6
    result["gc_share"] = window["gc_seconds"] / max(window["cpu"], 1e-9)
    result["gc_collections"] = window["gc_collections"]
    result["gc_max_pause_ms"] = 1000 * window["gc_max_pause"]
    result["loop_lag"] = window["loop_lag"]
    result["rss_end_kib"] = window["rss_kib"]
    return result


def _ms(stats: dict[str, float]) -> str:
    return f"{1000 * stats['p50']:.1f} / {1000 * stats['p99']:.1f} / {1000 * stats['max']:.0f}"


def print_report(results: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(
        f"\nCPython {sys.version.split()[0]}; {args.charge_points:,} charge points "
        f"({args.charging:.0%} charging), {args.duration:g} s at speedup {args.speedup:g}, "
        f"operator {args.operator_rate:g} calls/s; gc {args.gc!r}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        "\n| latency p50 / p99 / max, ms | "
        + " | ".join(r["implementation"] for r in results)
        + " |"
    )
    print("| --- " * (len(results) + 1) + "|")
    rows = [
        ("CP → CS, every CALL", lambda r: _ms(r["cp_to_cs"]["all"])),
        ("CP → CS, Heartbeat", lambda r: _ms(r["cp_to_cs"]["Heartbeat"])),
        ("CP → CS, MeterValues", lambda r: _ms(r["cp_to_cs"]["MeterValues"])),
        ("CP → CS, StatusNotification", lambda r: _ms(r["cp_to_cs"]["StatusNotification"])),
        ("CS → CP, GetConfiguration", lambda r: _ms(r["cs_to_cp"])),
        ("event loop lag (10 ms timer)", lambda r: _ms(r["loop_lag"])),
        (
            "CALLs answered (CP → CS + CS → CP)",
            lambda r: f"{r['cp_to_cs']['all']['count']:,} + {r['cs_to_cp']['count']:,}",
        ),
        ("CALLs/s", lambda r: f"{r['calls_per_s']:,.0f}"),
        ("server CPU busy", lambda r: f"{100 * r['server_busy']:.0f}%"),
        ("server CPU per CALL", lambda r: f"{r['server_cpu_us_per_call']:.0f} µs"),
        (
            "GC share / longest GC pause",
            lambda r: f"{100 * r['gc_share']:.1f}% / {r['gc_max_pause_ms']:.0f} ms",
        ),
        ("connect all / set-up", lambda r: f"{r['connect_s']:.1f} s / {r['setup_s']:.1f} s"),
        ("server RSS", lambda r: f"{r['rss_end_kib'] / 1024:.0f} MiB"),
        (
            "errors",
            lambda r: (
                f"{r['cp_errors'] + r['cp_failed'] + r['setup_failures']} CP, "
                f"{sum(r['operator_failures'].values())} operator"
            ),
        ),
    ]
    for title, cell in rows:
        print(f"| {title} | " + " | ".join(cell(r) for r in results) + " |")


async def orchestrate(args: argparse.Namespace) -> None:
    raise_fd_limit()
    Path(args.output).mkdir(parents=True, exist_ok=True)
    results = []
    for implementation in args.implementations.split(","):
        result = await run_one(implementation, args)
        results.append(result)
        print(json.dumps(result), file=sys.stderr)
    with open(Path(args.output) / "bench_fleet.json", "w") as out:
        json.dump(results, out, indent=1)
    print_report(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--role", choices=("orchestrator", "server", "client"), default="orchestrator"
    )
    parser.add_argument("--implementations", default="ocpp16csms,ocpp")
    parser.add_argument("--implementation", default="ocpp16csms")
    parser.add_argument("--charge-points", type=int, default=1000)
    parser.add_argument(
        "--charging", type=float, default=0.5, help="share of charge points charging"
    )
    parser.add_argument("--duration", type=float, default=20.0)
    parser.add_argument("--speedup", type=float, default=10.0, help="time compression")
    parser.add_argument("--operator-rate", type=float, default=20.0, help="operator calls/s")
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes")
    parser.add_argument("--gc", default="default", help="as in bench_scale.py")
    parser.add_argument("--output", default="/tmp/bench_fleet")
    parser.add_argument("--port", type=int)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--count", type=int, default=0)
    args = parser.parse_args()
    if args.role == "server":
        asyncio.run(server_main(args))
    elif args.role == "client":
        asyncio.run(client_main(args))
    else:
        asyncio.run(orchestrate(args))


if __name__ == "__main__":
    main()
