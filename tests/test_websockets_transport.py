"""The ``websockets`` transport end to end: real loopback sockets, real handshakes (security
profiles 0–3, with TLS certificates made by trustme), the simulator as a real WebSocket client.

Every test runs its own server on an ephemeral port and stops it (``async with server``), and
is bounded by ``anyio.fail_after`` so that a hang fails the test instead of the run.
"""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import anyio
import pytest
import trustme
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage, InvalidStatus

from harness import BOOT, T0, make_central_system, wait_until
from ocpp16csms import (
    CentralSystem,
    ChargePointConnected,
    ChargePointDisconnected,
    ConnectionLost,
    Exchange,
    InvalidRequest,
    memory_stores,
)
from ocpp16csms.messages import (
    AuthorizationStatus,
    AuthorizeRequest,
    AvailabilityStatus,
    AvailabilityType,
    ChangeAvailabilityRequest,
    ChangeConfigurationRequest,
    ChargePointErrorCode,
    ChargePointStatus,
    ClearCacheRequest,
    ClearCacheStatus,
    ConfigurationStatus,
    DataTransferRequest,
    DataTransferStatus,
    GetConfigurationRequest,
    HeartbeatRequest,
    MessageTrigger,
    MeterValue,
    MeterValuesRequest,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    RemoteStartTransactionRequest,
    RemoteStopTransactionRequest,
    ResetRequest,
    ResetStatus,
    ResetType,
    SampledValue,
    StartTransactionRequest,
    StatusNotificationRequest,
    StopTransactionRequest,
    TriggerMessageRequest,
    TriggerMessageStatus,
    UnlockConnectorRequest,
    UnlockStatus,
)
from ocpp16csms.profiles.security.passwords import hash_password
from ocpp16csms.stores import (
    ChargePointRecord,
    IdTagRecord,
)
from ocpp16csms.testing import ChargePointSimulator
from ocpp16csms.testing.websocket import connect_simulator
from ocpp16csms.transports import HandshakeOptions
from ocpp16csms.transports.websockets import (
    OcppWebSocketServer,
    WebSocketOptions,
    serve,
)
from tls import TestPKI

pytestmark = pytest.mark.anyio

TIMEOUT = 10.0
PASSWORD = "correct horse battery staple"
# Few PBKDF2 iterations keep the handshakes fast; one test uses the default cost.
PASSWORD_HASH = hash_password(PASSWORD, iterations=1000)


@pytest.fixture
def anyio_backend() -> str:
    """asyncio only: the ``websockets`` library (server and client) runs on asyncio.

    The central system itself is anyio code and is tested on trio elsewhere; here the
    transport is under test, and it has no trio implementation.
    """
    return "asyncio"


@pytest.fixture(scope="module")
def pki() -> TestPKI:
    return TestPKI()


# -- helpers ------------------------------------------------------------------------------------


def record(
    charge_point_id: str, profile: int = 0, password_hash: str | None = None
) -> ChargePointRecord:
    return ChargePointRecord(
        charge_point_id=charge_point_id,
        registration_status=RegistrationStatus.ACCEPTED,
        security_profile=profile,
        password_hash=password_hash,
    )


def central_system(*records: ChargePointRecord, **options: Any) -> CentralSystem:
    stores = memory_stores(charge_points=records, id_tags=[IdTagRecord(id_tag="TAG1")])
    return make_central_system(stores=stores, **options)


def watch(cs: CentralSystem) -> list[object]:
    """Every event the central system emits, in order."""
    events: list[object] = []
    cs.observe(events.append)
    return events


def connection_events(events: list[object]) -> list[object]:
    return [e for e in events if isinstance(e, ChargePointConnected | ChargePointDisconnected)]


