"""The ASGI adapter (``ocpp16csms.transports.asgi``).

Over real loopback sockets: hypercorn (asyncio worker and trio worker) and uvicorn serve the
app in their own thread and event loop, as a deployment runs them, with lifespan on; charge
points are the library's simulator over a real WebSocket client (``connect_simulator``). That
client is asyncio-only, so these tests run on the asyncio backend; trio is exercised on the
server side by hypercorn's trio worker. The central system lives in the server's loop: the
tests reach it through ``server.run(...)``.

In process: a fake ASGI server drives the app for what the real servers cannot show
(lifespan messages, a server without the ``websocket.http.response`` extension, the ASGI TLS
extension for security profile 3, mounted scopes); these run on asyncio and trio.
"""

from __future__ import annotations

import base64
import socket
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, TypeVar

import anyio
import anyio.to_thread
import attrs
import hypercorn.asyncio
import hypercorn.config
import hypercorn.trio
import pytest
import trustme
import uvicorn
from anyio.from_thread import BlockingPortal, start_blocking_portal
from cryptography import x509
from cryptography.x509.oid import NameOID
from hypercorn.middleware import ProxyFixMiddleware
from hypothesis import given
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus
from websockets.typing import Subprotocol

from harness import BOOT, T0, make_central_system, wait_until
from ocpp16csms import (
    CentralSystem,
    ChargePointConnected,
    ChargePointDisconnected,
    ChargePointRecord,
    ConnectionLost,
    IdTagRecord,
    TransportClosed,
    memory_stores,
)
from ocpp16csms.messages import (
    AuthorizationStatus,
    AuthorizeRequest,
    ChangeConfigurationRequest,
    ConfigurationStatus,
    MeterValue,
    MeterValuesRequest,
    RegistrationStatus,
    ResetRequest,
    ResetType,
    SampledValue,
    StartTransactionRequest,
    StopTransactionRequest,
)
from ocpp16csms.profiles.security import hash_password
from ocpp16csms.testing.websocket import connect_simulator
from ocpp16csms.transports import HandshakeOptions
from ocpp16csms.transports.asgi import (
    AsgiWebSocketConnection,
    OcppAsgiApp,
    request_path,
    subject_common_names,
    tls_client_certificate_names,
)

T = TypeVar("T")
PASSWORD = "correct horse battery"
# Few iterations: the tests check the rules, not the cost of guessing.
PASSWORD_HASH = hash_password(PASSWORD, iterations=1000)
SERVERS = ["hypercorn-asyncio", "hypercorn-trio", "uvicorn-websockets-sansio", "uvicorn-wsproto"]


@pytest.fixture
def anyio_backend() -> str:
    """The WebSocket client (``connect_simulator``) runs on asyncio only."""
    return "asyncio"


both_backends = pytest.mark.parametrize("anyio_backend", ["asyncio", "trio"])


# -- real servers ------------------------------------------------------------------------------


