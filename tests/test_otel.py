"""OpenTelemetry traces and metrics (``ocpp16csms.otel``), read back with the SDK's in-memory
span exporter and metric reader."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anyio
import attrs
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from harness import connected, make_central_system, wait_until
from ocpp16csms import (
    CallErrorReceived,
    CallTimeout,
    ChargePointNotConnected,
    ChargePointRecord,
    ErrorCode,
    NotSupported,
    StoreError,
    memory_stores,
)
from ocpp16csms.messages import (
    ChargePointErrorCode,
    ChargePointStatus,
    DataTransferRequest,
    HeartbeatRequest,
    RegistrationStatus,
    ResetType,
    StatusNotificationRequest,
)
from ocpp16csms.otel import (
    DURATION_BUCKETS,
    UNKNOWN_ACTION,
    instrument,
    instrument_stores,
    uninstrument,
)
from ocpp16csms.stores import ChargePointStore
from ocpp16csms.transports import HandshakeOptions
from ocpp16csms.transports.asgi import OcppAsgiApp


@attrs.define
class Telemetry:
    spans: InMemorySpanExporter
    reader: InMemoryMetricReader
    tracer_provider: TracerProvider
    meter_provider: MeterProvider

    @property
    def providers(self) -> dict[str, Any]:
        return {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}

    def finished(self, name: str | None = None) -> list[ReadableSpan]:
        return [s for s in self.spans.get_finished_spans() if name is None or s.name == name]

    def boundaries(self, metric: str) -> tuple[float, ...]:
        data = self.reader.get_metrics_data()
        assert data is not None
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name == metric:
                        return tuple(m.data.data_points[0].explicit_bounds)
        raise AssertionError(f"no {metric}")

    def points(self, metric: str) -> dict[frozenset[tuple[str, Any]], Any]:
        """Data points of ``metric`` by their attributes: sums' values, histograms' counts."""
        found: dict[frozenset[tuple[str, Any]], Any] = {}
        data = self.reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for m in scope.metrics:
                    if m.name != metric:
                        continue
                    for point in m.data.data_points:
                        value = getattr(point, "value", None)
                        key = frozenset((point.attributes or {}).items())
                        found[key] = point.count if value is None else value
        return found


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    yield Telemetry(exporter, reader, tracer_provider, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


NAMES = {
    "ocpp_action": "ocpp.action",
    "ocpp_direction": "ocpp.direction",
    "ocpp_error_code": "ocpp.error_code",
    "error_type": "error.type",
    "ocpp_store": "ocpp.store",
    "ocpp_store_operation": "ocpp.store.operation",
}


def key(**attributes: Any) -> frozenset[tuple[str, Any]]:
    return frozenset((NAMES[name], value) for name, value in attributes.items())


ACTION_IN = {"ocpp.action": "Heartbeat", "ocpp.direction": "inbound"}


def test_off_by_default() -> None:
    assert make_central_system().instrumentation is None


@pytest.mark.anyio
async def test_an_inbound_call_gets_a_server_span_and_metrics(telemetry: Telemetry) -> None:
    cs = make_central_system()
    instrument(cs, **telemetry.providers)
    async with connected(cs) as cp:
        await cp.heartbeat()
    [span] = telemetry.finished("Heartbeat")
    assert span.kind is SpanKind.SERVER
    assert span.attributes is not None
    assert span.attributes["ocpp.charge_point_id"] == "CP1"
    assert span.attributes["ocpp.action"] == "Heartbeat"
    assert span.attributes["rpc.system"] == "ocpp1.6"
    assert isinstance(span.attributes["ocpp.message_id"], str)
    assert "ocpp.error_code" not in span.attributes
    assert span.status.status_code is StatusCode.UNSET
    assert telemetry.points("ocpp.messages") == {frozenset(ACTION_IN.items()): 1}
    assert telemetry.points("ocpp.handler.duration") == {key(ocpp_action="Heartbeat"): 1}
    assert telemetry.points("ocpp.call_errors") == {}
    assert telemetry.boundaries("ocpp.handler.duration") == DURATION_BUCKETS


@pytest.mark.anyio
async def test_store_calls_are_children_of_the_message_span(telemetry: Telemetry) -> None:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
            )
        ]
    )
    cs = make_central_system(stores=instrument_stores(stores, **telemetry.providers))
    instrument(cs, **telemetry.providers)
    async with connected(cs) as cp:
        await cp.call(
            StatusNotificationRequest(
                connector_id=1,
                error_code=ChargePointErrorCode.NO_ERROR,
                status=ChargePointStatus.AVAILABLE,
            )
        )
    [message] = telemetry.finished("StatusNotification")
    [store] = telemetry.finished("charge_points.set_connector_status")
    assert store.parent is not None
    assert message.context is not None
    assert store.parent.span_id == message.context.span_id
    assert store.context is not None
    assert store.context.trace_id == message.context.trace_id
    durations = telemetry.points("ocpp.store.duration")
    assert durations[key(ocpp_store="charge_points", ocpp_store_operation="set_connector_status")]
    # the store really stored through the wrapper
    statuses = await stores.charge_points.connector_statuses("CP1")
    assert statuses[1].status is ChargePointStatus.AVAILABLE


@pytest.mark.anyio
async def test_a_handler_error_is_recorded_with_its_code(telemetry: Telemetry) -> None:
    cs = make_central_system()
    instrument(cs, **telemetry.providers)

    @cs.on(DataTransferRequest)
    async def refuse(request: DataTransferRequest, ctx: Any) -> Any:
        raise NotSupported("no vendor data here")

    async with connected(cs) as cp:
        with pytest.raises(CallErrorReceived):
            await cp.call(DataTransferRequest(vendor_id="acme"))
    [span] = telemetry.finished("DataTransfer")
    assert span.attributes is not None
    assert span.attributes["ocpp.error_code"] == "NotSupported"
    assert span.status.status_code is StatusCode.ERROR
    assert telemetry.points("ocpp.call_errors") == {
        key(ocpp_error_code="NotSupported", ocpp_direction="inbound"): 1
    }
    assert telemetry.points("ocpp.handler.duration") == {
        key(ocpp_action="DataTransfer", error_type="NotSupported"): 1
    }


@pytest.mark.anyio
async def test_a_call_the_session_rejects_is_counted(telemetry: Telemetry) -> None:
    cs = make_central_system()
    instrument(cs, **telemetry.providers)
    async with connected(cs) as cp:
        await cp.send_raw('[2,"m-1","Heartbeat",{"unexpected":1}]')
        await wait_until(lambda: telemetry.finished("Heartbeat"))
    [span] = telemetry.finished("Heartbeat")
    assert span.attributes is not None
    assert span.attributes["ocpp.message_id"] == "m-1"
    assert span.attributes["ocpp.error_code"] == "FormationViolation"
    assert telemetry.points("ocpp.call_errors") == {
        key(ocpp_error_code="FormationViolation", ocpp_direction="inbound"): 1
    }
    assert telemetry.points("ocpp.messages") == {frozenset(ACTION_IN.items()): 1}


@pytest.mark.anyio
async def test_an_unknown_action_is_one_series_whatever_its_name(telemetry: Telemetry) -> None:
    cs = make_central_system()
    instrument(cs, **telemetry.providers)
    async with connected(cs) as cp:
        for n in range(3):
            await cp.send_raw(f'[2,"m-{n}","Invented{n}",{{}}]')
        await wait_until(lambda: len(telemetry.finished()) == 3)
    unknown = {"ocpp.action": UNKNOWN_ACTION, "ocpp.direction": "inbound"}
    assert telemetry.points("ocpp.messages") == {frozenset(unknown.items()): 3}
    assert telemetry.points("ocpp.call_errors") == {
        key(ocpp_error_code="NotImplemented", ocpp_direction="inbound"): 3
    }


@pytest.mark.anyio
async def test_an_outbound_call_gets_a_client_span_and_waits_in_the_queue_gauge(
    telemetry: Telemetry,
) -> None:
    cs = make_central_system()
    instrument(cs, **telemetry.providers)
    async with connected(cs) as cp:
        cp.answer("Reset", cp.answers["Reset"].response, delay=0.2)
        async with anyio.create_task_group() as group:
            group.start_soon(cs.core.reset, "CP1", ResetType.SOFT)
            await wait_until(lambda: cp.received)
            assert telemetry.points("ocpp.calls.queued") == {key(ocpp_action="Reset"): 1}
    [span] = telemetry.finished("Reset")
    assert span.kind is SpanKind.CLIENT
    assert span.attributes is not None
    assert span.attributes["ocpp.status"] == "Accepted"
    assert span.attributes["ocpp.message_id"]
    assert telemetry.points("ocpp.calls.queued") == {key(ocpp_action="Reset"): 0}
    assert telemetry.points("ocpp.messages") == {
        key(ocpp_action="Reset", ocpp_direction="outbound"): 1
    }
    assert telemetry.points("ocpp.call.duration") == {key(ocpp_action="Reset"): 1}


@pytest.mark.anyio
async def test_outbound_failures_carry_their_code_or_type(telemetry: Telemetry) -> None:
    cs = make_central_system(call_timeout=0.1)
    instrument(cs, **telemetry.providers)
    async with connected(cs) as cp:
        cp.answer("Reset", error=ErrorCode.INTERNAL_ERROR, description="busy")
        with pytest.raises(CallErrorReceived):
            await cs.core.reset("CP1", ResetType.SOFT)
        cp.answer("ClearCache", drop=True)
        with pytest.raises(CallTimeout):
            await cs.core.clear_cache("CP1")
    with pytest.raises(ChargePointNotConnected):
        await cs.core.reset("CP2", ResetType.HARD)
    assert telemetry.points("ocpp.call_errors") == {
        key(ocpp_error_code="InternalError", ocpp_direction="outbound"): 1
    }
    assert telemetry.points("ocpp.call.duration") == {
        key(ocpp_action="Reset", error_type="InternalError"): 1,
        key(ocpp_action="ClearCache", error_type="CallTimeout"): 1,
        key(ocpp_action="Reset", error_type="ChargePointNotConnected"): 1,
    }
    # A call that never went into a session is not a message on the wire.
    assert telemetry.points("ocpp.messages") == {
        key(ocpp_action="Reset", ocpp_direction="outbound"): 1,
        key(ocpp_action="ClearCache", ocpp_direction="outbound"): 1,
    }
    assert all(s.status.status_code is StatusCode.ERROR for s in telemetry.finished())
    assert telemetry.points("ocpp.calls.queued") == {
        key(ocpp_action="Reset"): 0,
        key(ocpp_action="ClearCache"): 0,
    }


@pytest.mark.anyio
async def test_connected_charge_points_are_observed(telemetry: Telemetry) -> None:
    cs = make_central_system(charge_points=("CP1", "CP2"))
    instrument(cs, **telemetry.providers)
    async with connected(cs, "CP1"), connected(cs, "CP2"):
        assert telemetry.points("ocpp.charge_points.connected") == {frozenset(): 2}
    assert telemetry.points("ocpp.charge_points.connected") == {frozenset(): 0}


@pytest.mark.anyio
async def test_uninstrument_stops_the_spans(telemetry: Telemetry) -> None:
    cs = make_central_system()
    instrument(cs, **telemetry.providers)
    uninstrument(cs)
    assert cs.instrumentation is None
    async with connected(cs) as cp:
        await cp.heartbeat()
    assert telemetry.finished() == []


async def _refuse(app: OcppAsgiApp, path: str) -> int:
    inbox_send, inbox = anyio.create_memory_object_stream[Any](1)
    inbox_send.send_nowait({"type": "websocket.connect"})
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": path,
        "subprotocols": ["ocpp1.6"],
        "headers": [],
        "extensions": {"websocket.http.response": {}},
    }
    with inbox_send, inbox:
        await app(scope, inbox.receive, send)
    return int(sent[0]["status"])


@pytest.mark.anyio
async def test_refused_handshakes_are_counted_by_cause(telemetry: Telemetry) -> None:
    cs = make_central_system()
    instrument(cs, **telemetry.providers)
    app = OcppAsgiApp(cs, options=HandshakeOptions(allow_unknown_charge_points=False))
    assert await _refuse(app, "/ocpp/NOBODY") == 404
    assert await _refuse(app, "/elsewhere/CP1") == 404
    assert await _refuse(app, "/ocpp/" + "x" * 49) == 400
    assert await _refuse(app, "/ocpp/ALSO-NOBODY") == 404
    assert telemetry.points("ocpp.handshakes.refused") == {
        frozenset({("http.response.status_code", 404), ("ocpp.handshake.cause", cause)}): n
        for cause, n in (("unknown_charge_point", 2), ("no_endpoint", 1))
    } | {
        frozenset(
            {("http.response.status_code", 400), ("ocpp.handshake.cause", "bad_charge_point_id")}
        ): 1
    }


class _FailingChargePoints:
    def __init__(self, inner: ChargePointStore) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def touch(self, charge_point_id: str, at: Any) -> None:
        raise StoreError("the database is down")


@pytest.mark.anyio
async def test_a_failing_store_call_is_an_error_span(telemetry: Telemetry) -> None:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
            )
        ]
    )
    memory = stores.charge_points
    stores = attrs.evolve(stores, charge_points=_FailingChargePoints(memory))
    traced = instrument_stores(stores, **telemetry.providers)
    # Every method of the protocol is there (CPython 3.12+ no longer sees attributes that
    # __getattr__ forwards in isinstance() on a runtime protocol, so they are looked up).
    methods = [name for name in dir(ChargePointStore) if not name.startswith("_")]
    assert methods
    assert all(callable(getattr(traced.charge_points, name)) for name in methods)
    assert traced.charge_points.inner is memory  # plain attributes pass through
    with pytest.raises(StoreError):
        await traced.charge_points.touch("CP1", None)
    [span] = telemetry.finished("charge_points.touch")
    assert span.status.status_code is StatusCode.ERROR
    assert telemetry.points("ocpp.store.duration") == {
        key(ocpp_store="charge_points", ocpp_store_operation="touch", error_type="StoreError"): 1
    }


def test_instrument_stores_refuses_what_is_not_a_bundle() -> None:
    with pytest.raises(TypeError, match="Stores bundle"):
        instrument_stores(object())  # type: ignore[arg-type]


@pytest.mark.anyio
async def test_heartbeat_request_spans_nest_nothing_when_stores_are_plain(
    telemetry: Telemetry,
) -> None:
    cs = make_central_system()
    instrument(cs, **telemetry.providers)
    async with connected(cs) as cp:
        await cp.call(HeartbeatRequest())
    assert [s.name for s in telemetry.finished()] == ["Heartbeat"]