@asynccontextmanager
async def running(
    cs: CentralSystem,
    *,
    options: WebSocketOptions | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[OcppWebSocketServer]:
    """A server on an ephemeral loopback port, stopped when the block ends."""
    server = await serve(cs, "127.0.0.1", 0, options=options, ssl_context=ssl_context)
    async with server:
        yield server


def url(server: OcppWebSocketServer, scheme: str = "ws") -> str:
    return f"{scheme}://127.0.0.1:{server.port}/ocpp"


async def refused_status(server_url: str, charge_point_id: str, **kwargs: Any) -> int:
    """The HTTP status a connection attempt through the simulator is refused with."""
    with pytest.raises(InvalidStatus) as info:
        async with connect_simulator(server_url, charge_point_id, **kwargs):
            pass  # pragma: no cover - the upgrade must be refused
    return info.value.response.status_code


async def raw_refused_status(
    target: str, *, authorization: str | None = None, ssl_context: ssl.SSLContext | None = None
) -> int:
    """The HTTP status a bare client (any Authorization header) is refused with."""
    headers = {} if authorization is None else {"Authorization": authorization}
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            target,
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=headers,
            ssl=ssl_context,
            open_timeout=TIMEOUT,
        ):
            pass  # pragma: no cover - the upgrade must be refused
    return info.value.response.status_code


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def close_code(cp: ChargePointSimulator) -> int | None:
    """The close code the server sent the simulator's WebSocket."""
    return cp.connection.websocket.close_code  # type: ignore[attr-defined, no-any-return]


def meter(wh: int, minutes: int) -> MeterValue:
    return MeterValue(
        timestamp=T0 + timedelta(minutes=minutes),
        sampled_value=(SampledValue(value=str(wh)),),
    )


async def short_session(cp: ChargePointSimulator) -> int:
    """Boot, start, two meter values, stop; return the transaction id."""
    assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
    started = await cp.call(
        StartTransactionRequest(connector_id=1, id_tag="TAG1", meter_start=0, timestamp=T0)
    )
    tx = started.transaction_id
    for minute in (1, 2):
        await cp.call(
            MeterValuesRequest(
                connector_id=1, transaction_id=tx, meter_value=(meter(minute, minute),)
            )
        )
    stop = StopTransactionRequest(
        meter_stop=3, timestamp=T0 + timedelta(minutes=3), transaction_id=tx, reason=Reason.LOCAL
    )
    await cp.call(stop)
    return tx


# -- a whole charging session and every Core operation ------------------------------------------


async def test_a_full_charging_session_over_a_real_socket() -> None:
    cs = central_system(record("CP1"))
    events = watch(cs)
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server, connect_simulator(url(server), "CP1") as cp:
            assert cp.connection.websocket.subprotocol == "ocpp1.6"  # type: ignore[attr-defined]
            await wait_until(lambda: cs.is_connected("CP1"))
            assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
            await cp.call(
                StatusNotificationRequest(
                    connector_id=1,
                    error_code=ChargePointErrorCode.NO_ERROR,
                    status=ChargePointStatus.AVAILABLE,
                    timestamp=T0,
                )
            )
            authorized = await cp.call(AuthorizeRequest(id_tag="TAG1"))
            assert authorized.id_tag_info.status is AuthorizationStatus.ACCEPTED
            started = await cp.call(
                StartTransactionRequest(
                    connector_id=1, id_tag="TAG1", meter_start=100, timestamp=T0
                )
            )
            assert started.id_tag_info.status is AuthorizationStatus.ACCEPTED
            tx = started.transaction_id
            await cp.call(
                StatusNotificationRequest(
                    connector_id=1,
                    error_code=ChargePointErrorCode.NO_ERROR,
                    status=ChargePointStatus.CHARGING,
                    timestamp=T0,
                )
            )
            for minute in (1, 2, 3):
                await cp.call(
                    MeterValuesRequest(
                        connector_id=1,
                        transaction_id=tx,
                        meter_value=(meter(100 + minute, minute),),
                    )
                )
            stopped = await cp.call(
                StopTransactionRequest(
                    meter_stop=104,
                    timestamp=T0 + timedelta(minutes=4),
                    transaction_id=tx,
                    id_tag="TAG1",
                    reason=Reason.LOCAL,
                )
            )
            assert stopped.id_tag_info is not None
            assert stopped.id_tag_info.status is AuthorizationStatus.ACCEPTED
        assert not cs.is_connected("CP1")

    transaction = await cs.stores.transactions.get(tx)
    assert transaction is not None
    assert transaction.start.meter_start == 100
    assert transaction.stop is not None
    assert transaction.stop.meter_stop == 104
    values = await cs.stores.transactions.meter_values("CP1", transaction_id=tx)
    assert [v.meter_value.sampled_value[0].value for v in values] == ["101", "102", "103"]
    statuses = await cs.stores.charge_points.connector_statuses("CP1")
    assert statuses[1].status is ChargePointStatus.CHARGING
    assert connection_events(events) == [
        ChargePointConnected("CP1"),
        ChargePointDisconnected("CP1"),
    ]