class RecordingApp:
    """Passes everything to ``app`` and keeps what escaped from it (a test fails on any)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.errors: list[BaseException] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await self.app(scope, receive, send)
        except Exception as exc:
            self.errors.append(exc)
            raise


class RunningServer:
    """An ASGI server on 127.0.0.1 in its own thread and event loop."""

    def __init__(self, kind: str, app: Any, tls: trustme.LeafCert | None, directory: Path):
        self.kind = kind
        self.app = RecordingApp(app)
        self.tls = tls
        self._stack = ExitStack()
        self._portal: BlockingPortal = self._stack.enter_context(
            start_blocking_portal("trio" if kind == "hypercorn-trio" else "asyncio")
        )
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen()  # connections wait in the backlog until the server accepts
        self.port = listener.getsockname()[1]
        self._certificate_file: str | None = None
        if tls is not None:
            path = directory / f"server-{self.port}.pem"
            tls.private_key_and_cert_chain_pem.write_to_path(str(path))
            self._certificate_file = str(path)
        self._stop: anyio.Event = self._portal.call(anyio.Event)
        self._done: Future[None] = self._portal.start_task_soon(self._serve, listener)

    @property
    def url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://127.0.0.1:{self.port}/ocpp"

    async def run(self, func: Callable[..., Awaitable[T]], *args: Any) -> T:
        """Await ``func(*args)`` in the server's event loop (where the central system lives)."""
        return await anyio.to_thread.run_sync(self._portal.call, func, *args)

    async def _serve(self, listener: socket.socket) -> None:
        if self.kind.startswith("hypercorn"):
            config = hypercorn.config.Config()
            config.bind = [f"fd://{listener.detach()}"]
            config.graceful_timeout = 2
            if self._certificate_file is not None:
                config.certfile = config.keyfile = self._certificate_file
            serve = (
                hypercorn.trio.serve if self.kind == "hypercorn-trio" else hypercorn.asyncio.serve
            )
            await serve(self.app, config, shutdown_trigger=self._stop.wait)  # type: ignore[arg-type]
            return
        server = uvicorn.Server(
            uvicorn.Config(
                self.app,
                lifespan="on",
                http="h11",
                ws=self.kind.removeprefix("uvicorn-"),  # type: ignore[arg-type]
                log_config=None,
                timeout_graceful_shutdown=2,
                ssl_certfile=self._certificate_file,
            )
        )

        async def stop_when_told() -> None:
            await self._stop.wait()
            server.should_exit = True

        async with anyio.create_task_group() as group:
            group.start_soon(stop_when_told)
            await server.serve(sockets=[listener])
            group.cancel_scope.cancel()

    def stop(self) -> None:
        try:
            self._portal.call(self._stop.set)
            self._done.result(timeout=15)
        finally:
            self._stack.close()


@pytest.fixture(params=SERVERS)
def start_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[..., RunningServer]]:
    """``start_server(app, tls=None)``: serve ``app``; every server stops after the test."""
    servers: list[RunningServer] = []
    with ExitStack() as stopping:

        def start(app: Any, *, tls: trustme.LeafCert | None = None) -> RunningServer:
            server = RunningServer(request.param, app, tls, tmp_path)
            stopping.callback(server.stop)  # even when another server fails to stop
            servers.append(server)
            return server

        yield start
    for server in servers:
        assert server.app.errors == [], f"the app raised under {server.kind}"


def secured_central_system(profile: int, charge_point_id: str = "CP1") -> CentralSystem:
    record = ChargePointRecord(
        charge_point_id=charge_point_id,
        registration_status=RegistrationStatus.ACCEPTED,
        security_profile=profile,
        password_hash=PASSWORD_HASH if profile in (1, 2) else None,
    )
    return make_central_system(stores=memory_stores(charge_points=[record]))


async def refused(url: str, charge_point_id: str, status: int, **connect: Any) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as info:
        async with connect_simulator(url, charge_point_id, **connect):
            pass
    assert info.value.response.status_code == status
    return info.value


def energy(wh: int) -> tuple[MeterValue, ...]:
    return (MeterValue(timestamp=T0, sampled_value=(SampledValue(value=str(wh)),)),)


