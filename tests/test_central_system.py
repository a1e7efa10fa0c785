"""CentralSystem machinery: failures, ordering, timeouts, reconnection, hooks, on asyncio and trio."""

from __future__ import annotations

import contextlib
import json
import logging
from typing import Any

import anyio
import pytest

from harness import BOOT, connected, make_central_system, wait_until
from ocpp16csms import (
    CallContext,
    CallErrorReceived,
    CallTimeout,
    ChargePointConnected,
    ChargePointDisconnected,
    ChargePointNotAccepted,
    ConnectionLost,
    Exchange,
    PeerViolationObserved,
    QueueFull,
    UnknownChargePointPolicy,
    memory_connection_pair,
    memory_stores,
)
from ocpp16csms.messages import (
    AuthorizationStatus,
    AuthorizeRequest,
    AuthorizeResponse,
    Direction,
    GetConfigurationRequest,
    HeartbeatRequest,
    HeartbeatResponse,
    IdTagInfo,
    KeyValue,
    MeterValuesRequest,
    RegistrationStatus,
    ResetType,
    StartTransactionRequest,
    UnlockConnectorResponse,
    UnlockStatus,
)
from ocpp16csms.testing import ChargePointSimulator

pytestmark = pytest.mark.anyio


class FlakyTransactions:
    """A transaction store that fails until told to work (a database that is down)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.down = True

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            if self.down:
                raise ConnectionError("database unavailable")
            return await method(*args, **kwargs)

        return call


async def test_a_store_failure_is_answered_with_internal_error_and_nothing_is_kept() -> None:
    import attrs

    from ocpp16csms import ChargePointRecord

    base = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
            )
        ]
    )
    flaky = FlakyTransactions(base.transactions)
    cs = make_central_system(stores=attrs.evolve(base, transactions=flaky))
    request = StartTransactionRequest(
        connector_id=1, id_tag="T", meter_start=0, timestamp=BOOT_TIME
    )
    async with connected(cs) as cp:
        with pytest.raises(CallErrorReceived) as refused:
            await cp.call(request)
        assert refused.value.code == "InternalError"
        assert await base.transactions.active() == []
        flaky.down = False
        answer = await cp.call(request)
    assert [t.transaction_id for t in await base.transactions.active()] == [answer.transaction_id]


async def test_a_failing_handler_gets_internal_error_and_the_connection_survives(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system()

    @cs.on(AuthorizeRequest)
    async def broken(request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
        raise RuntimeError("boom")

    async with connected(cs) as cp:
        with caplog.at_level(logging.ERROR, logger="ocpp16csms"):
            with pytest.raises(CallErrorReceived) as refused:
                await cp.call(AuthorizeRequest(id_tag="X"))
        assert (await cp.call(HeartbeatRequest())).current_time is not None
    assert refused.value.code == "InternalError"
    assert "boom" not in refused.value.description  # internals are not sent to the charge point
    failure = next(r for r in caplog.records if "failed" in r.getMessage())
    assert failure.exc_info is not None
    assert failure.charge_point_id == "CP1"  # type: ignore[attr-defined]
    assert failure.message_id  # type: ignore[attr-defined]


async def test_a_handler_returning_the_wrong_type_is_named_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system()

    async def sloppy(request: HeartbeatRequest, ctx: CallContext) -> Any:
        return AuthorizeResponse(id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED))

    cs.set_handler(HeartbeatRequest, sloppy)
    async with connected(cs) as cp:
        with caplog.at_level(logging.ERROR, logger="ocpp16csms"):
            with pytest.raises(CallErrorReceived) as refused:
                await cp.call(HeartbeatRequest())
    assert refused.value.code == "InternalError"
    text = caplog.text
    assert "sloppy" in text
    assert "AuthorizeResponse" in text
    assert "HeartbeatResponse" in text


async def test_a_handler_may_call_the_same_charge_point_without_deadlock() -> None:
    cs = make_central_system()
    fetched: list[Any] = []
    default_boot = cs.handler_for(type(BOOT))
    assert default_boot is not None

    @cs.on(type(BOOT))
    async def boot_then_configure(request: Any, ctx: CallContext) -> Any:
        answer = await default_boot(request, ctx)
        # The link is still Pending/unknown until this answer goes out; GetConfiguration is
        # allowed for an accepted charge point (restored from the store) and while pending.
        fetched.append(await ctx.central_system.core.get_configuration(ctx.charge_point_id))
        return answer

    async with connected(cs) as cp:
        cp.configuration["NumberOfConnectors"] = ("2", True)
        with anyio.fail_after(5):
            answer = await cp.call(BOOT)
    assert answer.status is RegistrationStatus.ACCEPTED
    assert fetched[0].configuration_key == (
        KeyValue(key="NumberOfConnectors", readonly=True, value="2"),
    )


async def test_a_slow_handler_does_not_delay_other_answers() -> None:
    cs = make_central_system()
    release = anyio.Event()

    @cs.on(AuthorizeRequest)
    async def slow(request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
        await release.wait()
        return AuthorizeResponse(id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED))

    cs_end, cp_end = memory_connection_pair()
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, cs_end, "CP1")
        # A charge point that does not wait for its first answer (tolerated, answered by id).
        await cp_end.send('[2,"slow","Authorize",{"idTag":"A"}]')
        await cp_end.send('[2,"fast","Heartbeat",{}]')
        with anyio.fail_after(5):
            first = json.loads(await cp_end.receive())
        # While the handler still waits, our own call goes out and its answer is received.
        group.start_soon(cs.core.reset, "CP1", ResetType.SOFT)
        with anyio.fail_after(5):
            reset = json.loads(await cp_end.receive())
        await cp_end.send(json.dumps([3, reset[1], {"status": "Accepted"}]))
        await wait_until(lambda: len(cs._links["CP1"].driver.pending) == 0)
        release.set()
        with anyio.fail_after(5):
            second = json.loads(await cp_end.receive())
        await cp_end.close()
    assert first[:2] == [3, "fast"]
    assert reset[2] == "Reset"
    assert second[:2] == [3, "slow"]


async def test_wire_errors_for_unknown_unsupported_and_invalid_calls() -> None:
    cs = make_central_system()
    cs.set_handler(MeterValuesRequest, None)
    frames = [
        ('[2,"a","Teleport",{}]', "NotImplemented"),
        ('[2,"b","Reset",{"type":"Soft"}]', "NotSupported"),
        ('[2,"c","MeterValues",{"connectorId":1,"meterValue":[]}]', "OccurenceConstraintViolation"),
        ('[2,"d","Authorize",{}]', "OccurenceConstraintViolation"),
        ('[2,"e","Authorize",{"idTag":5}]', "TypeConstraintViolation"),
        ('[2,"f","Authorize",{"idTag":"' + "x" * 21 + '"}]', "PropertyConstraintViolation"),
        ('[2,"g","Authorize",{"idTag":"a","x":1}]', "FormationViolation"),
        ('[2,"h","Heartbeat",[]]', "FormationViolation"),
        (
            '[2,"i","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z",'
            '"sampledValue":[{"value":"1"}]}]}]',
            "NotSupported",
        ),
        (
            '[2,"j","StatusNotification",{"connectorId":1,"errorCode":"NoError","status":"Busy"}]',
            "PropertyConstraintViolation",
        ),
        ('[2,"k","Heartbeat",{"when":"2026-01-01T00:00:00"}]', "FormationViolation"),
    ]
    replies: dict[str, Any] = {}
    cs_end, cp_end = memory_connection_pair()
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, cs_end, "CP1")
        for text, _ in frames:
            await cp_end.send(text)
        with anyio.fail_after(5):
            while len(replies) < len(frames):
                reply = json.loads(await cp_end.receive())
                replies[reply[1]] = reply
        await cp_end.send('[2,"z","Heartbeat",{}]')
        with anyio.fail_after(5):
            last = json.loads(await cp_end.receive())
        await cp_end.close()
    for (text, code), message_id in zip(frames, "abcdefghijk", strict=True):
        reply = replies[message_id]
        assert reply[0] == 4, text
        assert reply[2] == code, (text, reply)
    assert last[:2] == [3, "z"]
    assert "$.idTag" in replies["f"][3]  # the description names the field's JSON path


async def test_a_call_times_out_and_the_next_one_goes_through() -> None:
    cs = make_central_system(call_timeout=0.05)
    async with connected(cs) as cp:
        cp.answer("Reset", drop=True)
        with pytest.raises(CallTimeout):
            await cs.core.reset("CP1", ResetType.SOFT)
        answer = await cs.core.unlock_connector("CP1", 1)
    assert answer.status is UnlockStatus.UNLOCKED


async def test_only_one_call_is_outstanding_and_the_rest_queue_in_order() -> None:
    cs = make_central_system()
    in_flight = 0
    most = 0
    seen: list[int] = []

    async def unlock(request: Any) -> UnlockConnectorResponse:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        seen.append(request.connector_id)
        await anyio.sleep(0.005)
        in_flight -= 1
        return UnlockConnectorResponse(status=UnlockStatus.UNLOCKED)

    async with connected(cs) as cp:
        cp.answer("UnlockConnector", unlock)
        async with anyio.create_task_group() as group:
            for connector in range(1, 6):
                group.start_soon(cs.core.unlock_connector, "CP1", connector)
                await anyio.sleep(0)
    assert most == 1
    assert seen == [1, 2, 3, 4, 5]


async def test_a_full_queue_is_a_clear_error() -> None:
    cs = make_central_system(max_queued_calls=1)
    async with connected(cs) as cp:
        cp.answer("Reset", drop=True)
        async with anyio.create_task_group() as group:
            group.start_soon(_swallow, cs.core.reset("CP1", ResetType.SOFT))
            group.start_soon(_swallow, cs.core.reset("CP1", ResetType.SOFT))
            await wait_until(lambda: len(cp.received) == 1)
            with pytest.raises(QueueFull):
                await cs.core.reset("CP1", ResetType.SOFT)
            group.cancel_scope.cancel()


async def _swallow(awaitable: Any) -> None:
    with contextlib.suppress(QueueFull, CallTimeout, ConnectionLost):
        await awaitable


async def test_a_disconnect_mid_call_fails_the_call_with_connection_lost() -> None:
    cs = make_central_system()
    failure: list[BaseException] = []

    async def reset() -> None:
        try:
            await cs.core.reset("CP1", ResetType.SOFT)
        except ConnectionLost as error:
            failure.append(error)

    async with connected(cs) as cp:
        cp.answer("Reset", drop=True)
        async with anyio.create_task_group() as group:
            group.start_soon(reset)
            await wait_until(lambda: len(cp.received) == 1)
            await cp.close()
    assert len(failure) == 1


async def test_a_reconnecting_charge_point_replaces_the_old_connection() -> None:
    cs = make_central_system()
    events: list[Any] = []
    cs.observe(events.append)
    failure: list[BaseException] = []
    old_cs, old_cp = memory_connection_pair()
    new_cs, new_cp = memory_connection_pair()

    async def pending_reset() -> None:
        try:
            await cs.core.reset("CP1", ResetType.SOFT)
        except ConnectionLost as error:
            failure.append(error)

    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, old_cs, "CP1")
        old = ChargePointSimulator("CP1", old_cp)
        old.answer("Reset", drop=True)
        async with old.running():
            await wait_until(lambda: cs.is_connected("CP1"))
            group.start_soon(pending_reset)
            await wait_until(lambda: len(old.received) == 1)
            group.start_soon(cs.serve, new_cs, "CP1")
            new = ChargePointSimulator("CP1", new_cp)
            async with new.running():
                await wait_until(lambda: len(failure) == 1)
                with anyio.fail_after(5):
                    await old.closed.wait()
                assert (await cs.core.unlock_connector("CP1", 1)).status is UnlockStatus.UNLOCKED
                assert len(new.received) == 1
    assert ChargePointDisconnected("CP1", replaced=True) in events
    assert events.count(ChargePointConnected("CP1")) == 2


async def test_an_answer_to_no_call_is_reported_and_ignored() -> None:
    cs = make_central_system()
    events: list[Any] = []
    cs.observe(events.append)
    async with connected(cs) as cp:
        await cp.send_raw('[3,"nobody-asked",{}]')
        await cp.send_raw("this is not json")
        assert (await cp.call(HeartbeatRequest())).current_time is not None
        await wait_until(
            lambda: len([e for e in events if isinstance(e, PeerViolationObserved)]) == 2
        )
    reports = [e for e in events if isinstance(e, PeerViolationObserved)]
    assert reports[0].message_id == "nobody-asked"
    assert reports[1].message_id is None


async def test_observers_see_every_exchange_in_both_directions() -> None:
    cs = make_central_system()
    exchanges: list[Exchange] = []

    async def observer(event: Any) -> None:
        if isinstance(event, Exchange):
            exchanges.append(event)

    cs.observe(observer)
    cs.observe(lambda event: 1 / 0)  # a broken observer is logged, nothing else breaks
    async with connected(cs) as cp:
        await cp.call(HeartbeatRequest())
        await cs.core.reset("CP1", ResetType.SOFT)
    inbound, outbound = exchanges
    assert inbound.direction is Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM
    assert isinstance(inbound.response, HeartbeatResponse)
    assert outbound.direction is Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT
    assert outbound.request.action == "Reset"
    assert outbound.error is None


async def test_a_pending_charge_point_may_only_be_configured_and_triggered() -> None:
    cs = make_central_system(
        charge_points=(), unknown_charge_points=UnknownChargePointPolicy.PENDING
    )
    async with connected(cs, "NEW") as cp:
        assert (await cp.call(BOOT)).status is RegistrationStatus.PENDING
        with pytest.raises(ChargePointNotAccepted):
            await cs.core.reset("NEW", ResetType.SOFT)
        await cs.core.get_configuration("NEW")
        # Heartbeats are answered while pending; a transaction is not.
        assert (await cp.call(HeartbeatRequest())).current_time is not None
        with pytest.raises(CallErrorReceived):
            await cp.call(
                StartTransactionRequest(
                    connector_id=1, id_tag="T", meter_start=0, timestamp=BOOT_TIME
                )
            )
    assert [type(r) for r in cp.received] == [GetConfigurationRequest]


async def test_nothing_is_sent_before_a_boot() -> None:
    cs = make_central_system(charge_points=())
    async with connected(cs, "NEW") as cp:
        with pytest.raises(ChargePointNotAccepted):
            await cs.core.get_configuration("NEW")
    assert cp.received == []


from harness import T0 as BOOT_TIME  # noqa: E402


async def test_relaxed_rules_accept_a_fleet_quirk_and_log_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ocpp16csms import (
        Relaxation,
        RelaxedRule,
        ValidationPolicy,
    )
    from ocpp16csms.messages import Measurand

    policy = ValidationPolicy(
        relaxations=[
            Relaxation(
                rule=RelaxedRule.MAX_LENGTH,
                field="chargePointSerialNumber",
                action="BootNotification",
                models=frozenset({"Volt 22"}),
            ),
            Relaxation(
                rule=RelaxedRule.ENUM,
                field="meterValue.sampledValue.measurand",
                charge_point_ids=frozenset({"CP1"}),
            ),
        ]
    )
    cs = make_central_system(charge_points=("CP1", "CP2"), validation=policy)
    serial = "S" * 30
    boot = '[2,"b1","BootNotification",{"chargePointVendor":"Acme","chargePointModel":"%s","chargePointSerialNumber":"%s"}]'
    meter = '[2,"m1","MeterValues",{"connectorId":1,"meterValue":[{"timestamp":"2026-01-01T00:00:00Z","sampledValue":[{"value":"1","measurand":"Energy.Fancy"}]}]}]'
    replies: dict[str, Any] = {}
    for cp_id, model in (("CP1", "Volt 22"), ("CP2", "Other")):
        cs_end, cp_end = memory_connection_pair()
        async with anyio.create_task_group() as group:
            group.start_soon(cs.serve, cs_end, cp_id)
            with caplog.at_level(logging.WARNING, logger="ocpp16csms"):
                await cp_end.send(boot % (model, serial))
                with anyio.fail_after(5):
                    replies[f"{cp_id} boot"] = json.loads(await cp_end.receive())
                await cp_end.send(meter)
                with anyio.fail_after(5):
                    replies[f"{cp_id} meter"] = json.loads(await cp_end.receive())
            await cp_end.close()
    assert replies["CP1 boot"][0] == 3  # relaxed for this model: accepted
    assert replies["CP1 meter"][0] == 3  # relaxed for this charge point
    assert replies["CP2 boot"][:3] == [4, "b1", "PropertyConstraintViolation"]
    assert replies["CP2 meter"][:3] == [4, "m1", "PropertyConstraintViolation"]  # strict here
    record = await cs.stores.charge_points.get("CP1")
    assert record is not None
    assert record.boot is not None
    assert record.boot.charge_point_serial_number == serial  # kept whole, nothing cut
    stored = await cs.stores.transactions.meter_values("CP1")
    measurand = stored[0].meter_value.sampled_value[0].measurand
    assert measurand == "Energy.Fancy"
    assert not isinstance(measurand, Measurand)
    relaxed = [r for r in caplog.records if "relaxed" in r.getMessage()]
    assert {r.charge_point_id for r in relaxed} == {"CP1"}  # type: ignore[attr-defined]
    assert all(r.message_id for r in relaxed)  # type: ignore[attr-defined]


async def test_records_about_a_message_carry_its_ids_even_without_extra(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from ocpp16csms.messages import (
        ChargePointErrorCode,
        ChargePointStatus,
        StatusNotificationRequest,
    )

    cs = make_central_system()

    def status(minute: int) -> StatusNotificationRequest:
        return StatusNotificationRequest(
            connector_id=1,
            error_code=ChargePointErrorCode.NO_ERROR,
            status=ChargePointStatus.AVAILABLE,
            timestamp=BOOT_TIME.replace(minute=minute),
        )

    async with connected(cs) as cp:
        with caplog.at_level(logging.INFO, logger="ocpp16csms"):
            await cp.call(status(5))
            await cp.call(status(1))  # older: the handler logs that it is ignored
    ignored = [r for r in caplog.records if "older status" in r.getMessage()]
    assert len(ignored) == 1
    assert ignored[0].charge_point_id == "CP1"  # type: ignore[attr-defined]
    assert isinstance(ignored[0].message_id, str)  # type: ignore[attr-defined]
    assert ignored[0].message_id in ignored[0].getMessage()  # type: ignore[attr-defined]


async def test_a_store_failure_on_connect_closes_the_connection_cleanly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    import attrs

    base = memory_stores()

    class DownChargePoints:
        def __getattr__(self, name: str) -> Any:
            async def fail(*args: Any, **kwargs: Any) -> Any:
                raise ConnectionError("database unavailable")

            return fail

    cs = make_central_system(stores=attrs.evolve(base, charge_points=DownChargePoints()))
    cs_end, cp_end = memory_connection_pair()
    with caplog.at_level(logging.ERROR, logger="ocpp16csms"), anyio.fail_after(5):
        await cs.serve(cs_end, "CP1")
    assert cs_end.close_code == 1011
    assert not cs.is_connected("CP1")
    assert "store failed" in caplog.text
    await cp_end.close()


async def test_spawn_runs_background_jobs_and_contains_their_failures(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system()
    ran = anyio.Event()

    async def fails() -> None:
        raise RuntimeError("boom")

    async def works(event: anyio.Event) -> None:
        event.set()

    with pytest.raises(RuntimeError, match="not running"):
        cs.spawn(works, ran)
    assert not cs.is_running
    async with cs:
        assert cs.is_running
        with caplog.at_level(logging.ERROR, logger="ocpp16csms"):
            cs.spawn(fails)
            cs.spawn(works, ran)
            with anyio.fail_after(5):
                await ran.wait()
            await anyio.sleep(0.01)
    assert "background job" in caplog.text
    assert not cs.is_running


async def test_a_frame_buffered_when_the_link_is_aborted_is_not_processed() -> None:
    from ocpp16csms import MemoryConnection

    class HoldingConnection(MemoryConnection):
        """Delivers one frame only after the central system aborted the link."""

        def __init__(self, inner: MemoryConnection, release: anyio.Event) -> None:
            super().__init__(inner._incoming, inner._outgoing)
            self.release = release

        async def receive(self) -> str:
            await self.release.wait()
            return '[2,"late","Heartbeat",{}]'

    cs = make_central_system()
    release = anyio.Event()
    cs_end, cp_end = memory_connection_pair()
    connection = HoldingConnection(cs_end, release)
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, connection, "CP1")
        await wait_until(lambda: cs.is_connected("CP1"))
        cs._links["CP1"].driver.abort()  # what disconnect() and a replacement do first
        release.set()
        with anyio.fail_after(5):
            await wait_until(lambda: not cs.is_connected("CP1"))
    await cp_end.close()


class _Ready:
    """An awaitable that is no coroutine, completing at once with ``value``."""

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Any:
        return self.value
        yield  # a generator: the awaitable protocol


@pytest.mark.parametrize("first_call", [True, False], ids=["first call", "later call"])
@pytest.mark.parametrize("failure", ["raises", "ocpp error", "wrong type", "waits too long"])
async def test_every_handler_failure_gets_its_answer_on_every_path(
    first_call: bool, failure: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The first CALL of a connection also writes last-seen (the full path); later ones take
    # the short path, where the handler's own coroutine is the job. Both answer alike.
    from ocpp16csms.errors import SecurityError

    cs = make_central_system(handler_timeout=0.2)

    async def handler(request: AuthorizeRequest, ctx: CallContext) -> Any:
        if failure == "raises":
            raise RuntimeError("boom")
        if failure == "ocpp error":
            raise SecurityError("not you")
        if failure == "waits too long":
            await anyio.sleep(5)
        return HeartbeatResponse(current_time=ctx.received_at)

    cs.set_handler(AuthorizeRequest, handler)
    async with connected(cs) as cp:
        if not first_call:
            await cp.call(HeartbeatRequest())
        with caplog.at_level(logging.ERROR, logger="ocpp16csms"):
            with pytest.raises(CallErrorReceived) as refused:
                await cp.call(AuthorizeRequest(id_tag="X"))
        assert (await cp.call(HeartbeatRequest())).current_time is not None
    expected = "SecurityError" if failure == "ocpp error" else "InternalError"
    assert refused.value.code == expected


@pytest.mark.parametrize("first_call", [True, False], ids=["first call", "later call"])
async def test_a_handler_may_return_an_awaitable_that_is_no_coroutine(first_call: bool) -> None:
    cs = make_central_system()
    answer = AuthorizeResponse(id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED))

    def handler(request: AuthorizeRequest, ctx: CallContext) -> Any:
        return _Ready(answer)

    # What inspect.markcoroutinefunction (3.12) lets through set_handler: put in place as is.
    cs._handlers["Authorize"] = handler
    async with connected(cs) as cp:
        if not first_call:
            await cp.call(HeartbeatRequest())
        assert await cp.call(AuthorizeRequest(id_tag="X")) == answer


@pytest.mark.parametrize("first_call", [True, False], ids=["first call", "later call"])
@pytest.mark.parametrize(
    "hook_does", ["waits briefly", "raises", "ocpp error", "waits too long", "no coroutine"]
)
async def test_answer_hooks_run_in_order_before_the_answer_on_every_path(
    first_call: bool, hook_does: str
) -> None:
    from ocpp16csms.errors import SecurityError

    cs = make_central_system(handler_timeout=0.3)
    ran: list[str] = []

    async def first(request: AuthorizeRequest, response: Any, ctx: CallContext) -> None:
        ran.append("first")
        if hook_does == "waits briefly":
            await anyio.sleep(0.01)
        elif hook_does == "raises":
            raise RuntimeError("boom")
        elif hook_does == "ocpp error":
            raise SecurityError("not you")
        elif hook_does == "waits too long":
            await anyio.sleep(5)

    async def second(request: AuthorizeRequest, response: Any, ctx: CallContext) -> None:
        ran.append("second")

    cs.add_answer_hook(AuthorizeRequest, first)
    if hook_does == "no coroutine":
        cs._answer_hooks["Authorize"].append(lambda request, response, ctx: _Ready(None))
    cs.add_answer_hook(AuthorizeRequest, second)
    async with connected(cs) as cp:
        if not first_call:
            await cp.call(HeartbeatRequest())
        if hook_does in ("waits briefly", "no coroutine"):
            answer = await cp.call(AuthorizeRequest(id_tag="X"))
            assert answer.id_tag_info.status is not None
            assert ran == ["first", "second"]
        else:
            with pytest.raises(CallErrorReceived) as refused:
                await cp.call(AuthorizeRequest(id_tag="X"))
            expected = "SecurityError" if hook_does == "ocpp error" else "InternalError"
            assert refused.value.code == expected
            assert ran == ["first"]  # a failing hook stops the ones after it
        assert (await cp.call(HeartbeatRequest())).current_time is not None