async def test_every_core_operation_is_sent_and_answered() -> None:
    cs = central_system(record("CP1"))
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server, connect_simulator(url(server), "CP1") as cp:
            cp.configuration = {
                "NumberOfConnectors": ("2", True),
                "HeartbeatInterval": ("300", False),
            }
            assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
            started = await cp.call(
                StartTransactionRequest(connector_id=1, id_tag="TAG1", meter_start=0, timestamp=T0)
            )
            tx = started.transaction_id

            answer: Any = await cs.core.change_availability("CP1", 0, AvailabilityType.INOPERATIVE)
            assert answer.status is AvailabilityStatus.ACCEPTED
            answer = await cs.core.change_configuration("CP1", "HeartbeatInterval", "120")
            assert answer.status is ConfigurationStatus.ACCEPTED
            answer = await cs.core.clear_cache("CP1")
            assert answer.status is ClearCacheStatus.ACCEPTED
            answer = await cs.core.get_configuration("CP1", ["NumberOfConnectors", "Nope"])
            assert [(k.key, k.value, k.readonly) for k in answer.configuration_key] == [
                ("NumberOfConnectors", "2", True)
            ]
            assert answer.unknown_key == ("Nope",)
            answer = await cs.core.remote_start_transaction("CP1", "TAG1", connector_id=2)
            assert answer.status is RemoteStartStopStatus.ACCEPTED
            answer = await cs.core.remote_stop_transaction("CP1", tx)
            assert answer.status is RemoteStartStopStatus.ACCEPTED
            answer = await cs.core.reset("CP1", ResetType.SOFT)
            assert answer.status is ResetStatus.ACCEPTED
            answer = await cs.core.unlock_connector("CP1", 2)
            assert answer.status is UnlockStatus.UNLOCKED
            answer = await cs.core.data_transfer("CP1", "Acme", message_id="hello", data="42")
            assert answer.status is DataTransferStatus.ACCEPTED
            answer = await cs.remote_trigger.trigger_message("CP1", MessageTrigger.HEARTBEAT)
            assert answer.status is TriggerMessageStatus.ACCEPTED

    # What the charge point received, decoded from the wire.
    assert [type(r) for r in cp.received] == [
        ChangeAvailabilityRequest,
        ChangeConfigurationRequest,
        ClearCacheRequest,
        GetConfigurationRequest,
        RemoteStartTransactionRequest,
        RemoteStopTransactionRequest,
        ResetRequest,
        UnlockConnectorRequest,
        DataTransferRequest,
        TriggerMessageRequest,
    ]
    assert cp.received[0] == ChangeAvailabilityRequest(
        connector_id=0, type=AvailabilityType.INOPERATIVE
    )
    assert cp.received[4] == RemoteStartTransactionRequest(id_tag="TAG1", connector_id=2)
    assert cp.received[5] == RemoteStopTransactionRequest(transaction_id=tx)
    assert cp.received[6] == ResetRequest(type=ResetType.SOFT)
    assert cp.received[8] == DataTransferRequest(vendor_id="Acme", message_id="hello", data="42")
    stored = await cs.stores.configuration.get("CP1")
    assert stored["HeartbeatInterval"].value == "120"
    assert stored["NumberOfConnectors"].value == "2"


# -- security profiles 0 and 1: plain WebSocket ------------------------------------------------


async def test_profile_1_with_the_right_password_connects() -> None:
    # The default PBKDF2 cost, as a host would store it: hashed off the event loop.
    cs = central_system(record("CP1", 1, hash_password(PASSWORD)))
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            async with connect_simulator(url(server), "CP1", password=PASSWORD) as cp:
                assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
                assert (await cs.core.reset("CP1", ResetType.HARD)).status is ResetStatus.ACCEPTED