@pytest.mark.anyio
async def test_a_full_charging_session(start_server: Callable[..., RunningServer]) -> None:
    cs = make_central_system(id_tags=(IdTagRecord(id_tag="TAG"),))
    events: list[object] = []
    cs.observe(events.append)
    periodic_job_ran = threading.Event()

    async def periodic_job() -> None:
        periodic_job_ran.set()

    cs.add_periodic(3600, periodic_job)
    server = start_server(OcppAsgiApp(cs))
    async with connect_simulator(server.url, "CP1") as cp:
        # The server's lifespan startup entered ``async with cs``: periodic jobs run.
        await wait_until(periodic_job_ran.is_set)
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
        assert cs.is_connected("CP1")
        authorized = await cp.call(AuthorizeRequest(id_tag="TAG"))
        assert authorized.id_tag_info.status is AuthorizationStatus.ACCEPTED
        started = await cp.call(
            StartTransactionRequest(connector_id=1, id_tag="TAG", meter_start=0, timestamp=T0)
        )
        changed = await server.run(
            cs.core.change_configuration, "CP1", "MeterValueSampleInterval", "30"
        )
        assert changed.status is ConfigurationStatus.ACCEPTED
        reset = await server.run(cs.core.reset, "CP1", ResetType.SOFT)
        assert reset.status.value == "Accepted"
        for minute in (1, 2, 3):
            await cp.call(
                MeterValuesRequest(
                    connector_id=1,
                    transaction_id=started.transaction_id,
                    meter_value=energy(minute * 100),
                )
            )
        await cp.call(
            StopTransactionRequest(
                transaction_id=started.transaction_id, meter_stop=300, timestamp=T0
            )
        )
        assert [type(r) for r in cp.received] == [ChangeConfigurationRequest, ResetRequest]
    await wait_until(lambda: not cs.is_connected("CP1"))
    stored = await server.run(cs.stores.transactions.get, started.transaction_id)
    assert stored is not None
    assert stored.stop is not None
    assert stored.stop.meter_stop == 300
    assert len(await server.run(cs.stores.transactions.meter_values, "CP1")) == 3
    await wait_until(lambda: ChargePointDisconnected("CP1") in events)
    assert events[0] == ChargePointConnected("CP1")


@pytest.mark.anyio
async def test_a_disconnect_mid_call_fails_the_call_with_connection_lost(
    start_server: Callable[..., RunningServer],
) -> None:
    cs = make_central_system()
    server = start_server(OcppAsgiApp(cs))
    outcome: list[BaseException] = []

    async def reset() -> None:
        try:
            await server.run(cs.core.reset, "CP1", ResetType.HARD)
        except ConnectionLost as exc:
            outcome.append(exc)

    with anyio.fail_after(10):
        async with connect_simulator(server.url, "CP1") as cp:
            await cp.call(BOOT)
            cp.answer("Reset", drop=True)
            async with anyio.create_task_group() as group:
                group.start_soon(reset)
                await wait_until(lambda: cp.received_of(ResetRequest))
                cp.connection.websocket.transport.abort()  # type: ignore[attr-defined]
        await wait_until(lambda: not cs.is_connected("CP1"))
    assert len(outcome) == 1
    assert isinstance(outcome[0], ConnectionLost)


@pytest.mark.anyio
async def test_profile_1_basic_auth(start_server: Callable[..., RunningServer]) -> None:
    cs = secured_central_system(profile=1)
    events: list[object] = []
    cs.observe(events.append)
    server = start_server(OcppAsgiApp(cs))
    wrong_password = await refused(server.url, "CP1", 401, password="guess")
    assert wrong_password.response.headers["WWW-Authenticate"].startswith("Basic")
    await refused(server.url, "CP1", 401)  # no credentials at all
    # The username must be the charge point id: CP1's password sent as "CP2" is refused.
    credentials = base64.b64encode(f"CP2:{PASSWORD}".encode()).decode("ascii")
    with pytest.raises(InvalidStatus) as wrong_user:
        await connect(
            f"{server.url}/CP1",
            subprotocols=[Subprotocol("ocpp1.6")],
            additional_headers={"Authorization": f"Basic {credentials}"},
        )
    assert wrong_user.value.response.status_code == 401
    assert events == []
    assert not cs.is_connected("CP1")
    async with connect_simulator(server.url, "CP1", password=PASSWORD) as cp:
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
    await wait_until(lambda: ChargePointDisconnected("CP1") in events)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.mark.anyio
async def test_profile_2_over_tls(
    start_server: Callable[..., RunningServer], ca: trustme.CA
) -> None:
    cs = secured_central_system(profile=2)
    events: list[object] = []
    cs.observe(events.append)
    server = start_server(OcppAsgiApp(cs), tls=ca.issue_cert("127.0.0.1"))
    context = client_context(ca)
    await refused(server.url, "CP1", 401, password="guess", ssl_context=context)
    assert events == []
    async with connect_simulator(server.url, "CP1", password=PASSWORD, ssl_context=context) as cp:
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
        assert cs.is_connected("CP1")


