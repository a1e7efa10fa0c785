"""OpenTelemetry traces and metrics for a central system (extra ``otel``).

Off until a host calls :func:`instrument`; then every inbound CALL the central system answers
and every outbound call it makes gets a span (the handler and its store calls run inside it)
and feeds the metrics. :func:`instrument_stores` adds a span and a latency figure to
every store call. Only ``opentelemetry-api`` is needed: the host brings the SDK, its
exporters and its providers (docs/observability.md).

The instruments and their attributes are listed in docs/observability.md.
"""

from __future__ import annotations

import inspect
import time
from collections.abc import Callable, Iterable
from contextvars import Token
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import attrs
from opentelemetry import context as otel_context
from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.trace import SpanKind, Status, StatusCode

from .bundle import Stores
from .central_system import CentralSystem
from .errors import CallErrorReceived, OcppError
from .instrumentation import Instrumentation, MessageScope
from .messages.base import Request, Response
from .registry import ACTIONS

__all__ = [
    "DURATION_BUCKETS",
    "INSTRUMENTATION_NAME",
    "UNKNOWN_ACTION",
    "OtelInstrumentation",
    "instrument",
    "instrument_stores",
    "uninstrument",
]

INSTRUMENTATION_NAME = "ocpp16csms"
"""The instrumentation scope name of every tracer and meter made here."""

DURATION_BUCKETS = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip
"""Bucket boundaries, in seconds, advised for every duration histogram (an SDK view may
override them): from a millisecond to the default call timeout and past it."""

UNKNOWN_ACTION = "(unknown)"
"""The ``ocpp.action`` of a CALL naming an action OCPP 1.6J does not have."""

INBOUND = "inbound"
OUTBOUND = "outbound"

try:
    _VERSION = version("ocpp16csms")
except PackageNotFoundError:  # pragma: no cover - run from a source tree
    _VERSION = ""


def _outcome(error: BaseException | None) -> tuple[str | None, str | None]:
    """(CallError code, error type) of an exchange's error, None for what does not apply."""
    if error is None:
        return None, None
    if isinstance(error, OcppError):
        return error.code.value, error.code.value
    if isinstance(error, CallErrorReceived):
        return error.code, error.code
    return None, type(error).__qualname__


@attrs.define(eq=False)
class _Scope:
    """One message exchange: its span, the context it made current and its clock."""

    owner: OtelInstrumentation
    direction: str
    action: str
    span: trace.Span
    token: Token[Context]
    started: float = attrs.field(factory=time.perf_counter)
    waiting: bool = False

    def queued(self, message_id: str) -> None:
        self.span.set_attribute("ocpp.message_id", message_id)
        self.owner.messages.add(1, {"ocpp.action": self.action, "ocpp.direction": self.direction})
        self.owner.queued.add(1, {"ocpp.action": self.action})
        self.waiting = True

    def end(self, response: Response | None, error: BaseException | None) -> None:
        elapsed = time.perf_counter() - self.started
        owner, span = self.owner, self.span
        code, error_type = _outcome(error)
        labels: dict[str, str] = {"ocpp.action": self.action}
        if self.waiting:
            owner.queued.add(-1, labels)
        status = getattr(response, "status", None)
        if status is not None:
            span.set_attribute("ocpp.status", getattr(status, "value", str(status)))
        if error is not None:
            labels["error.type"] = error_type or "unknown"
            if code is not None:
                span.set_attribute("ocpp.error_code", code)
                owner.call_errors.add(
                    1, {"ocpp.error_code": code, "ocpp.direction": self.direction}
                )
            span.set_status(Status(StatusCode.ERROR, str(error)))
        if self.direction == INBOUND:
            owner.handler_duration.record(elapsed, labels)
        else:
            owner.call_duration.record(elapsed, labels)
        try:
            span.end()
        finally:
            otel_context.detach(self.token)