@pytest.mark.parametrize("profile", [1, 2])
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(basic("CP1", "wrong"), id="wrong-password"),
        pytest.param(basic("CP9", PASSWORD), id="wrong-username"),
        pytest.param(basic("cp1", PASSWORD), id="username-case"),
        pytest.param(None, id="no-credentials"),
        pytest.param("Bearer " + basic("CP1", PASSWORD)[6:], id="wrong-scheme"),
        pytest.param("Basic %%%", id="bad-base64"),
    ],
)
async def test_bad_credentials_are_401_and_reach_nothing(
    pki: TestPKI, profile: int, authorization: str | None
) -> None:
    cs = central_system(record("CP1", profile, PASSWORD_HASH))
    events = watch(cs)
    tls = profile == 2
    with anyio.fail_after(TIMEOUT):
        async with running(cs, ssl_context=pki.server_context() if tls else None) as server:
            target = url(server, "wss" if tls else "ws") + "/CP1"
            client = pki.client_context() if tls else None
            status = await raw_refused_status(
                target, authorization=authorization, ssl_context=client
            )
            assert status == 401
            assert not cs.is_connected("CP1")
            # The right credentials on the same server do connect (the refusal was about them).
            async with connect(
                target,
                subprotocols=["ocpp1.6"],  # type: ignore[list-item]
                additional_headers={"Authorization": basic("CP1", PASSWORD)},
                ssl=client,
            ):
                await wait_until(lambda: cs.is_connected("CP1"))
    assert connection_events(events)[0] == ChargePointConnected("CP1")
    assert len(connection_events(events)) == 2  # only the good connection


async def test_profile_1_password_for_another_charge_point_is_401() -> None:
    cs = central_system(
        record("CP1", 1, PASSWORD_HASH), record("CP2", 1, hash_password("other", iterations=1000))
    )
    events = watch(cs)
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            # CP2 presenting CP1's (valid) credentials: the username must be the path's id.
            target = url(server) + "/CP2"
            assert await raw_refused_status(target, authorization=basic("CP1", PASSWORD)) == 401
            assert await refused_status(url(server), "CP2", password=PASSWORD) == 401
    assert events == []
    assert cs.connected_charge_points == frozenset()


async def test_a_401_asks_for_basic_credentials() -> None:
    cs = central_system(record("CP1", 1, PASSWORD_HASH))
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            with pytest.raises(InvalidStatus) as info:
                async with connect_simulator(url(server), "CP1"):
                    pass  # pragma: no cover
    response = info.value.response
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


@pytest.mark.parametrize("profile", [2, 3])
async def test_a_tls_profile_on_plain_ws_is_403(profile: int) -> None:
    cs = central_system(record("CP1", profile, PASSWORD_HASH))
    events = watch(cs)
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            assert await refused_status(url(server), "CP1", password=PASSWORD) == 403
            assert not cs.is_connected("CP1")
    assert events == []


# -- security profiles 2 and 3: TLS --------------------------------------------------------------


async def test_profile_2_over_tls_with_the_right_password(pki: TestPKI) -> None:
    cs = central_system(record("CP2", 2, PASSWORD_HASH))
    with anyio.fail_after(TIMEOUT):
        async with running(cs, ssl_context=pki.server_context()) as server:
            async with connect_simulator(
                url(server, "wss"), "CP2", password=PASSWORD, ssl_context=pki.client_context()
            ) as cp:
                assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
                assert (await cs.core.clear_cache("CP2")).status is ClearCacheStatus.ACCEPTED
            status = await refused_status(
                url(server, "wss"), "CP2", password="nope", ssl_context=pki.client_context()
            )
            assert status == 401


async def test_profiles_2_and_3_share_one_tls_port(pki: TestPKI) -> None:
    cs = central_system(record("CP2", 2, PASSWORD_HASH), record("CP3", 3))
    events = watch(cs)
    server_context = pki.server_context(client_certificates=True)
    with anyio.fail_after(TIMEOUT):
        async with running(cs, ssl_context=server_context) as server:
            wss = url(server, "wss")
            async with (
                connect_simulator(
                    wss, "CP2", password=PASSWORD, ssl_context=pki.client_context()
                ) as cp2,
                connect_simulator(wss, "CP3", ssl_context=pki.client_context("CP3")) as cp3,
            ):
                assert (await cp2.call(BOOT)).status is RegistrationStatus.ACCEPTED
                assert (await cp3.call(BOOT)).status is RegistrationStatus.ACCEPTED
                assert (await cs.core.reset("CP3", ResetType.SOFT)).status is ResetStatus.ACCEPTED
                assert cs.connected_charge_points == {"CP2", "CP3"}
    assert ChargePointConnected("CP3") in events