@pytest.mark.anyio
async def test_profile_2_is_refused_over_plain_ws(
    start_server: Callable[..., RunningServer],
) -> None:
    cs = secured_central_system(profile=2)
    events: list[object] = []
    cs.observe(events.append)
    server = start_server(OcppAsgiApp(cs))
    await refused(server.url, "CP1", 403, password=PASSWORD)
    assert events == []
    assert not cs.is_connected("CP1")


@pytest.mark.anyio
async def test_the_subprotocol(start_server: Callable[..., RunningServer]) -> None:
    strict = make_central_system()
    server = start_server(OcppAsgiApp(strict))
    await refused(server.url, "CP1", 400, subprotocols=())
    assert not strict.is_connected("CP1")

    relaxed = make_central_system()
    options = HandshakeOptions(require_subprotocol=False)
    lenient = start_server(OcppAsgiApp(relaxed, options=options))
    async with connect_simulator(lenient.url, "CP1", subprotocols=()) as cp:
        assert cp.connection.websocket.subprotocol is None  # type: ignore[attr-defined]
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
    async with connect_simulator(lenient.url, "CP1") as cp:
        assert cp.connection.websocket.subprotocol == "ocpp1.6"  # type: ignore[attr-defined]


@pytest.mark.anyio
async def test_unknown_charge_points(start_server: Callable[..., RunningServer]) -> None:
    open_cs = make_central_system()
    server = start_server(OcppAsgiApp(open_cs))
    async with connect_simulator(server.url, "NEW-1") as cp:
        # Connected; its BootNotification meets the unknown-charge-point policy (Rejected).
        assert (await cp.call(BOOT)).status is RegistrationStatus.REJECTED
        assert open_cs.is_connected("NEW-1")

    closed_cs = make_central_system()
    closed = start_server(
        OcppAsgiApp(closed_cs, options=HandshakeOptions(allow_unknown_charge_points=False))
    )
    await refused(closed.url, "NEW-1", 404)
    assert not closed_cs.is_connected("NEW-1")
    async with connect_simulator(closed.url, "CP1") as cp:
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED


