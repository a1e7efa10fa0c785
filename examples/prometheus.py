"""Metrics for Prometheus to scrape: OpenTelemetry's Prometheus reader over a central system.

    pip install -e '.[otel,websockets]' opentelemetry-sdk opentelemetry-exporter-prometheus
    python examples/prometheus.py          # OCPP on ws://127.0.0.1:9000/ocpp/<id>,
                                           # metrics on http://127.0.0.1:9464/metrics
    python examples/prometheus.py --demo   # run a simulated charging session in memory,
                                           # print the ocpp_* lines of the exposition, exit

A host that already runs an OpenTelemetry collector sends the same metrics over OTLP instead
(``opentelemetry-exporter-otlp``'s ``OTLPMetricExporter`` in a ``PeriodicExportingMetricReader``)
and lets the collector's Prometheus exporter serve them (docs/observability.md).
"""

from __future__ import annotations

import argparse
import re

import anyio
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.sdk.metrics import MeterProvider
from prometheus_client import REGISTRY, generate_latest, start_http_server

from ocpp16csms import (
    CentralSystem,
    ChargePointRecord,
    IdTagRecord,
    memory_connection_pair,
    memory_stores,
)
from ocpp16csms.messages import RegistrationStatus, ResetType
from ocpp16csms.otel import instrument, instrument_stores
from ocpp16csms.testing import ChargePointSimulator


def build_central_system(meter_provider: MeterProvider) -> CentralSystem:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP-1", registration_status=RegistrationStatus.ACCEPTED
            )
        ],
        id_tags=[IdTagRecord(id_tag="DEMO-TAG")],
    )
    # Store calls are timed too when the bundle is wrapped before the central system is built.
    cs = CentralSystem(instrument_stores(stores, meter_provider=meter_provider))
    instrument(cs, meter_provider=meter_provider)
    return cs


async def demo(cs: CentralSystem) -> None:
    server_end, charge_point_end = memory_connection_pair()
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, server_end, "CP-1")
        charge_point = ChargePointSimulator("CP-1", charge_point_end)
        async with charge_point.running():
            await charge_point.boot()
            await charge_point.charge(1, "DEMO-TAG", meter_values=2)
            await cs.core.reset("CP-1", ResetType.SOFT)
            exposition = generate_latest(REGISTRY).decode()
            for line in exposition.splitlines():
                # One line per series here; the histograms' buckets are left out.
                if line.startswith("ocpp_") and "_bucket{" not in line:
                    print(re.sub(r',?otel_scope_\w+="[^"]*"', "", line).replace("{}", ""))


async def serve(cs: CentralSystem) -> None:
    from ocpp16csms.transports.websockets import serve as serve_websockets

    async with cs, await serve_websockets(cs, "127.0.0.1", 9000) as server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--demo", action="store_true", help="print the exposition and exit")
    arguments = parser.parse_args()
    # The reader registers itself with prometheus_client's default registry.
    meter_provider = MeterProvider(metric_readers=[PrometheusMetricReader()])
    cs = build_central_system(meter_provider)
    if arguments.demo:
        anyio.run(demo, cs)
    else:
        start_http_server(9464, addr="127.0.0.1")
        print("OCPP on ws://127.0.0.1:9000/ocpp/<id>; metrics on http://127.0.0.1:9464/metrics")
        anyio.run(serve, cs)
    meter_provider.shutdown()


if __name__ == "__main__":
    main()
