"""The handshake against hostile clients (issue #11, items 7, 8, 10, 11): duplicate headers,
ids that are paths, passwords with control characters, registered ids told apart by timing or
status, and password guessing (throttled, with a fake clock)."""

from __future__ import annotations

import base64
import threading
import time
from typing import Any

import anyio
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from harness import make_central_system
from ocpp16csms import memory_stores
from ocpp16csms.messages import RegistrationStatus
from ocpp16csms.profiles.security import passwords
from ocpp16csms.profiles.security.passwords import (
    DEFAULT_ITERATIONS,
    hash_password,
    verify_password,
)
from ocpp16csms.stores import ChargePointRecord
from ocpp16csms.transports import (
    AuthThrottle,
    HandshakeOptions,
    HandshakeRefused,
    Peer,
    basic_credentials,
    charge_point_id_from_path,
    decide,
    single_header,
)
from ocpp16csms.transports import handshake as handshake_module
from ocpp16csms.transports.asgi import OcppAsgiApp
from ocpp16csms.transports.websockets import WebSocketOptions, serve

PASSWORD = "correct-horse-battery"
PASSWORD_HASH = hash_password(PASSWORD, iterations=1000)
DEFAULT = HandshakeOptions()


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


def refusal(call: Any, *args: Any) -> HandshakeRefused:
    with pytest.raises(HandshakeRefused) as info:
        call(*args)
    return info.value


def known(charge_point_id: str = "CP1", profile: int = 1) -> ChargePointRecord:
    return ChargePointRecord(
        charge_point_id=charge_point_id,
        registration_status=RegistrationStatus.ACCEPTED,
        security_profile=profile,
        password_hash=PASSWORD_HASH,
    )


# --- 11. ids that are paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/ocpp/..",
        "/ocpp/.",
        "/ocpp/%2E%2E",
        "/ocpp/%2e",
        "/ocpp/x%2F..%2FP1",
        "/ocpp/A%2FB",
        "/ocpp/x/../P1",
        "/ocpp/./P1",
        "/ocpp/x/%2E%2E/P1",
    ],
)
def test_dot_segments_and_slashes_in_ids_are_refused_by_default(path: str) -> None:
    assert refusal(charge_point_id_from_path, path, DEFAULT).status == 400


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/ocpp/A%2FB", "A/B"), ("/ocpp/x%2F..%2FP1", "x/../P1"), ("/ocpp/%2E%2E", "..")],
)
def test_a_host_may_allow_such_ids(path: str, expected: str) -> None:
    options = HandshakeOptions(allow_unsafe_ids=True)
    assert charge_point_id_from_path(path, options) == expected


@pytest.mark.parametrize("path", ["/ocpp/CP.1", "/ocpp/...", "/ocpp/.hidden", "/ocpp/a..b"])
def test_dots_inside_an_id_are_fine(path: str) -> None:
    assert charge_point_id_from_path(path, DEFAULT) == path.removeprefix("/ocpp/")


# --- 10. control characters in passwords -----------------------------------------------------


@pytest.mark.parametrize("suffix", ["\x00", "\x00\x00", "\t", "\x1f", "\x7f", "\x85"])
def test_a_password_with_control_characters_never_authenticates(suffix: str) -> None:
    # PBKDF2 pads its HMAC key with NULs, so "pw\x00" and "pw" give the same key.
    assert not verify_password(PASSWORD + suffix, PASSWORD_HASH)
    assert basic_credentials(basic("CP1", PASSWORD + suffix)) is None
    peer = Peer(
        path="/ocpp/CP1", subprotocols=("ocpp1.6",), authorization=basic("CP1", PASSWORD + suffix)
    )
    assert refusal(decide, peer, known(), DEFAULT).status == 401
    with pytest.raises(ValueError, match="control"):
        hash_password(PASSWORD + suffix, iterations=1000)
    assert basic_credentials(basic("CP1\x00", PASSWORD)) is None


def test_the_right_password_still_authenticates() -> None:
    peer = Peer(path="/ocpp/CP1", subprotocols=("ocpp1.6",), authorization=basic("CP1", PASSWORD))
    assert decide(peer, known(), DEFAULT) == ("CP1", "ocpp1.6")


