"""Server CPU, throughput and memory per connection, 100 to 10,000 WebSocket charge points.

One server process (see ``_servers.py``: ``ocpp16csms``, the ``ocpp`` package from PyPI, and
the ``floor`` of websockets plus json) and ``--clients`` load-generator processes, each holding
its share of the connections on a lean hand-framed WebSocket client (``_wsload.py``). For each
implementation and connection count N:

1. the server starts; its resident memory is read after a full collection;
2. all N charge points connect at once (the *connect* time: first SYN to last 101), then send
   one BootNotification each (*boot*);
3. after a second's rest the server's memory is read again: (RSS after − RSS before) / N is
   the memory per idle connected charge point;
4. a closed loop: every connection sends a Heartbeat, and the next when the answer arrives,
   for ``--duration`` seconds (after a one-second warm-up). The server's window runs from
   before the clients start until every CALL in flight is answered: CALLs/s is every CALL
   answered in it over its length, server CPU per CALL the server's ``time.process_time``
   over the same count, the GC share the time inside ``gc.callbacks`` over that CPU time.
   The server's CPU and GC share during the connect storm are reported too.

    python benchmarks/bench_scale.py                       # 100 and 1,000: under a minute
    python benchmarks/bench_scale.py --connections 100,1000,5000,10000 --duration 10
    python benchmarks/bench_scale.py --implementations ocpp16csms --gc freeze+threshold:50000,20,100
    python benchmarks/bench_scale.py --tracemalloc         # top allocation sites per connection
    python benchmarks/bench_scale.py --profile cprofile    # or pyspy, pyspy-connect (py-spy)

Results, method and the GC settings measured: docs/performance.md.

All on loopback; every child exits when the orchestrator's pipe closes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from _servers import IMPLEMENTATIONS, serve_implementation
from _wsload import (
    Child,
    GcMeter,
    apply_gc_setting,
    command_reader,
    open_clients,
    raise_fd_limit,
    reply,
    rss_kib,
)

HEARTBEAT = "Heartbeat"
BOOT = (
    '{"chargePointVendor":"Bench","chargePointModel":"Scale","chargePointSerialNumber":"S-1",'
    '"firmwareVersion":"1.0.0"}'
)


def charge_point_ids(first: int, count: int) -> list[str]:
    return [f"CP{n:06d}" for n in range(first, first + count)]


# -- the server process --------------------------------------------------------------------


async def server_main(args: argparse.Namespace) -> None:
    raise_fd_limit()
    apply_gc_setting(args.gc)
    if args.tracemalloc:
        import tracemalloc

        tracemalloc.start(args.tracemalloc_frames)
    meter = GcMeter()
    ids = charge_point_ids(0, int(args.connections))
    snapshots: dict[str, Any] = {}
    profiler: Any = None
    async with serve_implementation(args.implementation, ids, backlog=args.backlog) as served:
        if "freeze" in args.gc:
            # After startup: the code, schemas and compiled validators leave the GC's view.
            gc.collect()
            gc.freeze()
        reader = await command_reader()
        reply(event="ready", port=served.port, pid=os.getpid())
        window: dict[str, float] = {}
        while line := await reader.readline():
            command = json.loads(line)
            op = command["op"]
            if op == "mark":
                gc.collect()
                if command.get("freeze"):
                    gc.freeze()
                objects = gc.get_objects()
                types: dict[str, int] = {}
                for o in objects:
                    name = type(o).__qualname__
                    types[name] = types.get(name, 0) + 1
                del objects
                reply(rss_kib=rss_kib(), connected=len(served.connected()), types=types)
            elif op == "census":
                # No collection first: what lives (garbage included) with N CALLs in flight.
                reply(objects=len(gc.get_objects()))
            elif op == "snapshot":
                import tracemalloc

                gc.collect()
                snapshots[command["name"]] = tracemalloc.take_snapshot()
                reply(ok=True)
            elif op == "diff":
                reply(**_tracemalloc_diff(snapshots, command, len(served.connected())))
            elif op == "start":
                meter.reset()
                if command.get("profile"):
                    import cProfile

                    profiler = cProfile.Profile()
                    profiler.enable()
                window = {"cpu": time.process_time(), "wall": time.perf_counter()}
                reply(ok=True)
            elif op == "stop":
                cpu = time.process_time() - window["cpu"]
                wall = time.perf_counter() - window["wall"]
                if profiler is not None:
                    profiler.disable()
                    _write_profile(profiler, command["profile"])
                    profiler = None
                reply(cpu=cpu, wall=wall, rss_kib=rss_kib(), **meter.report())
            elif op == "exit":
                break
    reply(bye=True)


def _tracemalloc_diff(snapshots: dict[str, Any], command: dict[str, Any], n: int) -> dict[str, Any]:
    before, after = snapshots[command["before"]], snapshots[command["after"]]
    result: dict[str, Any] = {"connections": n}
    for grouping in ("lineno", "filename", "traceback"):
        if grouping == "traceback" and not command.get("traceback"):
            continue
        stats = after.compare_to(before, grouping)
        total = sum(s.size_diff for s in stats)
        rows = []
        for stat in stats[: command.get("top", 25)]:
            frames = stat.traceback.format()[-2 * command.get("frames", 1) :]
            rows.append(
                {
                    "bytes_per_connection": stat.size_diff / max(n, 1),
                    "blocks_per_connection": stat.count_diff / max(n, 1),
                    "where": " | ".join(line.strip() for line in frames),
                }
            )
        result[grouping] = {"total_bytes_per_connection": total / max(n, 1), "top": rows}
    return result


def _write_profile(profiler: Any, path: str) -> None:
    import io
    import pstats

    profiler.dump_stats(path + ".pstats")
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(45)
    stats.sort_stats("cumulative").print_stats(45)
    Path(path + ".txt").write_text(out.getvalue())


# -- a client process ----------------------------------------------------------------------


async def client_main(args: argparse.Namespace) -> None:
    raise_fd_limit()
    reader = await command_reader()
    ids = charge_point_ids(args.first, args.count)
    clients: list[Any] = []
    reply(event="ready")
    while line := await reader.readline():
        command = json.loads(line)
        op = command["op"]
        if op == "connect":
            started = time.perf_counter()
            clients, failed = await open_clients("127.0.0.1", args.port, "/ocpp", ids)
            reply(seconds=time.perf_counter() - started, connected=len(clients), failed=failed)
        elif op == "boot":
            started = time.perf_counter()
            answers = await asyncio.gather(
                *(c.call("BootNotification", BOOT) for c in clients), return_exceptions=True
            )
            accepted = sum(1 for a in answers if isinstance(a, str) and '"Accepted"' in a)
            reply(seconds=time.perf_counter() - started, accepted=accepted)
        elif op == "load":
            reply(**await closed_loop(clients, command["seconds"]))
        elif op == "close":
            for client in clients:
                client.close()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.gather(*(c.lost for c in clients)), 15)
            reply(closed=True)
            break


async def closed_loop(clients: list[Any], seconds: float) -> dict[str, Any]:
    """Each connection keeps one Heartbeat in flight; answers while running are counted."""
    state = {"running": True, "answered": 0, "errors": 0, "drained": 0, "in_flight": 0}
    drained = asyncio.get_running_loop().create_future()

    def on_text(client: Any, text: str) -> None:
        kind = text[1]
        if kind == "2":  # a CALL of the server's: not part of this load
            return
        if state["running"]:
            if kind == "3":
                state["answered"] += 1
            else:
                state["errors"] += 1
            client.sequence += 1
            client.send_text(f'[2,"{client.sequence}","Heartbeat",{{}}]')
            return
        state["drained"] += 1
        state["in_flight"] -= 1
        if state["in_flight"] == 0 and not drained.done():
            drained.set_result(None)

    cpu = time.process_time()
    for client in clients:
        client.on_text = on_text
        client.sequence += 1
        client.send_text(f'[2,"{client.sequence}","Heartbeat",{{}}]')
    state["in_flight"] = len(clients)
    await asyncio.sleep(seconds)
    state["running"] = False
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(drained, 60)
    for client in clients:
        client.on_text = None
    return {
        "answered": state["answered"],
        "errors": state["errors"],
        "drained": state["drained"],
        "lost": state["in_flight"],
        "client_cpu": time.process_time() - cpu,
    }


# -- the orchestrator ----------------------------------------------------------------------


async def run_one(implementation: str, n: int, args: argparse.Namespace) -> dict[str, Any]:
    server = await Child.start(
        __file__,
        "--role",
        "server",
        "--implementation",
        implementation,
        "--connections",
        str(n),
        "--gc",
        args.gc,
        "--backlog",
        str(args.backlog or n),
        *(["--tracemalloc"] if args.tracemalloc else []),
        "--tracemalloc-frames",
        str(args.tracemalloc_frames),
    )
    clients: list[Child] = []
    result: dict[str, Any] = {"implementation": implementation, "connections": n}
    try:
        ready = await server.read()
        port = ready["port"]
        result["server_pid"] = ready["pid"]
        before = await server.ask(op="mark")
        if args.tracemalloc:
            await server.ask(op="snapshot", name="before")
        processes = min(args.clients, n)
        share = [n // processes + (1 if i < n % processes else 0) for i in range(processes)]
        first = 0
        for count in share:
            clients.append(
                await Child.start(
                    __file__,
                    "--role",
                    "client",
                    "--port",
                    str(port),
                    "--first",
                    str(first),
                    "--count",
                    str(count),
                )
            )
            first += count
        for client in clients:
            await client.read()
        spy = None
        if args.profile == "pyspy-connect":
            spy = await _start_pyspy(ready["pid"], f"{implementation}-connect", n, args, None)
        await server.ask(op="start", profile=None)
        started = time.perf_counter()
        connected = await asyncio.gather(*(c.ask(op="connect", timeout=300) for c in clients))
        result["connect_s"] = time.perf_counter() - started
        result["connected"] = sum(c["connected"] for c in connected)
        result["connect_failed"] = sum(c["failed"] for c in connected)
        started = time.perf_counter()
        booted = await asyncio.gather(*(c.ask(op="boot", timeout=300) for c in clients))
        result["boot_s"] = time.perf_counter() - started
        result["accepted"] = sum(b["accepted"] for b in booted)
        storm = await server.ask(op="stop", profile=None)
        result["connect_boot_server_cpu_s"] = storm["cpu"]
        result["connect_boot_gc_share"] = storm["gc_seconds"] / max(storm["cpu"], 1e-9)
        result["connect_boot_gc_max_pause_ms"] = 1000 * storm["gc_max_pause"]
        if spy is not None:
            spy.send_signal(signal.SIGINT)  # py-spy writes what it sampled and exits
            await spy.wait()
            result["pyspy"] = summarise_pyspy(
                Path(args.output) / f"pyspy-{implementation}-connect-{n}.txt"
            )
        await asyncio.sleep(1.0)
        after = await server.ask(op="mark", freeze="refreeze" in args.gc)
        result["server_connected"] = after["connected"]
        result["rss_before_kib"] = before["rss_kib"]
        result["rss_after_kib"] = after["rss_kib"]
        result["kib_per_connection"] = (after["rss_kib"] - before["rss_kib"]) / n
        # Objects the garbage collector tracks (containers): each full collection visits them.
        result["gc_objects_before"] = sum(before["types"].values())
        result["gc_objects_per_connection"] = (
            sum(after["types"].values()) - result["gc_objects_before"]
        ) / n
        result["gc_object_types_per_connection"] = dict(
            sorted(
                (
                    (name, (count - before["types"].get(name, 0)) / n)
                    for name, count in after["types"].items()
                    if count - before["types"].get(name, 0) >= n / 2
                ),
                key=lambda item: -item[1],
            )
        )
        if args.tracemalloc:
            await server.ask(op="snapshot", name="after")
            result["tracemalloc"] = await server.ask(
                op="diff",
                before="before",
                after="after",
                top=args.top,
                traceback=args.tracemalloc_frames > 1,
                frames=args.tracemalloc_frames,
            )
        if args.duration > 0:
            warm_up = asyncio.gather(*(c.ask(op="load", seconds=1.0) for c in clients))
            await asyncio.sleep(0.5)
            census = await server.ask(op="census")
            await warm_up
            result["gc_objects_per_in_flight_call"] = (
                census["objects"] - sum(after["types"].values())
            ) / n
            profile = None
            if args.profile == "cprofile":
                profile = str(Path(args.output) / f"cprofile-{implementation}-{n}")
            await server.ask(op="start", profile=profile)
            spy = None
            if args.profile == "pyspy":
                spy = await _start_pyspy(ready["pid"], implementation, n, args, args.duration)
            loads = await asyncio.gather(
                *(
                    c.ask(op="load", seconds=args.duration, timeout=args.duration + 120)
                    for c in clients
                )
            )
            window = await server.ask(op="stop", profile=profile)
            if spy is not None:
                await spy.wait()
                result["pyspy"] = summarise_pyspy(
                    Path(args.output) / f"pyspy-{implementation}-{n}.txt"
                )
            answered = sum(x["answered"] for x in loads)
            handled = answered + sum(x["errors"] + x["drained"] for x in loads)
            result["errors"] = sum(x["errors"] for x in loads)
            result["lost"] = sum(x["lost"] for x in loads)
            # The server's window runs from before the clients start until they drained: the
            # server is busy all along, and with 10,000 connections in flight a round trip
            # takes seconds, so counting only the answers inside the clients' window undercounts.
            result["calls_per_s"] = handled / window["wall"]
            result["answered_in_window_per_s"] = answered / args.duration
            result["server_cpu_us_per_call"] = window["cpu"] / max(handled, 1) * 1e6
            result["server_busy"] = window["cpu"] / window["wall"]
            result["gc_share"] = window["gc_seconds"] / max(window["cpu"], 1e-9)
            result["gc_collections"] = window["gc_collections"]
            result["gc_share_by_generation"] = [
                s / max(window["cpu"], 1e-9) for s in window["gc_seconds_by_generation"]
            ]
            result["gc_ms_per_collection"] = [
                1000 * s / max(c, 1)
                for s, c in zip(
                    window["gc_seconds_by_generation"], window["gc_collections"], strict=True
                )
            ]
            result["client_cpu_us_per_call"] = (
                sum(x["client_cpu"] for x in loads) / max(handled, 1) * 1e6
            )
            result["rss_end_kib"] = window["rss_kib"]
        await asyncio.gather(*(c.ask(op="close", timeout=60) for c in clients))
        await server.ask(op="exit", timeout=60)
    finally:
        await asyncio.gather(*(c.stop() for c in clients))
        await server.stop()
    return result


async def _start_pyspy(
    pid: int, name: str, n: int, args: argparse.Namespace, seconds: float | None
) -> asyncio.subprocess.Process:
    """py-spy on the server for ``seconds`` (None: until it gets SIGINT)."""
    executable = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    duration = ["--duration", str(max(1, int(seconds) - 1))] if seconds is not None else []
    spy = await asyncio.create_subprocess_exec(
        executable,
        "record",
        "--pid",
        str(pid),
        *duration,
        "--rate",
        "200",
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(Path(args.output) / f"pyspy-{name}-{n}.txt"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    await asyncio.sleep(0.5)  # let it attach
    return spy


def summarise_pyspy(path: Path, top: int = 30) -> dict[str, Any]:
    """Self and inclusive sample shares per function from py-spy's collapsed stacks."""
    own: dict[str, int] = {}
    inclusive: dict[str, int] = {}
    by_file: dict[str, int] = {}
    total = 0
    if not path.exists():
        return {"samples": 0}
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        total += count
        leaf = frames[-1]
        own[leaf] = own.get(leaf, 0) + count
        leaf_file = leaf.rpartition("(")[2].split(":")[0]
        by_file[leaf_file] = by_file.get(leaf_file, 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count

    def rows(table: dict[str, int]) -> list[tuple[float, str]]:
        ordered = sorted(table.items(), key=lambda item: -item[1])[:top]
        return [(round(100 * c / max(total, 1), 1), name) for name, c in ordered]

    return {
        "samples": total,
        "self": rows(own),
        "inclusive": rows(inclusive),
        "files": rows(by_file),
    }


def print_table(results: list[dict[str, Any]]) -> None:
    header = (
        "| implementation | N | connected | connect | boot | KiB/conn | CALLs/s "
        "| server µs/CALL | server busy | GC share | client µs/CALL |"
    )
    print(header)
    print("| --- " * 11 + "|")
    for r in results:
        load = "calls_per_s" in r
        print(
            f"| {r['implementation']} | {r['connections']:,} | {r['connected']:,} "
            f"| {r['connect_s']:.2f} s | {r['boot_s']:.2f} s | {r['kib_per_connection']:.1f} "
            + (
                f"| {r['calls_per_s']:,.0f} | {r['server_cpu_us_per_call']:.0f} "
                f"| {100 * r['server_busy']:.0f}% | {100 * r['gc_share']:.1f}% "
                f"| {r['client_cpu_us_per_call']:.0f} |"
                if load
                else "| – | – | – | – | – |"
            )
        )


async def orchestrate(args: argparse.Namespace) -> None:
    raise_fd_limit()
    Path(args.output).mkdir(parents=True, exist_ok=True)
    results = []
    for n in (int(x) for x in args.connections.split(",")):
        for implementation in args.implementations.split(","):
            result = await run_one(implementation, n, args)
            results.append(result)
            print(
                json.dumps(
                    {
                        k: v
                        for k, v in result.items()
                        if k not in ("tracemalloc", "pyspy", "gc_object_types_per_connection")
                    }
                ),
                file=sys.stderr,
            )
            print(
                f"\nGC-tracked objects per connection, {implementation} at {n:,}: "
                f"{result['gc_objects_per_connection']:.0f}"
            )
            for name, count in result["gc_object_types_per_connection"].items():
                print(f"  {count:6.1f}  {name}")
            if "tracemalloc" in result:
                print_tracemalloc(result["tracemalloc"])
            if "pyspy" in result:
                print_pyspy(result)
    with open(Path(args.output) / "bench_scale.json", "w") as out:
        json.dump(results, out, indent=1)
    print(
        f"\nCPython {sys.version.split()[0]}, gc setting {args.gc!r}, {args.clients} client processes, "
        f"{args.duration:g} s closed loop, load average {os.getloadavg()[0]:.1f}"
    )
    print_table(results)


def print_tracemalloc(diff: dict[str, Any]) -> None:
    for grouping in ("filename", "lineno", "traceback"):
        if grouping not in diff:
            continue
        table = diff[grouping]
        print(
            f"\ntracemalloc by {grouping}: {table['total_bytes_per_connection']:.0f} B per connection"
        )
        for row in table["top"]:
            print(
                f"  {row['bytes_per_connection']:8.0f} B {row['blocks_per_connection']:6.1f} blocks  {row['where']}"
            )


def print_pyspy(result: dict[str, Any]) -> None:
    summary = result["pyspy"]
    print(
        f"\npy-spy, {result['implementation']} at {result['connections']:,}: {summary['samples']} samples"
    )
    for title in ("self", "inclusive", "files"):
        print(f"  -- {title}")
        for share, name in summary.get(title, []):
            print(f"  {share:5.1f}%  {name}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--role", choices=("orchestrator", "server", "client"), default="orchestrator"
    )
    parser.add_argument("--implementations", default=",".join(IMPLEMENTATIONS))
    parser.add_argument("--implementation", default="ocpp16csms")
    parser.add_argument("--connections", default="100,1000")
    parser.add_argument("--clients", type=int, default=4, help="load-generator processes")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of closed loop")
    parser.add_argument(
        "--gc",
        default="default",
        help="default | freeze | threshold:A,B,C | freeze+threshold:A,B,C "
        "(+refreeze: gc.freeze() again once every charge point booted)",
    )
    parser.add_argument("--backlog", type=int, default=0, help="listen backlog (default: N)")
    parser.add_argument("--tracemalloc", action="store_true")
    parser.add_argument("--tracemalloc-frames", type=int, default=1)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--profile",
        choices=("none", "cprofile", "pyspy", "pyspy-connect"),
        default="none",
        help="profile the server in the closed loop, or (pyspy-connect) while all connect and boot",
    )
    parser.add_argument("--output", default="/tmp/bench_scale")
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