@pytest.mark.anyio
async def test_paths_outside_the_prefix_and_plain_http(
    start_server: Callable[..., RunningServer],
) -> None:
    server = start_server(OcppAsgiApp(make_central_system()))
    await refused(f"ws://127.0.0.1:{server.port}/other", "CP1", 404)
    await refused(server.url, "", 404)  # no charge point id

    def get() -> tuple[int, bytes]:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as http:
            http.sendall(b"GET /ocpp/CP1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            reply = b""
            while chunk := http.recv(4096):
                reply += chunk
        return int(reply.split()[1]), reply

    status, reply = await anyio.to_thread.run_sync(get)
    assert status == 404, reply


def without_http_response_extension(app: Any) -> Any:
    """The app as a server lacking ``websocket.http.response`` would run it."""

    async def wrapped(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            extensions = dict(scope.get("extensions") or {})
            extensions.pop("websocket.http.response", None)
            scope = {**scope, "extensions": extensions}
        await app(scope, receive, send)

    return wrapped


@pytest.mark.anyio
async def test_without_the_http_response_extension_a_refusal_is_403(
    start_server: Callable[..., RunningServer],
) -> None:
    cs = secured_central_system(profile=1)
    server = start_server(without_http_response_extension(OcppAsgiApp(cs)))
    await refused(server.url, "CP1", 403, password="guess")
    async with connect_simulator(server.url, "CP1", password=PASSWORD) as cp:
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED


# -- in process ----------------------------------------------------------------------------------


def websocket_scope(
    path: str = "/ocpp/CP1",
    *,
    scheme: str = "ws",
    subprotocols: tuple[str, ...] = ("ocpp1.6",),
    headers: tuple[tuple[bytes, bytes], ...] = (),
    extensions: dict[str, Any] | None = None,
    **more: Any,
) -> dict[str, Any]:
    return {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "scheme": scheme,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": list(headers),
        "subprotocols": list(subprotocols),
        "extensions": {"websocket.http.response": {}} if extensions is None else extensions,
        **more,
    }


async def drive(app: Any, scope: dict[str, Any], *incoming: dict[str, Any]) -> list[Any]:
    """Run ``app`` on ``scope`` with ``incoming`` messages; what it sent, once it returned."""
    to_app, inbox = anyio.create_memory_object_stream[Any](len(incoming) + 1)
    for message in incoming:
        to_app.send_nowait(message)
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    with to_app, inbox, anyio.fail_after(5):
        await app(scope, inbox.receive, send)
    return sent


CONNECT = {"type": "websocket.connect"}
DISCONNECT = {"type": "websocket.disconnect", "code": 1000}


@both_backends
@pytest.mark.anyio
async def test_plain_http_gets_404() -> None:
    sent = await drive(OcppAsgiApp(make_central_system()), {"type": "http", "path": "/"})
    assert sent[0]["type"] == "http.response.start"
    assert sent[0]["status"] == 404
    assert sent[1]["type"] == "http.response.body"


@both_backends
@pytest.mark.anyio
async def test_lifespan_runs_the_central_system() -> None:
    cs = make_central_system()
    ran = anyio.Event()

    async def job() -> None:
        ran.set()

    cs.add_periodic(3600, job)
    to_app, inbox = anyio.create_memory_object_stream[Any](2)
    from_app, outbox = anyio.create_memory_object_stream[Any](2)
    with to_app, inbox, from_app, outbox, anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(OcppAsgiApp(cs), {"type": "lifespan"}, inbox.receive, from_app.send)
            await to_app.send({"type": "lifespan.startup"})
            assert (await outbox.receive())["type"] == "lifespan.startup.complete"
            await ran.wait()  # the periodic job runs only inside ``async with cs``
            await to_app.send({"type": "lifespan.shutdown"})
            assert (await outbox.receive())["type"] == "lifespan.shutdown.complete"
    assert cs._background is None


@both_backends
@pytest.mark.anyio
async def test_lifespan_false_leaves_the_central_system_to_the_host() -> None:
    cs = make_central_system()
    app = OcppAsgiApp(cs, lifespan=False)
    lifespan = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]
    sent = await drive(app, {"type": "lifespan"}, *lifespan)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert cs._background is None


@both_backends
@pytest.mark.anyio
async def test_a_refusal_without_the_extension_closes_before_accepting() -> None:
    app = OcppAsgiApp(make_central_system(), options=HandshakeOptions(path_prefix="/x"))
    sent = await drive(app, websocket_scope(extensions={}), CONNECT)
    assert [m["type"] for m in sent] == ["websocket.close"]


@both_backends
@pytest.mark.anyio
async def test_refusals_carry_their_status() -> None:
    app = OcppAsgiApp(secured_central_system(profile=1))
    sent = await drive(app, websocket_scope(), CONNECT)
    assert sent[0]["status"] == 401
    assert (b"www-authenticate", b'Basic realm="OCPP", charset="UTF-8"') in sent[0]["headers"]
    assert sent[1]["body"] == b"HTTP Basic authentication failed\n"
    for path in ("/ocpp/%FF", "/ocpp/" + "x" * 49):
        sent = await drive(app, websocket_scope(path), CONNECT)
        assert sent[0]["status"] == 400, path
    authorization = ((b"authorization", "Basic é".encode("latin-1")),)
    sent = await drive(app, websocket_scope(headers=authorization), CONNECT)
    assert sent[0]["status"] == 401


class FailingChargePointStore:
    async def get(self, charge_point_id: str) -> None:
        raise OSError("database unreachable")


@both_backends
@pytest.mark.anyio
async def test_a_store_failure_during_the_handshake_is_503() -> None:
    cs = make_central_system()
    cs.stores = attrs.evolve(cs.stores, charge_points=FailingChargePointStore())
    sent = await drive(OcppAsgiApp(cs), websocket_scope(), CONNECT)
    assert sent[0]["status"] == 503
    assert not cs.is_connected("CP1")


@both_backends
@pytest.mark.anyio
async def test_a_client_that_leaves_before_the_handshake() -> None:
    assert await drive(OcppAsgiApp(make_central_system()), websocket_scope(), DISCONNECT) == []


def tls_extension(*pems: str, error: str | None = None) -> dict[str, Any]:
    return {
        "websocket.http.response": {},
        "tls": {
            "server_cert": None,
            "client_cert_chain": list(pems),
            "client_cert_name": None,
            "client_cert_error": error,
            "tls_version": 0x0304,
            "cipher_suite": 0x1301,
        },
    }


@both_backends
@pytest.mark.anyio
async def test_profile_3_reads_the_client_certificate_from_the_tls_extension(
    ca: trustme.CA,
) -> None:
    cs = secured_central_system(profile=3, charge_point_id="CP3")
    events: list[object] = []
    cs.observe(events.append)
    app = OcppAsgiApp(cs)
    right = ca.issue_cert("cp3.example", common_name="CP3").cert_chain_pems[0].bytes().decode()
    wrong = ca.issue_cert("cp4.example", common_name="CP4").cert_chain_pems[0].bytes().decode()
    chain = (right, ca.cert_pem.bytes().decode())

    sent = await drive(
        app,
        websocket_scope("/ocpp/CP3", scheme="wss", extensions=tls_extension(*chain)),
        CONNECT,
        DISCONNECT,
    )
    assert sent[0] == {"type": "websocket.accept", "subprotocol": "ocpp1.6"}
    assert events[0] == ChargePointConnected("CP3")

    for extensions, scheme, status in [
        (tls_extension(wrong), "wss", 401),
        (tls_extension(right, error="certificate has expired"), "wss", 401),
        (tls_extension(), "wss", 401),  # no client certificate
        ({"websocket.http.response": {}}, "wss", 401),  # the server does not expose it
        ({"websocket.http.response": {}}, "ws", 403),
    ]:
        scope = websocket_scope("/ocpp/CP3", scheme=scheme, extensions=extensions)
        sent = await drive(app, scope, CONNECT)
        assert sent[0]["status"] == status


@both_backends
@pytest.mark.anyio
async def test_a_host_can_read_certificate_names_from_elsewhere() -> None:
    app = OcppAsgiApp(
        secured_central_system(profile=3, charge_point_id="CP3"),
        client_certificate_names=lambda scope: ["CP3"] if scope.get("state") else [],
    )
    scope = websocket_scope("/ocpp/CP3", scheme="wss", state={"verified": True})
    sent = await drive(app, scope, CONNECT, DISCONNECT)
    assert sent[0]["type"] == "websocket.accept"


def proxy_certificate_names(scope: dict[str, Any]) -> tuple[str, ...]:
    """The docs' example: the names a TLS-terminating proxy verified and forwarded."""
    headers = dict(scope["headers"])
    if headers.get(b"x-client-verify") != b"SUCCESS":
        return ()
    return (headers[b"x-client-cn"].decode(),) if b"x-client-cn" in headers else ()


@both_backends
@pytest.mark.anyio
async def test_behind_a_tls_terminating_proxy() -> None:
    cs = secured_central_system(profile=3, charge_point_id="CP3")
    app = ProxyFixMiddleware(OcppAsgiApp(cs, client_certificate_names=proxy_certificate_names))
    forwarded = ((b"x-forwarded-proto", b"https"),)
    verified = (*forwarded, (b"x-client-verify", b"SUCCESS"), (b"x-client-cn", b"CP3"))
    unverified = (*forwarded, (b"x-client-verify", b"FAILED:unknown CA"), (b"x-client-cn", b"CP3"))
    accepted = await drive(app, websocket_scope("/ocpp/CP3", headers=verified), CONNECT, DISCONNECT)
    assert accepted[0]["type"] == "websocket.accept"
    for headers, status in [(unverified, 401), (verified[1:], 403)]:
        sent = await drive(app, websocket_scope("/ocpp/CP3", headers=headers), CONNECT)
        assert sent[0]["status"] == status


def test_certificate_names_from_the_tls_extension(ca: trustme.CA) -> None:
    leaf = ca.issue_cert("cp.example", common_name="CP-Zürich").cert_chain_pems[0].bytes().decode()
    assert tls_client_certificate_names({"extensions": tls_extension(leaf)}) == ("CP-Zürich",)
    # One string holding the whole chain, as some servers give it.
    whole = leaf + ca.cert_pem.bytes().decode()
    assert tls_client_certificate_names({"extensions": tls_extension(whole)}) == ("CP-Zürich",)
    tls = tls_extension(leaf)
    tls["tls"]["client_cert_chain"] = whole
    assert tls_client_certificate_names({"extensions": tls}) == ("CP-Zürich",)
    garbled = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    assert tls_client_certificate_names({"extensions": tls_extension(garbled)}) == ()
    assert tls_client_certificate_names({"extensions": {}}) == ()


@pytest.mark.parametrize("common_name", ["CP3", None, "Zähler-€", "a" * 64])
def test_subject_common_names_agree_with_cryptography(
    ca: trustme.CA, common_name: str | None
) -> None:
    pem = ca.issue_cert("cp.example", common_name=common_name).cert_chain_pems[0].bytes()
    expected = x509.load_pem_x509_certificate(pem).subject.get_attributes_for_oid(
        NameOID.COMMON_NAME
    )
    names = subject_common_names(ssl.PEM_cert_to_DER_cert(pem.decode()))
    assert names == tuple(str(a.value) for a in expected)
    assert names == (() if common_name is None else (common_name,))


@pytest.fixture(scope="module")
def certificate_der(ca: trustme.CA) -> bytes:
    pem = ca.issue_cert("cp.example", common_name="CP3").cert_chain_pems[0].bytes().decode()
    return ssl.PEM_cert_to_DER_cert(pem)


@given(data=st.data())
def test_subject_common_names_on_garbage_raises_value_error_only(
    certificate_der: bytes, data: st.DataObject
) -> None:
    garbage = data.draw(
        st.one_of(
            st.binary(max_size=64),
            st.integers(0, len(certificate_der)).map(lambda n: certificate_der[:n]),
            st.tuples(st.integers(0, len(certificate_der) - 1), st.integers(0, 255)).map(
                lambda c: certificate_der[: c[0]] + bytes([c[1]]) + certificate_der[c[0] + 1 :]
            ),
        )
    )
    try:
        names = subject_common_names(garbage)
    except ValueError:
        return
    assert all(isinstance(name, str) for name in names)


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        # Served at the root: hypercorn and uvicorn alike.
        ({"path": "/ocpp/CP1", "raw_path": b"/ocpp/CP1", "root_path": ""}, "/ocpp/CP1"),
        # Starlette >= 0.33 Mount("/ocpp"): path keeps the mount point, root_path names it.
        ({"path": "/ocpp/CP1", "raw_path": b"/ocpp/CP1", "root_path": "/ocpp"}, "/ocpp/CP1"),
        # Older frameworks strip the mount point from path (and may drop raw_path).
        ({"path": "/CP1", "root_path": "/ocpp"}, "/ocpp/CP1"),
        # A proxy stripped "/api"; hypercorn --root-path /api passes path as received.
        ({"path": "/ocpp/CP1", "raw_path": b"/ocpp/CP1", "root_path": "/api"}, "/api/ocpp/CP1"),
        # raw_path is undecoded: the handshake decodes the id exactly once.
        ({"path": "/ocpp/CP/1", "raw_path": b"/ocpp/CP%2F1", "root_path": ""}, "/ocpp/CP%2F1"),
        ({"path": "/ocpp/CP%41", "root_path": ""}, "/ocpp/CP%2541"),
        ({"path": "/ocpp/Zähler", "root_path": ""}, "/ocpp/Z%C3%A4hler"),
    ],
)
def test_request_path(scope: dict[str, Any], expected: str) -> None:
    assert request_path(scope) == expected