@pytest.mark.parametrize(
    ("certificate", "password"),
    [
        pytest.param("CP4", None, id="certificate-of-another-charge-point"),
        pytest.param("cp3", None, id="name-differs-in-case"),
        pytest.param(None, None, id="no-certificate"),
        pytest.param(None, PASSWORD, id="password-instead-of-certificate"),
    ],
)
async def test_profile_3_without_a_certificate_naming_the_charge_point_is_401(
    pki: TestPKI, certificate: str | None, password: str | None
) -> None:
    cs = central_system(record("CP3", 3, PASSWORD_HASH), record("CP4", 3))
    events = watch(cs)
    with anyio.fail_after(TIMEOUT):
        async with running(cs, ssl_context=pki.server_context(client_certificates=True)) as server:
            status = await refused_status(
                url(server, "wss"),
                "CP3",
                password=password,
                ssl_context=pki.client_context(certificate),
            )
            assert status == 401
            assert not cs.is_connected("CP3")
    assert events == []


async def test_profile_3_certificate_from_an_untrusted_ca_fails_the_tls_handshake(
    pki: TestPKI,
) -> None:
    cs = central_system(record("CP3", 3))
    events = watch(cs)
    rogue = trustme.CA()
    with anyio.fail_after(TIMEOUT):
        async with running(cs, ssl_context=pki.server_context(client_certificates=True)) as server:
            # TLS 1.3: the server checks the certificate after the client sent its request,
            # and drops the connection: no HTTP answer at all (not even a 401).
            with pytest.raises((ssl.SSLError, ConnectionError, InvalidMessage)) as info:
                async with connect_simulator(
                    url(server, "wss"), "CP3", ssl_context=pki.client_context("CP3", issuer=rogue)
                ):
                    pass  # pragma: no cover
            assert not isinstance(info.value, InvalidStatus)
            # The same name from the trusted CA connects.
            async with connect_simulator(
                url(server, "wss"), "CP3", ssl_context=pki.client_context("CP3")
            ):
                await wait_until(lambda: cs.is_connected("CP3"))
    assert connection_events(events) == [
        ChargePointConnected("CP3"),
        ChargePointDisconnected("CP3"),
    ]


# -- subprotocol and unknown charge points -------------------------------------------------------


async def test_a_client_without_the_subprotocol_is_400_by_default() -> None:
    cs = central_system(record("CP1"))
    events = watch(cs)
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            assert await refused_status(url(server), "CP1", subprotocols=()) == 400
            assert await refused_status(url(server), "CP1", subprotocols=("ocpp2.0.1",)) == 400
    assert events == []


async def test_a_client_without_the_subprotocol_connects_when_not_required() -> None:
    cs = central_system(record("CP1"))
    options = WebSocketOptions(handshake=HandshakeOptions(require_subprotocol=False))
    with anyio.fail_after(TIMEOUT):
        async with running(cs, options=options) as server:
            async with connect_simulator(url(server), "CP1", subprotocols=()) as cp:
                assert cp.connection.websocket.subprotocol is None  # type: ignore[attr-defined]
                assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
            async with connect_simulator(url(server), "CP1", subprotocols=("x", "ocpp1.6")) as cp:
                assert cp.connection.websocket.subprotocol == "ocpp1.6"  # type: ignore[attr-defined]


async def test_an_unknown_charge_point_is_allowed_by_default() -> None:
    cs = central_system()
    events = watch(cs)
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            async with connect_simulator(url(server), "NEW") as cp:
                await wait_until(lambda: cs.is_connected("NEW"))
                # It reached the central system, whose default policy rejects its boot.
                assert (await cp.call(BOOT)).status is RegistrationStatus.REJECTED
    assert ChargePointConnected("NEW") in events


