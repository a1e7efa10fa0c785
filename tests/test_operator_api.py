"""The operator HTTP API (``ocpp16csms.operator_api``).

In process, over httpx's ASGI transport, on asyncio and trio: the FastAPI app, the central
system and the simulated charge points share the test's event loop. Over real sockets: uvicorn
serves the API and the OCPP endpoint on loopback, a charge point connects over WebSocket and an
HTTP client operates it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn
from fastapi import Depends, FastAPI, HTTPException
from fastapi import Request as HttpRequest

from harness import BOOT, T0, connected, make_central_system
from ocpp16csms import CentralSystem, ErrorCode, UnknownChargePointPolicy, memory_stores
from ocpp16csms.messages import (
    ChangeConfigurationRequest,
    ChargePointErrorCode,
    ChargePointStatus,
    ConfigurationStatus,
    GetConfigurationResponse,
    KeyValue,
    RegistrationStatus,
    ResetRequest,
    ResetType,
    SetChargingProfileRequest,
    StartTransactionRequest,
    StatusNotificationRequest,
)
from ocpp16csms.operator_api import OPERATIONS, make_router, operation_path
from ocpp16csms.registry import ACTIONS
from ocpp16csms.testing.websocket import connect_simulator
from ocpp16csms.transports.asgi import OcppAsgiApp
from ocpp16csms.validation import schema_for

pytestmark = pytest.mark.anyio


def app_for(cs: CentralSystem, **router: Any) -> FastAPI:
    app = FastAPI()
    app.include_router(make_router(cs, **router), prefix="/api")
    return app


@asynccontextmanager
async def client_for(cs: CentralSystem, **router: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app_for(cs, **router))
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        yield client


async def test_an_operation_is_sent_and_its_wire_answer_returned() -> None:
    cs = make_central_system()
    async with connected(cs) as cp, client_for(cs) as api:
        answer = await api.post("/api/charge-points/CP1/reset", json={"type": "Soft"})
    assert answer.status_code == 200
    assert answer.json() == {"status": "Accepted"}
    assert cp.received == [ResetRequest(type=ResetType.SOFT)]


async def test_answers_are_camel_case_without_absent_fields() -> None:
    cs = make_central_system()
    async with connected(cs) as cp, client_for(cs) as api:
        cp.answer(
            "GetConfiguration",
            GetConfigurationResponse(
                configuration_key=(KeyValue(key="HeartbeatInterval", readonly=False, value="60"),),
                unknown_key=("Nope",),
            ),
        )
        answer = await api.post(
            "/api/charge-points/CP1/get-configuration", json={"key": ["HeartbeatInterval", "Nope"]}
        )
    assert answer.json() == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
        "unknownKey": ["Nope"],
    }
    # the service's bookkeeping ran: the reported key is in the configuration store
    stored = await cs.stores.configuration.get("CP1")
    assert stored["HeartbeatInterval"].value == "60"


async def test_a_body_that_breaks_the_schema_is_422_with_its_ocpp_code() -> None:
    cs = make_central_system()
    bodies = {
        "Medium": ({"type": "Medium"}, "PropertyConstraintViolation"),
        "missing": ({}, "OccurenceConstraintViolation"),
        "extra": ({"type": "Soft", "now": True}, "FormationViolation"),
        "wrong type": ({"type": 1}, "TypeConstraintViolation"),
    }
    async with connected(cs) as cp, client_for(cs) as api:
        for body, code in bodies.values():
            answer = await api.post("/api/charge-points/CP1/reset", json=body)
            assert answer.status_code == 422, body
            assert answer.json()["code"] == code, body
            assert answer.json()["error"] == code
        answer = await api.post("/api/charge-points/CP1/reset", content=b"{not json")
        assert answer.status_code == 422
        assert answer.json()["code"] == "FormationViolation"
    assert cp.received == []


async def test_an_empty_body_is_an_empty_payload() -> None:
    cs = make_central_system()
    async with connected(cs), client_for(cs) as api:
        answer = await api.post("/api/charge-points/CP1/clear-cache")
    assert answer.json() == {"status": "Accepted"}


async def test_a_charge_point_not_connected_is_404() -> None:
    cs = make_central_system()
    async with client_for(cs) as api:
        answer = await api.post("/api/charge-points/CP9/reset", json={"type": "Hard"})
    assert answer.status_code == 404
    assert answer.json() == {
        "error": "ChargePointNotConnected",
        "code": None,
        "description": "charge point 'CP9' is not connected",
        "details": None,
    }


async def test_a_call_error_is_502_with_code_description_and_details() -> None:
    cs = make_central_system()
    async with connected(cs) as cp, client_for(cs) as api:
        cp.answer("Reset", error=ErrorCode.INTERNAL_ERROR, description="relay stuck")
        answer = await api.post("/api/charge-points/CP1/reset", json={"type": "Hard"})
    assert answer.status_code == 502
    body = answer.json()
    assert (body["error"], body["code"], body["description"]) == (
        "CallErrorReceived",
        "InternalError",
        "relay stuck",
    )
    assert body["details"] == {}


async def test_a_timeout_is_504() -> None:
    cs = make_central_system(call_timeout=0.1)
    async with connected(cs) as cp, client_for(cs) as api:
        cp.answer("Reset", drop=True)
        answer = await api.post("/api/charge-points/CP1/reset", json={"type": "Hard"})
    assert answer.status_code == 504
    assert answer.json()["error"] == "CallTimeout"


async def test_a_pending_charge_point_is_409() -> None:
    cs = make_central_system(
        charge_points=(), unknown_charge_points=UnknownChargePointPolicy.PENDING
    )
    async with connected(cs, "NEW") as cp, client_for(cs) as api:
        assert (await cp.call(BOOT)).status is RegistrationStatus.PENDING
        answer = await api.post("/api/charge-points/NEW/reset", json={"type": "Hard"})
    assert answer.status_code == 409
    assert answer.json()["error"] == "ChargePointNotAccepted"


async def test_a_full_queue_is_503() -> None:
    cs = make_central_system(max_queued_calls=0)
    async with connected(cs) as cp, client_for(cs) as api:
        cp.answer("Reset", cp.answers["Reset"].response, delay=0.3)
        first: list[httpx.Response] = []
        async with anyio.create_task_group() as group:

            async def slow() -> None:
                first.append(await api.post("/api/charge-points/CP1/reset", json={"type": "Soft"}))

            group.start_soon(slow)
            with anyio.fail_after(5):
                while not cp.received:
                    await anyio.sleep(0.005)
            second = await api.post("/api/charge-points/CP1/clear-cache", json={})
    assert second.status_code == 503
    assert second.json()["error"] == "QueueFull"
    assert first[0].status_code == 200


async def test_a_check_before_sending_is_422_and_nothing_is_sent() -> None:
    cs = make_central_system()
    await cs.stores.configuration.put(
        "CP1", [KeyValue(key="NumberOfConnectors", readonly=True, value="2")]
    )
    async with connected(cs) as cp, client_for(cs) as api:
        answer = await api.post(
            "/api/charge-points/CP1/change-configuration",
            json={"key": "NumberOfConnectors", "value": "3"},
        )
        assert answer.status_code == 422
        assert answer.json()["error"] == "InvalidRequest"
        assert answer.json()["code"] is None
        answer = await api.post("/api/charge-points/CP1/unlock-connector", json={"connectorId": 3})
        assert answer.status_code == 422
    assert cp.received == []


async def test_set_charging_profile_is_stored_and_the_schedule_view_computes_it() -> None:
    cs = make_central_system()
    profile = {
        "chargingProfileId": 7,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "startSchedule": "2026-11-24T12:00:00Z",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
        },
    }
    async with connected(cs) as cp, client_for(cs) as api:
        answer = await api.post(
            "/api/charge-points/CP1/set-charging-profile",
            json={"connectorId": 1, "csChargingProfiles": profile},
        )
        assert answer.json() == {"status": "Accepted"}
        [sent] = cp.received_of(SetChargingProfileRequest)
        assert sent.cs_charging_profiles.charging_profile_id == 7
        view = await api.get(
            "/api/charge-points/CP1/composite-schedule",
            params={"connectorId": 1, "duration": 600, "chargingRateUnit": "A"},
        )
        assert view.status_code == 200
        schedule = view.json()
        assert schedule["chargingRateUnit"] == "A"
        assert schedule["chargingSchedulePeriod"][0]["limit"] == 16.0
        bad = await api.get(
            "/api/charge-points/CP1/composite-schedule", params={"connectorId": 1, "duration": 0}
        )
        assert bad.status_code == 422


async def test_the_views_read_the_stores() -> None:
    cs = make_central_system()
    async with connected(cs) as cp, client_for(cs) as api:
        await cp.call(BOOT)
        await cp.call(
            StatusNotificationRequest(
                connector_id=1,
                error_code=ChargePointErrorCode.NO_ERROR,
                status=ChargePointStatus.CHARGING,
                timestamp=T0,
            )
        )
        started = await cp.call(
            StartTransactionRequest(connector_id=1, id_tag="TAG", meter_start=10, timestamp=T0)
        )
        listing = (await api.get("/api/charge-points")).json()
        details = (await api.get("/api/charge-points/CP1")).json()
        status = (await api.get("/api/charge-points/CP1/status")).json()
        transactions = (await api.get("/api/charge-points/CP1/transactions")).json()
        reserved = await api.post(
            "/api/charge-points/CP1/reserve-now",
            json={
                "connectorId": 2,
                "expiryDate": "2026-11-24T13:00:00Z",
                "idTag": "TAG",
                "reservationId": 5,
            },
        )
        reservations = (await api.get("/api/charge-points/CP1/reservations")).json()
        unknown = await api.get("/api/charge-points/NOBODY")
    assert listing == [{"chargePointId": "CP1"}]
    assert details["connected"] is True
    assert details["registrationStatus"] == "Accepted"
    assert details["chargePointModel"] == "Volt 22"
    assert "passwordHash" not in details
    assert status == [
        {
            "connectorId": 1,
            "status": "Charging",
            "errorCode": "NoError",
            "timestamp": "2026-11-24T12:00:00Z",
            "info": None,
            "vendorId": None,
            "vendorErrorCode": None,
        }
    ]
    assert transactions == [
        {
            "transactionId": started.transaction_id,
            "connectorId": 1,
            "idTag": "TAG",
            "meterStart": 10,
            "timestamp": "2026-11-24T12:00:00Z",
            "reservationId": None,
        }
    ]
    assert reserved.json() == {"status": "Accepted"}
    assert [(r["reservationId"], r["connectorId"], r["state"]) for r in reservations] == [
        (5, 2, "Accepted")
    ]
    assert unknown.status_code == 404


async def test_the_hosts_dependencies_guard_every_endpoint() -> None:
    def token(request: HttpRequest) -> None:
        if request.headers.get("authorization") != "Bearer s3cret":
            raise HTTPException(401, "who are you?")

    cs = make_central_system()
    async with connected(cs) as cp, client_for(cs, dependencies=[Depends(token)]) as api:
        refused = await api.post("/api/charge-points/CP1/reset", json={"type": "Soft"})
        listing = await api.get("/api/charge-points")
        allowed = await api.post(
            "/api/charge-points/CP1/reset",
            json={"type": "Soft"},
            headers={"Authorization": "Bearer s3cret"},
        )
    assert (refused.status_code, listing.status_code, allowed.status_code) == (401, 401, 200)
    assert cp.received == [ResetRequest(type=ResetType.SOFT)]


async def test_operations_follow_the_service_bookkeeping_for_secrets() -> None:
    cs = make_central_system()
    async with connected(cs) as cp, client_for(cs) as api:
        answer = await api.post(
            "/api/charge-points/CP1/change-configuration",
            json={"key": "MeterValueSampleInterval", "value": "30"},
        )
    assert answer.json() == {"status": ConfigurationStatus.ACCEPTED.value}
    assert cp.received == [ChangeConfigurationRequest(key="MeterValueSampleInterval", value="30")]
    assert (await cs.stores.configuration.get("CP1"))["MeterValueSampleInterval"].value == "30"


# -- the OpenAPI document ----------------------------------------------------------------------


def test_every_operation_the_central_system_sends_has_an_endpoint() -> None:
    sent = {a for a, spec in ACTIONS.items() if spec.sent_by_central_system}
    assert set(OPERATIONS) == sent
    paths = app_for(make_central_system()).openapi()["paths"]
    for action in sent:
        assert f"/api/charge-points/{{charge_point_id}}/{operation_path(action)}" in paths


def test_the_openapi_bodies_are_our_wire_schemas() -> None:
    document = app_for(make_central_system()).openapi()
    for action in OPERATIONS:
        spec = ACTIONS[action]
        operation = document["paths"][
            f"/api/charge-points/{{charge_point_id}}/{operation_path(action)}"
        ]["post"]
        body = operation["requestBody"]["content"]["application/json"]["schema"]
        answer = operation["responses"]["200"]["content"]["application/json"]["schema"]
        for schema, name in ((body, spec.request.schema_name), (answer, spec.response.schema_name)):
            ours = dict(schema_for(name))
            for key in ("$schema", "id", "$id"):
                ours.pop(key, None)
            assert schema == json.loads(json.dumps(ours)), action
    reset = document["paths"]["/api/charge-points/{charge_point_id}/reset"]["post"]
    assert reset["requestBody"]["content"]["application/json"]["schema"]["properties"] == {
        "type": {"type": "string", "enum": ["Hard", "Soft"]}
    }
    start = document["paths"]["/api/charge-points/{charge_point_id}/remote-start-transaction"]
    properties = start["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert {"idTag", "connectorId", "chargingProfile"} == set(properties["properties"])
    status = document["components"]["schemas"]["ConnectorStatusBody"]["properties"]
    assert {"connectorId", "errorCode", "vendorErrorCode"} <= set(status)
    assert "Charging" in document["components"]["schemas"]["ChargePointStatus"]["enum"]
    errors = reset["responses"]
    assert {"404", "409", "422", "502", "503", "504"} <= set(errors)


def test_features_left_out_have_no_endpoints() -> None:
    cs = CentralSystem(memory_stores(), features=[])
    paths = app_for(cs).openapi()["paths"]
    assert "/api/charge-points/{charge_point_id}/reset" in paths
    assert "/api/charge-points/{charge_point_id}/reserve-now" not in paths
    assert "/api/charge-points/{charge_point_id}/reservations" not in paths
    assert "/api/charge-points/{charge_point_id}/set-charging-profile" not in paths


def test_make_router_refuses_what_is_not_a_central_system() -> None:
    with pytest.raises(TypeError, match="CentralSystem"):
        make_router(object())  # type: ignore[arg-type]


def test_operation_paths_are_kebab_case() -> None:
    assert operation_path("RemoteStartTransaction") == "remote-start-transaction"
    assert operation_path("Reset") == "reset"
    assert operation_path("GetInstalledCertificateIds") == "get-installed-certificate-ids"


# -- over real sockets -------------------------------------------------------------------------


@contextmanager
def uvicorn_serving(app: Any) -> Iterator[int]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_over_uvicorn_an_http_client_operates_a_websocket_charge_point(
    anyio_backend: str,
) -> None:
    # The simulator's WebSocket client is asyncio-only; the server runs in its own thread.
    cs = make_central_system()
    app = app_for(cs)
    ocpp = OcppAsgiApp(cs, lifespan=False)
    app.mount(ocpp.mount_path, ocpp)
    with uvicorn_serving(app) as port:
        url = f"ws://127.0.0.1:{port}/ocpp"
        async with connect_simulator(url, "CP1") as cp:
            await cp.boot()
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as api:
                listing = await api.get("/api/charge-points")
                answer = await api.post("/api/charge-points/CP1/reset", json={"type": "Hard"})
                spec = await api.get("/openapi.json")
    assert listing.json() == [{"chargePointId": "CP1"}]
    assert answer.status_code == 200
    assert answer.json() == {"status": "Accepted"}
    assert cp.received == [ResetRequest(type=ResetType.HARD)]
    assert "/api/charge-points/{charge_point_id}/reset" in spec.json()["paths"]