# --- 7. duplicate headers --------------------------------------------------------------------


def test_more_than_one_authorization_header_is_400() -> None:
    assert single_header("Authorization", []) is None
    assert single_header("Authorization", ["Basic x"]) == "Basic x"
    error = refusal(single_header, "Authorization", ["Basic x", "Basic y"])
    assert error.status == 400
    assert "Authorization" in error.reason


# --- 8. unknown ids cost the same and are refused the same ----------------------------------


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The stored hashes each password check compares against."""
    checked: list[str] = []
    original = handshake_module.verify_password

    def spy(password: str, stored_hash: str) -> bool:
        checked.append(stored_hash)
        return original(password, stored_hash)

    monkeypatch.setattr(handshake_module, "verify_password", spy)
    return checked


@pytest.mark.parametrize("allow_unknown", [True, False])
def test_an_unknown_id_is_refused_after_the_work_of_a_wrong_password(
    hashed: list[str], allow_unknown: bool
) -> None:
    options = HandshakeOptions(
        allow_unknown_charge_points=allow_unknown, default_security_profile=1
    )
    wrong = Peer(path="/ocpp/CP1", subprotocols=("ocpp1.6",), authorization=basic("CP1", "guess"))
    unknown = Peer(path="/ocpp/CP9", subprotocols=("ocpp1.6",), authorization=basic("CP9", "guess"))
    assert refusal(decide, wrong, known(), options).status == 401
    # OCPP-J §3.2: an unknown id gets 404 when unknown ids may not connect; allowed, it meets
    # the default profile and its password check fails like a wrong password.
    assert refusal(decide, unknown, None, options).status == (401 if allow_unknown else 404)
    assert len(hashed) == 2  # one hash each: the unknown one against a dummy
    dummy = hashed[1]
    assert dummy != PASSWORD_HASH
    assert dummy.split("$")[1] == str(DEFAULT_ITERATIONS)


def test_a_known_id_without_a_stored_hash_is_checked_against_the_dummy(
    hashed: list[str],
) -> None:
    record = ChargePointRecord(charge_point_id="CP1", security_profile=1, password_hash=None)
    peer = Peer(path="/ocpp/CP1", subprotocols=("ocpp1.6",), authorization=basic("CP1", "x"))
    assert refusal(decide, peer, record, DEFAULT).status == 401
    assert len(hashed) == 1


def test_refusal_times_of_known_and_unknown_ids_are_alike() -> None:
    real = hash_password(PASSWORD)  # the default cost, as deployments store it
    record = ChargePointRecord(charge_point_id="CP1", security_profile=1, password_hash=real)
    options = HandshakeOptions(allow_unknown_charge_points=False, default_security_profile=1)

    def timed(path: str, rec: ChargePointRecord | None) -> float:
        peer = Peer(path=path, subprotocols=("ocpp1.6",), authorization=basic("CP1", "guess"))
        best = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            refusal(decide, peer, rec, options)
            best = min(best, time.perf_counter() - started)
        return best

    known_time = timed("/ocpp/CP1", record)
    unknown_time = timed("/ocpp/CP9", None)
    assert 0.5 < unknown_time / known_time < 2.0


# --- 8. throttling, with a fake clock -------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_failures_of_one_id_back_off_exponentially_up_to_a_ceiling() -> None:
    clock = FakeClock()
    throttle = AuthThrottle(failures_per_id=3, base_delay=1.0, max_delay=8.0, clock=clock)
    for _ in range(3):
        assert throttle.retry_after("CP1", "10.0.0.1") == 0
        throttle.failed("CP1", "10.0.0.1")
    waits = []
    for _ in range(6):
        throttle.failed("CP1", "10.0.0.1")
        waits.append(throttle.retry_after("CP1", "10.0.0.2"))  # any address: it is the id
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert throttle.retry_after("CP2", "10.0.0.1") == 0
    clock.now += 8.0
    assert throttle.retry_after("CP1", "10.0.0.1") == 0
    throttle.succeeded("CP1")
    throttle.failed("CP1", "10.0.0.1")
    assert throttle.retry_after("CP1", "10.0.0.1") == 0  # a success starts the count again


def test_an_address_guessing_many_ids_is_throttled_but_one_failing_id_is_not() -> None:
    clock = FakeClock()
    throttle = AuthThrottle(
        failures_per_id=1000, ids_per_address=5, base_delay=2.0, max_delay=60.0, clock=clock
    )
    for _ in range(50):  # one charge point with a stale password, retrying: its own business
        throttle.failed("CP1", "192.0.2.7")
    assert throttle.retry_after("CP2", "192.0.2.7") == 0
    for n in range(5):
        throttle.failed(f"X{n}", "198.51.100.1")
    assert throttle.retry_after("anything", "198.51.100.1") == 0
    throttle.failed("X5", "198.51.100.1")
    assert throttle.retry_after("anything", "198.51.100.1") == 2.0
    assert throttle.retry_after("anything", "198.51.100.2") == 0
    assert throttle.retry_after("anything", None) == 0


def test_old_failures_are_forgotten_and_memory_is_bounded() -> None:
    clock = FakeClock()
    throttle = AuthThrottle(failures_per_id=1, forget_after=60.0, max_entries=100, clock=clock)
    throttle.failed("CP1", None)
    throttle.failed("CP1", None)
    assert throttle.retry_after("CP1", None) > 0
    clock.now += 61.0
    assert throttle.retry_after("CP1", None) == 0
    for n in range(1000):
        throttle.failed(f"ID{n}", f"10.0.{n // 250}.{n % 250}")
    assert len(throttle) <= 100


def test_throttle_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="base_delay"):
        AuthThrottle(base_delay=0)
    with pytest.raises(ValueError, match="max_entries"):
        AuthThrottle(max_entries=0)


# --- over real sockets: websockets and ASGI --------------------------------------------------


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # the websockets library runs on asyncio only


def secured() -> Any:
    stores = memory_stores(charge_points=[known("CP1")])
    return make_central_system(stores=stores)


async def status_of(port: int, path: str, headers: list[tuple[str, str]]) -> tuple[int, Any]:
    with pytest.raises(InvalidStatus) as info:
        async with connect(
            f"ws://127.0.0.1:{port}{path}",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=headers,
            open_timeout=5,
        ):
            pass  # pragma: no cover - refused
    response = info.value.response
    return response.status_code, response


@pytest.mark.anyio
async def test_two_authorization_headers_are_400_over_websockets() -> None:
    server = await serve(secured(), "127.0.0.1", 0)
    async with server:
        headers = [("Authorization", basic("CP1", PASSWORD))] * 2
        status, response = await status_of(server.port, "/ocpp/CP1", headers)
    assert status == 400
    assert b"Traceback" not in response.body


@pytest.mark.anyio
async def test_password_guessing_is_throttled_over_websockets() -> None:
    clock = FakeClock()
    throttle = AuthThrottle(failures_per_id=2, base_delay=30.0, clock=clock)
    server = await serve(secured(), "127.0.0.1", 0, throttle=throttle)
    async with server:
        wrong = [("Authorization", basic("CP1", "guess"))]
        assert (await status_of(server.port, "/ocpp/CP1", wrong))[0] == 401
        assert (await status_of(server.port, "/ocpp/CP1", wrong))[0] == 401
        assert (await status_of(server.port, "/ocpp/CP1", wrong))[0] == 401
        status, response = await status_of(server.port, "/ocpp/CP1", wrong)
        assert status == 429
        assert response.headers["Retry-After"] == "30"
        # Even the right password waits: a throttled attempt checks nothing.
        right = [("Authorization", basic("CP1", PASSWORD))]
        assert (await status_of(server.port, "/ocpp/CP1", right))[0] == 429
        clock.now += 30
        async with connect(
            f"ws://127.0.0.1:{server.port}/ocpp/CP1",
            subprotocols=["ocpp1.6"],  # type: ignore[list-item]
            additional_headers=right,
            open_timeout=5,
        ) as websocket:
            assert websocket.subprotocol == "ocpp1.6"


@pytest.mark.anyio
async def test_password_checks_run_in_a_bounded_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    lock = threading.Lock()
    running = [0, 0]  # now, most
    original = handshake_module.verify_password

    def slow(password: str, stored_hash: str) -> bool:
        with lock:
            running[0] += 1
            running[1] = max(running[1], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
        return original(password, stored_hash)

    monkeypatch.setattr(handshake_module, "verify_password", slow)
    options = WebSocketOptions(handshake=HandshakeOptions(password_check_threads=2))
    server = await serve(secured(), "127.0.0.1", 0, options=options)
    async with server:
        wrong = [("Authorization", basic("CP1", "guess"))]
        async with anyio.create_task_group() as group:
            for _ in range(8):
                group.start_soon(status_of, server.port, "/ocpp/CP1", wrong)
    assert running[1] == 2


async def drive_asgi(app: Any, headers: list[tuple[bytes, bytes]]) -> list[Any]:
    scope = {
        "type": "websocket",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "scheme": "ws",
        "path": "/ocpp/CP1",
        "raw_path": b"/ocpp/CP1",
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "subprotocols": ["ocpp1.6"],
        "client": ("127.0.0.1", 5555),
        "extensions": {"websocket.http.response": {}},
    }
    sent: list[Any] = []
    incoming = iter([{"type": "websocket.connect"}, {"type": "websocket.disconnect"}])

    async def receive() -> Any:
        return next(incoming)

    async def send(message: Any) -> None:
        sent.append(message)

    with anyio.fail_after(5):
        await app(scope, receive, send)
    return sent


@pytest.mark.anyio
async def test_two_authorization_headers_are_400_over_asgi() -> None:
    value = basic("CP1", PASSWORD).encode()
    sent = await drive_asgi(
        OcppAsgiApp(secured()), [(b"authorization", value), (b"Authorization", value)]
    )
    assert sent[0]["status"] == 400


@pytest.mark.anyio
async def test_password_guessing_is_throttled_over_asgi() -> None:
    clock = FakeClock()
    app = OcppAsgiApp(secured(), throttle=AuthThrottle(failures_per_id=1, clock=clock))
    wrong = [(b"authorization", basic("CP1", "guess").encode())]
    assert (await drive_asgi(app, wrong))[0]["status"] == 401
    assert (await drive_asgi(app, wrong))[0]["status"] == 401
    sent = await drive_asgi(app, wrong)
    assert sent[0]["status"] == 429
    assert (b"retry-after", b"1") in sent[0]["headers"]


def test_hash_password_refuses_nothing_printable() -> None:
    assert verify_password("pässwört €", hash_password("pässwört €", iterations=1000))
    assert passwords.DEFAULT_ITERATIONS == DEFAULT_ITERATIONS


# --- 2. the ASGI path bounds the message size too ------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["text", "bytes"])
async def test_an_asgi_message_over_max_message_size_closes_with_1009(kind: str) -> None:
    cs = make_central_system()  # CP1, security profile 0
    app = OcppAsgiApp(cs, max_message_size=1000)
    big = '[2,"m1","Heartbeat",{"x":"' + "é" * 600 + '"}]'  # 600 characters, 1200+ bytes
    small = '[2,"m0","Heartbeat",{}]'
    messages = [
        {"type": "websocket.connect"},
        {"type": "websocket.receive", "text": small},
        {"type": "websocket.receive", kind: big if kind == "text" else big.encode()},
    ]
    sent: list[Any] = []
    answered = anyio.Event()

    async def receive() -> Any:
        if not messages:
            await anyio.sleep_forever()
        if len(messages) == 1:
            await answered.wait()  # the small one is answered first
        return messages.pop(0)

    async def send(message: Any) -> None:
        sent.append(message)
        if message.get("text", "").startswith('[4,"m0"') or message.get("text", "").startswith(
            '[3,"m0"'
        ):
            answered.set()

    scope = {
        "type": "websocket",
        "scheme": "ws",
        "path": "/ocpp/CP1",
        "raw_path": b"/ocpp/CP1",
        "headers": [],
        "subprotocols": ["ocpp1.6"],
        "extensions": {"websocket.http.response": {}},
    }
    with anyio.fail_after(5):
        await app(scope, receive, send)
    assert sent[0]["type"] == "websocket.accept"
    assert sent[-1] == {
        "type": "websocket.close",
        "code": 1009,
        "reason": "message over 1000 bytes",
    }