class OtelInstrumentation:
    """The :class:`~ocpp16csms.instrumentation.Instrumentation` that feeds OpenTelemetry.

    Made by :func:`instrument`; its instruments are public attributes so a host can read
    which ones exist.
    """

    def __init__(
        self,
        central_system: CentralSystem,
        *,
        tracer_provider: trace.TracerProvider | None = None,
        meter_provider: metrics.MeterProvider | None = None,
    ) -> None:
        self.tracer = trace.get_tracer(
            INSTRUMENTATION_NAME, _VERSION, tracer_provider=tracer_provider
        )
        meter = metrics.get_meter(INSTRUMENTATION_NAME, _VERSION, meter_provider=meter_provider)
        self.messages = meter.create_counter(
            "ocpp.messages", "{message}", "CALLs received and sent, by action and direction"
        )
        self.call_errors = meter.create_counter(
            "ocpp.call_errors",
            "{error}",
            "CALLERRORs: answered by us (inbound) or received from charge points (outbound)",
        )
        self.call_duration = meter.create_histogram(
            "ocpp.call.duration",
            "s",
            "Outbound calls: from the call to its answer or error",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.handler_duration = meter.create_histogram(
            "ocpp.handler.duration",
            "s",
            "Inbound CALLs: from the handler's start to the reply",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self.queued = meter.create_up_down_counter(
            "ocpp.calls.queued", "{call}", "Outbound calls queued or in flight, not yet answered"
        )
        self.handshakes_refused = meter.create_counter(
            "ocpp.handshakes.refused", "{handshake}", "WebSocket upgrades refused, by cause"
        )

        def connected(options: CallbackOptions) -> Iterable[Observation]:
            return [Observation(len(central_system.connected_charge_points))]

        self.connected = meter.create_observable_up_down_counter(
            "ocpp.charge_points.connected",
            [connected],
            "{charge_point}",
            "Charge points this process serves now",
        )

    def _scope(
        self,
        direction: str,
        kind: SpanKind,
        charge_point_id: str,
        request: Request[Any],
        message_id: str | None,
    ) -> _Scope:
        attributes: dict[str, str] = {
            "rpc.system": "ocpp1.6",
            "rpc.method": request.action,
            "ocpp.charge_point_id": charge_point_id,
            "ocpp.action": request.action,
        }
        if message_id is not None:
            attributes["ocpp.message_id"] = message_id
        span = self.tracer.start_span(request.action, kind=kind, attributes=attributes)
        token = otel_context.attach(trace.set_span_in_context(span))
        return _Scope(self, direction, request.action, span, token)

    def inbound(self, charge_point_id: str, message_id: str, request: Request[Any]) -> MessageScope:
        """Start the span of a CALL the charge point sent and make it current."""
        self.messages.add(1, {"ocpp.action": request.action, "ocpp.direction": INBOUND})
        return self._scope(INBOUND, SpanKind.SERVER, charge_point_id, request, message_id)

    def outbound(self, charge_point_id: str, request: Request[Any]) -> MessageScope:
        """Start the span of one of our calls and make it current."""
        return self._scope(OUTBOUND, SpanKind.CLIENT, charge_point_id, request, None)

    def rejected(
        self, charge_point_id: str, message_id: str, action: str, error: OcppError
    ) -> None:
        """Record a CALL the session refused before any handler: a span, a message, an error."""
        code = error.code.value
        if action not in ACTIONS:
            # Whatever a peer names as an action must not become a new metric series.
            action = UNKNOWN_ACTION
        self.messages.add(1, {"ocpp.action": action, "ocpp.direction": INBOUND})
        self.call_errors.add(1, {"ocpp.error_code": code, "ocpp.direction": INBOUND})
        span = self.tracer.start_span(
            action,
            kind=SpanKind.SERVER,
            attributes={
                "rpc.system": "ocpp1.6",
                "rpc.method": action,
                "ocpp.charge_point_id": charge_point_id,
                "ocpp.action": action,
                "ocpp.message_id": message_id,
                "ocpp.error_code": code,
            },
        )
        span.set_status(Status(StatusCode.ERROR, str(error)))
        span.end()

    def handshake_refused(self, status: int, cause: str) -> None:
        """Count a refused WebSocket upgrade."""
        self.handshakes_refused.add(
            1, {"http.response.status_code": status, "ocpp.handshake.cause": cause}
        )


def instrument(
    central_system: CentralSystem,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> OtelInstrumentation:
    """Turn traces and metrics on for ``central_system`` (the global providers by default).

    Store calls get spans of their own only when the stores were wrapped with
    :func:`instrument_stores` before the central system was built.
    """
    instrumentation = OtelInstrumentation(
        central_system, tracer_provider=tracer_provider, meter_provider=meter_provider
    )
    hook: Instrumentation = instrumentation
    central_system.instrumentation = hook
    return instrumentation


def uninstrument(central_system: CentralSystem) -> None:
    """Turn traces and metrics off again (the connected charge points are still observed)."""
    central_system.instrumentation = None


class _TracedStore:
    """A store whose every coroutine method runs in a span and is timed; the rest passes."""

    def __init__(
        self, store: Any, name: str, tracer: trace.Tracer, duration: metrics.Histogram
    ) -> None:
        self._store = store
        self._name = name
        self._tracer = tracer
        self._duration = duration

    def __getattr__(self, attribute: str) -> Any:
        store = self.__dict__.get("_store")
        if store is None:  # not built yet (copy, pickle): nothing to forward to
            raise AttributeError(attribute)
        value = getattr(store, attribute)
        if attribute.startswith("_") or not inspect.iscoroutinefunction(value):
            return value
        traced = self._traced(attribute, value)
        # Cached on the instance: __getattr__ runs only for names not found there.
        setattr(self, attribute, traced)
        return traced

    def _traced(self, operation: str, method: Callable[..., Any]) -> Callable[..., Any]:
        name, tracer, duration = self._name, self._tracer, self._duration
        span_name = f"{name}.{operation}"
        attributes = {"ocpp.store": name, "ocpp.store.operation": operation}

        async def traced(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            labels = attributes
            try:
                with tracer.start_as_current_span(
                    span_name, kind=SpanKind.INTERNAL, attributes=attributes
                ):
                    return await method(*args, **kwargs)
            except BaseException as error:
                labels = {**attributes, "error.type": type(error).__qualname__}
                raise
            finally:
                duration.record(time.perf_counter() - started, labels)

        traced.__name__ = traced.__qualname__ = operation
        return traced

    def __repr__(self) -> str:
        return f"<traced {self._name} store {self._store!r}>"


def instrument_stores(
    stores: Stores,
    *,
    tracer_provider: trace.TracerProvider | None = None,
    meter_provider: metrics.MeterProvider | None = None,
) -> Stores:
    """A :class:`~ocpp16csms.Stores` whose every store call runs in a span and is timed.

    Pass the result to ``CentralSystem(...)``; the original bundle keeps its life cycle (open
    and close a SQLite or PostgreSQL bundle as before). A span's parent is the message span
    current when the store was called.
    """
    if not isinstance(stores, Stores):
        raise TypeError(f"instrument_stores takes a Stores bundle, got {type(stores).__name__}")
    tracer = trace.get_tracer(INSTRUMENTATION_NAME, _VERSION, tracer_provider=tracer_provider)
    meter = metrics.get_meter(INSTRUMENTATION_NAME, _VERSION, meter_provider=meter_provider)
    duration = meter.create_histogram(
        "ocpp.store.duration",
        "s",
        "Store calls, by store and call",
        explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
    )
    wrapped = {
        field.name: _TracedStore(store, field.name, tracer, duration)
        for field in attrs.fields(Stores)
        if (store := getattr(stores, field.name)) is not None
    }
    return Stores(**wrapped)
