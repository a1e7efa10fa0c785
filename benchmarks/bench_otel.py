"""What OpenTelemetry costs per message: frame in → reply out, instrumentation off and on.

One central system serves one in-memory connection; the benchmark writes a CALL frame and
waits for the reply frame, ``--messages`` times per round, for Heartbeat (no store call) and
StatusNotification (one store write). Modes, interleaved round by round so drift hits all:

- ``off``: no instrumentation (the default; the engine pays one ``is None`` check);
- ``api``: ``instrument(cs)`` with the API's no-op providers (the SDK not installed or unset);
- ``sdk``: the OpenTelemetry SDK with a span processor and a metric reader, and
  ``instrument_stores`` (every store call a span too).

Run ``off`` alone on a tree without the seam to compare with the code before it:

    python benchmarks/bench_otel.py [--messages 2000] [--rounds 7] [--modes off,api,sdk]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable
from typing import Any

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    memory_connection_pair,
    memory_stores,
)
from ocpp16csms.messages import RegistrationStatus

FRAMES = {
    "Heartbeat": '[2,"{n}","Heartbeat",{{}}]',
    "StatusNotification": (
        '[2,"{n}","StatusNotification",{{"connectorId":1,"errorCode":"NoError",'
        '"status":"Available","timestamp":"2026-11-24T12:00:00Z"}}]'
    ),
}


def build(mode: str) -> tuple[CentralSystem, Callable[[], None]]:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
            )
        ]
    )
    if mode == "off":
        return CentralSystem(stores, CentralSystemOptions()), lambda: None
    from ocpp16csms.otel import instrument, instrument_stores

    if mode == "api":
        cs = CentralSystem(stores, CentralSystemOptions())
        instrument(cs)
        return cs, lambda: None
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

    class Discard(SpanExporter):
        def export(self, spans: Any) -> SpanExportResult:
            return SpanExportResult.SUCCESS

    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(BatchSpanProcessor(Discard()))
    meter_provider = MeterProvider(metric_readers=[InMemoryMetricReader()])
    providers: dict[str, Any] = {
        "tracer_provider": tracer_provider,
        "meter_provider": meter_provider,
    }
    cs = CentralSystem(instrument_stores(stores, **providers), CentralSystemOptions())
    instrument(cs, **providers)

    def shutdown() -> None:
        tracer_provider.shutdown()
        meter_provider.shutdown()

    return cs, shutdown


async def round_trip_us(mode: str, action: str, messages: int) -> float:
    """Mean µs from writing one CALL frame to reading its reply, over ``messages``."""
    cs, shutdown = build(mode)
    server, client = memory_connection_pair()
    template = FRAMES[action]
    async with asyncio.TaskGroup() as group:
        group.create_task(cs.serve(server, "CP1"))
        for n in range(50):  # warm up (and the first last-seen write)
            await client.send(template.format(n=f"w{n}"))
            await client.receive()
        started = time.perf_counter()
        for n in range(messages):
            await client.send(template.format(n=n))
            await client.receive()
        elapsed = time.perf_counter() - started
        await client.close()
    shutdown()
    return elapsed / messages * 1e6


async def main(messages: int, rounds: int, modes: list[str]) -> None:
    results: dict[tuple[str, str], list[float]] = {}
    for _ in range(rounds):
        for action in FRAMES:
            for mode in modes:
                figure = await round_trip_us(mode, action, messages)
                results.setdefault((action, mode), []).append(figure)
    print(f"µs per message, frame in → reply out; median (min) of {rounds} rounds of {messages}")
    print("| message | " + " | ".join(modes) + " |")
    print("| --- |" + " --- |" * len(modes))
    for action in FRAMES:
        cells = []
        for mode in modes:
            figures = results[(action, mode)]
            cells.append(f"{statistics.median(figures):.1f} ({min(figures):.1f})")
        print(f"| {action} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--modes", default="off,api,sdk")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.messages, arguments.rounds, arguments.modes.split(",")))