@both_backends
@pytest.mark.anyio
async def test_mounted_like_starlette_mount() -> None:
    cs = make_central_system(charge_points=("CP%41", "CP1"))
    events: list[object] = []
    cs.observe(events.append)
    app = OcppAsgiApp(cs)
    assert app.mount_path == "/ocpp"
    mounted = websocket_scope("/ocpp/CP1", root_path="/ocpp")
    old_style = {**websocket_scope("/CP%41", root_path="/ocpp"), "raw_path": None}
    for scope in (mounted, old_style):
        sent = await drive(app, scope, CONNECT, DISCONNECT)
        assert sent[0]["type"] == "websocket.accept"
    connected = [e.charge_point_id for e in events if isinstance(e, ChargePointConnected)]
    assert connected == ["CP1", "CP%41"]


# -- the connection ------------------------------------------------------------------------------


@contextmanager
def connection_over(
    *incoming: dict[str, Any],
) -> Iterator[tuple[AsgiWebSocketConnection, list[Any]]]:
    """A connection receiving ``incoming``, and the list of what it sends."""
    to_app, inbox = anyio.create_memory_object_stream[Any](len(incoming))
    for message in incoming:
        to_app.send_nowait(message)
    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    with to_app, inbox:
        yield AsgiWebSocketConnection(inbox.receive, send), sent