async def test_an_unknown_charge_point_is_404_when_not_allowed() -> None:
    cs = central_system(record("CP1"))
    events = watch(cs)
    options = WebSocketOptions(handshake=HandshakeOptions(allow_unknown_charge_points=False))
    with anyio.fail_after(TIMEOUT):
        async with running(cs, options=options) as server:
            assert await refused_status(url(server), "NEW") == 404
            async with connect_simulator(url(server), "CP1") as cp:
                assert (await cp.call(HeartbeatRequest())) is not None
    assert [
        e for e in connection_events(events) if getattr(e, "charge_point_id", "") == "NEW"
    ] == []


@pytest.mark.parametrize(
    ("path", "status"),
    [("/elsewhere/CP1", 404), ("/ocpp/", 404), ("/ocpp/" + "X" * 49, 400), ("/ocpp/CP%001", 400)],
)
async def test_bad_paths_are_refused(path: str, status: int) -> None:
    cs = central_system(record("CP1"))
    events = watch(cs)
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            assert await raw_refused_status(f"ws://127.0.0.1:{server.port}{path}") == status
    assert events == []


async def test_a_path_escape_that_is_not_utf8_is_400() -> None:
    cs = central_system(record("CP1"))
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            assert await raw_refused_status(f"ws://127.0.0.1:{server.port}/ocpp/%FF") == 400


async def test_a_non_ascii_authorization_header_is_401() -> None:
    cs = central_system(record("CP1", 1, PASSWORD_HASH))
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            status = await raw_refused_status(url(server) + "/CP1", authorization="Basic é")
            assert status == 401


# -- load, failures, limits, shutdown ------------------------------------------------------------


async def test_200_charge_points_each_complete_a_session_at_once() -> None:
    count = 200
    ids = [f"CP{n:03d}" for n in range(count)]
    cs = central_system(*(record(cp) for cp in ids))
    all_connected = anyio.Event()
    connected = 0
    transactions: dict[str, int] = {}

    async def charge_point(server_url: str, charge_point_id: str) -> None:
        nonlocal connected
        async with connect_simulator(server_url, charge_point_id) as cp:
            connected += 1
            if connected == count:
                all_connected.set()
            await all_connected.wait()
            transactions[charge_point_id] = await short_session(cp)

    with anyio.fail_after(45):
        async with running(cs) as server:
            async with anyio.create_task_group() as group:
                for charge_point_id in ids:
                    group.start_soon(charge_point, url(server), charge_point_id)
                await all_connected.wait()
                await wait_until(lambda: len(cs.connected_charge_points) == count)
            await wait_until(lambda: not cs.connected_charge_points)

    assert sorted(transactions) == ids
    assert len(set(transactions.values())) == count
    assert await cs.stores.transactions.active() == []
    for charge_point_id, tx in transactions.items():
        stored = await cs.stores.transactions.get(tx)
        assert stored is not None
        assert stored.start.charge_point_id == charge_point_id
        assert stored.stop is not None
        assert stored.stop.meter_stop == 3
        values = await cs.stores.transactions.meter_values(charge_point_id, transaction_id=tx)
        assert len(values) == 2


@pytest.mark.parametrize("how", ["abort", "close"])
async def test_a_charge_point_disconnecting_mid_call_fails_the_call(how: str) -> None:
    cs = central_system(record("CP1"))
    events = watch(cs)
    failures: list[BaseException] = []

    async def reset() -> None:
        try:
            await cs.core.reset("CP1", ResetType.HARD)
        except ConnectionLost as lost:
            failures.append(lost)

    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            async with connect_simulator(url(server), "CP1") as cp:
                assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
                cp.answer("Reset", drop=True)  # never answered
                async with anyio.create_task_group() as group:
                    group.start_soon(reset)
                    await wait_until(lambda: cp.received_of(ResetRequest))
                    if how == "abort":  # the network goes away: no closing handshake
                        cp.connection.websocket.transport.abort()  # type: ignore[attr-defined]
                    else:
                        await cp.close()
            await wait_until(lambda: not cs.is_connected("CP1"))
            # The server is fine: the charge point comes back and is served.
            async with connect_simulator(url(server), "CP1") as cp:
                assert (await cp.call(HeartbeatRequest())) is not None
    assert len(failures) == 1
    assert failures[0].charge_point_id == "CP1"  # type: ignore[attr-defined]
    assert ChargePointDisconnected("CP1") in events