@both_backends
@pytest.mark.anyio
async def test_the_connection_reads_text_and_binary_frames_until_disconnect() -> None:
    with connection_over(
        {"type": "websocket.receive", "text": '[2,"1","Heartbeat",{}]'},
        {"type": "websocket.receive", "bytes": '[3,"1",{"ü":1}]'.encode()},
        {"type": "websocket.receive", "bytes": b"\xff"},
        {"type": "websocket.disconnect", "code": 1001, "reason": "going away"},
    ) as (connection, sent):
        assert await connection.receive() == '[2,"1","Heartbeat",{}]'
        assert await connection.receive() == '[3,"1",{"ü":1}]'
        assert await connection.receive() == "\ufffd"
        with pytest.raises(TransportClosed) as closed:
            await connection.receive()
        assert (closed.value.code, closed.value.reason) == (1001, "going away")
        with pytest.raises(TransportClosed):
            await connection.send("[]")
        await connection.close()  # after the peer closed: nothing to send
        assert sent == []


@both_backends
@pytest.mark.anyio
async def test_close_sends_websocket_close_and_ends_a_pending_receive() -> None:
    with connection_over() as (connection, sent):
        await connection.send("hello")
        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                failures: list[TransportClosed] = []

                async def receive() -> None:
                    try:
                        await connection.receive()
                    except TransportClosed as exc:
                        failures.append(exc)

                group.start_soon(receive)
                await anyio.wait_all_tasks_blocked()
                await connection.close(4000, "bye")
                await connection.close()  # idempotent
        assert failures[0].code == 4000
        assert sent == [
            {"type": "websocket.send", "text": "hello"},
            {"type": "websocket.close", "code": 4000, "reason": "bye"},
        ]
        with pytest.raises(TransportClosed):
            await connection.send("late")


@both_backends
@pytest.mark.anyio
async def test_a_send_the_server_cannot_deliver_is_connection_closed() -> None:
    async def gone(message: Any) -> None:
        raise OSError("client disconnected")

    async def never() -> Any:
        await anyio.sleep_forever()

    connection = AsgiWebSocketConnection(never, gone)
    with pytest.raises(TransportClosed) as closed:
        await connection.send("[]")
    assert closed.value.code == 1006
    await connection.close()