async def test_a_charge_point_call_pending_when_it_disconnects_does_not_hang() -> None:
    cs = central_system(record("CP1"))
    release = anyio.Event()
    handled = anyio.Event()
    failures: list[BaseException] = []

    async def heartbeat(cp: ChargePointSimulator) -> None:
        try:
            await cp.call(HeartbeatRequest())
        except ConnectionLost as lost:
            failures.append(lost)

    @cs.on(HeartbeatRequest)
    async def slow_heartbeat(request: HeartbeatRequest, context: Any) -> Any:
        handled.set()
        await release.wait()
        return await cs.core.handlers.heartbeat(request, context)  # type: ignore[attr-defined]

    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            async with connect_simulator(url(server), "CP1") as cp:
                assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
                async with anyio.create_task_group() as group:
                    group.start_soon(heartbeat, cp)
                    await handled.wait()
                    cp.connection.websocket.transport.abort()  # type: ignore[attr-defined]
            assert len(failures) == 1  # the charge point's call failed at once
            release.set()  # the handler finishes; its answer has nowhere to go
            await wait_until(lambda: not cs.is_connected("CP1"))
            async with connect_simulator(url(server), "CP1") as cp:
                assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED


async def test_a_frame_over_max_frame_size_closes_only_that_connection() -> None:
    cs = central_system(record("BIG"), record("SMALL"))
    options = WebSocketOptions(max_frame_size=1024)
    with anyio.fail_after(TIMEOUT):
        async with running(cs, options=options) as server:
            async with (
                connect_simulator(url(server), "BIG") as big,
                connect_simulator(url(server), "SMALL") as small,
            ):
                await wait_until(lambda: cs.connected_charge_points == {"BIG", "SMALL"})
                # Just under the limit is served (the unknown vendor gets a CallError).
                await big.send_raw('[2,"ok","DataTransfer",{"vendorId":"' + "x" * 900 + '"}]')
                await big.call(HeartbeatRequest())
                await big.send_raw('[2,"big","DataTransfer",{"vendorId":"' + "x" * 2000 + '"}]')
                await big.closed.wait()
                assert close_code(big) == 1009
                await wait_until(lambda: not cs.is_connected("BIG"))
                # The other connection is untouched, both ways.
                assert cs.is_connected("SMALL")
                assert (await small.call(BOOT)).status is RegistrationStatus.ACCEPTED
                assert (await cs.core.reset("SMALL", ResetType.SOFT)).status is ResetStatus.ACCEPTED


async def test_close_ends_every_connection_and_fails_pending_calls() -> None:
    cs = central_system(record("CP1"), record("CP2"), record("CP3"))
    events = watch(cs)
    failures: list[BaseException] = []

    async def reset() -> None:
        try:
            await cs.core.reset("CP1", ResetType.SOFT)
        except ConnectionLost as lost:
            failures.append(lost)

    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            server_url = url(server)
            async with (
                connect_simulator(server_url, "CP1") as cp1,
                connect_simulator(server_url, "CP2") as cp2,
                connect_simulator(server_url, "CP3") as cp3,
            ):
                sims = (cp1, cp2, cp3)
                for cp in sims:
                    assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
                cp1.answer("Reset", drop=True)
                async with anyio.create_task_group() as group:
                    group.start_soon(reset)
                    await wait_until(lambda: cp1.received_of(ResetRequest))
                    await server.close()
                for cp in sims:
                    await cp.closed.wait()
                    assert close_code(cp) == 1001
                assert cs.connected_charge_points == frozenset()
            # Nothing listens any more.
            with pytest.raises(ConnectionRefusedError):
                async with connect_simulator(server_url, "CP1"):
                    pass  # pragma: no cover
    assert len(failures) == 1
    disconnected = [e for e in events if isinstance(e, ChargePointDisconnected)]
    assert sorted(e.charge_point_id for e in disconnected) == ["CP1", "CP2", "CP3"]


async def test_closing_one_server_leaves_another_servers_connections_open() -> None:
    cs = central_system(record("PLAIN"), record("OTHER"))
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as other:
            first = await serve(cs, "127.0.0.1", 0)
            async with first:
                async with (
                    connect_simulator(url(first), "PLAIN") as closed_with_it,
                    connect_simulator(url(other), "OTHER") as kept,
                ):
                    await wait_until(lambda: cs.connected_charge_points == {"PLAIN", "OTHER"})
                    await first.close()
                    await closed_with_it.closed.wait()
                    await anyio.sleep(0.2)
                    assert cs.connected_charge_points == {"OTHER"}
                    assert not kept.closed.is_set()
                    assert (await kept.call(HeartbeatRequest())) is not None


async def test_a_second_connection_for_the_same_id_replaces_the_first() -> None:
    cs = central_system(record("CP1"))
    events = watch(cs)
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            async with connect_simulator(url(server), "CP1") as old:
                await wait_until(lambda: cs.is_connected("CP1"))
                async with connect_simulator(url(server), "CP1") as new:
                    await old.closed.wait()
                    assert close_code(old) == 1000
                    assert cs.is_connected("CP1")
                    assert (
                        await cs.core.reset("CP1", ResetType.SOFT)
                    ).status is ResetStatus.ACCEPTED
                    assert new.received_of(ResetRequest)
                    assert not old.received_of(ResetRequest)
    assert ChargePointDisconnected("CP1", replaced=True) in events


async def test_setting_the_authorization_key_keeps_no_plaintext_password() -> None:
    cs = central_system(record("CP1", 1, PASSWORD_HASH))
    new_key = "0123456789abcdef-new-authorization-key"
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            async with connect_simulator(url(server), "CP1", password=PASSWORD) as cp:
                assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
                answer = await cs.core.change_configuration("CP1", "AuthorizationKey", new_key)
                assert answer.status is ConfigurationStatus.ACCEPTED
                assert cp.received_of(ChangeConfigurationRequest)[0].value == new_key
    stored = await cs.stores.configuration.get("CP1")
    assert [key for key, entry in stored.items() if entry.value == new_key] == []


async def test_set_authorization_key_rotates_the_password_and_keeps_only_its_hash() -> None:
    cs = central_system(record("CP1", 1, PASSWORD_HASH))
    seen: list[Any] = []
    cs.observe(seen.append)
    new_key = "fresh-Key-0123456789"
    with anyio.fail_after(TIMEOUT):
        async with running(cs) as server:
            async with connect_simulator(url(server), "CP1", password=PASSWORD) as cp:
                assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
                with pytest.raises(InvalidRequest, match="16 to 40"):
                    await cs.security.set_authorization_key("CP1", "short")
                answer = await cs.security.set_authorization_key("CP1", new_key)
                assert answer.status is ConfigurationStatus.ACCEPTED
                assert cp.received_of(ChangeConfigurationRequest)[0].value == new_key
            # The old password no longer opens the door; the new one does.
            assert (
                await raw_refused_status(url(server) + "/CP1", authorization=basic("CP1", PASSWORD))
                == 401
            )
            async with connect_simulator(url(server), "CP1", password=new_key) as cp:
                assert (await cp.call(HeartbeatRequest())) is not None
    record_after = await cs.stores.charge_points.get("CP1")
    assert record_after is not None
    assert record_after.password_hash is not None
    assert new_key not in record_after.password_hash
    shown = [
        e.request
        for e in seen
        if isinstance(e, Exchange) and e.request.action == "ChangeConfiguration"
    ]
    assert [r.value for r in shown] == ["********"]


async def test_a_tls_context_without_client_certificates_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import logging

    pki = TestPKI()
    cs = central_system(record("CP1"))
    with caplog.at_level(logging.WARNING, logger="ocpp16csms"):
        server = await serve(cs, "127.0.0.1", 0, ssl_context=pki.server_context())
        await server.close()
    assert "profile 3" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="ocpp16csms"):
        server = await serve(
            cs, "127.0.0.1", 0, ssl_context=pki.server_context(client_certificates=True)
        )
        await server.close()
    assert "profile 3" not in caplog.text
