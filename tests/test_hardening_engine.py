"""Nothing a peer or a slow store does can stall, kill or poison the central system (issue #11):
bounded concurrency, deadlines for handlers and store calls, queue time counted in the call
timeout, foreign cancellations, replacements that do not wait for a dead peer."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from harness import make_central_system, wait_until
from ocpp16csms import (
    CallContext,
    CallTimeout,
    CentralSystem,
    CentralSystemOptions,
    MemoryConnection,
    memory_connection_pair,
)
from ocpp16csms.messages import (
    DataTransferRequest,
    DataTransferResponse,
    DataTransferStatus,
    HeartbeatRequest,
    HeartbeatResponse,
    ResetRequest,
    ResetType,
)
from ocpp16csms.session import Session

pytestmark = pytest.mark.anyio

RESET = ResetRequest(type=ResetType.SOFT)


@asynccontextmanager
async def served(
    cs: CentralSystem, charge_point_id: str = "CP1"
) -> AsyncIterator[MemoryConnection]:
    """The charge point's raw end of a connection the central system serves."""
    ours, theirs = memory_connection_pair()
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, ours, charge_point_id)
        await wait_until(lambda: cs.is_connected(charge_point_id))
        yield theirs
        await theirs.close()


async def reply(peer: MemoryConnection, timeout: float = 5.0) -> list[Any]:
    with anyio.fail_after(timeout):
        frame: list[Any] = json.loads(await peer.receive())
    return frame


async def heartbeat_works(peer: MemoryConnection) -> None:
    await peer.send('[2,"probe","Heartbeat",{}]')
    answer = await reply(peer)
    assert answer[:2] == [3, "probe"]


# --- 4. concurrent handlers per connection ---------------------------------------------------


def test_the_session_answers_calls_beyond_the_cap_at_once_without_validating() -> None:
    session = Session("CP1", max_concurrent_calls=2)
    session.receive_text('[2,"a","Heartbeat",{}]', now=0)
    session.receive_text('[2,"b","Heartbeat",{}]', now=0)
    events = session.receive_text('[2,"c","Heartbeat",{"bogus":1}]', now=0)
    (frame,) = [json.loads(t) for t in session.outgoing()]
    assert frame[:3] == [4, "c", "GenericError"]
    assert "busy" in frame[3]
    assert events[0].error.code == "GenericError"
    assert session.unanswered_calls == {"a", "b"}
    session.send_result("a", HeartbeatResponse(current_time=_noon()))
    session.outgoing()
    assert [type(e).__name__ for e in session.receive_text('[2,"d","Heartbeat",{}]', 0)] == [
        "CallReceived"
    ]


def _noon() -> Any:
    from datetime import UTC, datetime

    return datetime(2024, 1, 1, 12, tzinfo=UTC)


async def test_ten_thousand_pipelined_calls_are_each_answered_once_with_a_bounded_cap() -> None:
    cs = make_central_system(max_concurrent_calls=4)
    release = anyio.Event()
    running = [0]
    most = [0]

    @cs.on(HeartbeatRequest)
    async def slow(request: HeartbeatRequest, context: CallContext) -> HeartbeatResponse:
        running[0] += 1
        most[0] = max(most[0], running[0])
        await release.wait()
        running[0] -= 1
        return HeartbeatResponse(current_time=context.received_at)

    count = 10_000
    answers: dict[str, list[Any]] = {}
    started = anyio.current_time()
    async with served(cs) as peer:
        for i in range(count):
            await peer.send(f'[2,"{i}","Heartbeat",{{}}]')
        with anyio.fail_after(20):
            while len(answers) < count - 4:
                frame = json.loads(await peer.receive())
                answers[frame[1]] = frame
            release.set()
            while len(answers) < count:
                frame = json.loads(await peer.receive())
                assert frame[1] not in answers
                answers[frame[1]] = frame
    elapsed = anyio.current_time() - started
    kinds = [frame[0] for frame in answers.values()]
    assert kinds.count(3) == 4
    assert kinds.count(4) == count - 4
    assert {frame[2] for frame in answers.values() if frame[0] == 4} == {"GenericError"}
    assert most[0] == 4
    assert elapsed < 15


# --- 4. deadlines --------------------------------------------------------------------------


async def test_a_handler_that_hangs_is_answered_internal_error_after_handler_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system(handler_timeout=0.2)

    @cs.on(DataTransferRequest)
    async def hang(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async with served(cs) as peer:
        started = anyio.current_time()
        await peer.send('[2,"d1","DataTransfer",{"vendorId":"v"}]')
        answer = await reply(peer)
        assert answer[:3] == [4, "d1", "InternalError"]
        assert 0.2 <= anyio.current_time() - started < 2
        await heartbeat_works(peer)
    assert any(
        "d1" in record.getMessage() and "0.2" in record.getMessage() for record in caplog.records
    )


async def test_a_handler_hanging_inside_its_own_cancel_scope_still_meets_the_deadline() -> None:
    """The handler deadline reaches through scopes the handler opened itself (a store's own
    timeout, say), and the handler's own later timeouts are not disturbed by it."""
    cs = make_central_system(handler_timeout=0.2)

    @cs.on(DataTransferRequest)
    async def hang(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        with anyio.move_on_after(30):
            with anyio.CancelScope():
                await anyio.sleep_forever()
        raise AssertionError("the scope above must not swallow the handler deadline")

    async with served(cs) as peer:
        started = anyio.current_time()
        await peer.send('[2,"d1","DataTransfer",{"vendorId":"v"}]')
        assert (await reply(peer))[:3] == [4, "d1", "InternalError"]
        assert anyio.current_time() - started < 2
        await heartbeat_works(peer)


async def test_a_handler_that_swallows_its_deadline_and_answers_is_answered_once() -> None:
    """A handler that catches the cancellation and answers anyway: its answer stands, once,
    and nothing in the task stays cancelled afterwards (the after hook still runs)."""
    cs = make_central_system(handler_timeout=0.2)
    hooked: list[str] = []

    @cs.on(DataTransferRequest)
    async def stubborn(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        try:
            await anyio.sleep_forever()
        except anyio.get_cancelled_exc_class():
            pass
        return DataTransferResponse(status=DataTransferStatus.ACCEPTED, data="late")

    @cs.after(DataTransferRequest)
    async def hook(
        request: DataTransferRequest, response: DataTransferResponse, context: CallContext
    ) -> None:
        await anyio.sleep(0.01)  # would raise at once if a cancel request were still pending
        hooked.append(context.message_id)

    async with served(cs) as peer:
        await peer.send('[2,"d1","DataTransfer",{"vendorId":"v"}]')
        assert await reply(peer) == [3, "d1", {"status": "Accepted", "data": "late"}]
        await wait_until(lambda: hooked == ["d1"])
        await heartbeat_works(peer)


async def test_many_handlers_past_their_deadline_each_get_one_internal_error() -> None:
    cs = make_central_system(handler_timeout=0.2, max_concurrent_calls=50)

    @cs.on(DataTransferRequest)
    async def hang(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    async with served(cs) as peer:
        for n in range(20):
            await peer.send(f'[2,"d{n}","DataTransfer",{{"vendorId":"v"}}]')
        answers = [await reply(peer) for _ in range(20)]
        assert sorted(a[1] for a in answers) == sorted(f"d{n}" for n in range(20))
        assert {a[2] for a in answers} == {"InternalError"}
        await heartbeat_works(peer)


async def test_a_store_lookup_that_hangs_in_serve_closes_the_connection_with_1011() -> None:
    cs = make_central_system(store_timeout=0.2)

    async def hang(charge_point_id: str) -> None:
        await anyio.sleep_forever()

    cs.stores.charge_points.get = hang  # type: ignore[method-assign]
    ours, theirs = memory_connection_pair()
    with anyio.fail_after(3):
        await cs.serve(ours, "CP1")
    await theirs.close()
    assert ours.close_code == 1011


async def test_an_after_hook_that_hangs_is_given_up_after_handler_timeout(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system(handler_timeout=0.2)
    done = anyio.Event()

    @cs.after(HeartbeatRequest)
    async def hang(request: Any, response: Any, context: CallContext) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            done.set()

    async with served(cs) as peer:
        await heartbeat_works(peer)
        with anyio.fail_after(2):
            await done.wait()
    assert any("after hook" in r.getMessage() for r in caplog.records)


# --- 5. queue time counts ------------------------------------------------------------------


async def test_a_queued_call_times_out_call_timeout_after_it_was_made() -> None:
    cs = make_central_system(call_timeout=0.3)
    outcomes: list[tuple[str, float]] = []

    async with served(cs) as peer:  # a mute charge point: it reads nothing, answers nothing
        started = anyio.current_time()

        async def one() -> None:
            try:
                await cs.call("CP1", RESET)
            except CallTimeout as timeout:
                outcomes.append((timeout.message_id, anyio.current_time() - started))

        async with anyio.create_task_group() as group:
            for _ in range(5):
                group.start_soon(one)
        assert peer is not None
    assert len(outcomes) == 5
    # Without counting queue time the fifth call would wait 5 × 0.3 s.
    assert max(elapsed for _, elapsed in outcomes) < 0.9


# --- 6. a CancelledError that is not ours ---------------------------------------------------


async def test_a_store_raising_its_own_cancelled_error_is_an_internal_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system()

    @cs.on(DataTransferRequest)
    async def leaky(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        await anyio.sleep(0)
        raise asyncio.CancelledError  # e.g. a database driver's own timeout leaking out

    async with served(cs) as peer:
        await peer.send('[2,"d1","DataTransfer",{"vendorId":"v"}]')
        answer = await reply(peer)
        assert answer[:3] == [4, "d1", "InternalError"]
        await heartbeat_works(peer)
        assert cs.is_connected("CP1")
    assert any(r.levelno >= logging.ERROR and "d1" in r.getMessage() for r in caplog.records)


async def test_a_real_cancellation_still_stops_a_handler() -> None:
    cs = make_central_system(handler_grace=0.1)
    cancelled = anyio.Event()

    @cs.on(DataTransferRequest)
    async def slow(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.set()
        raise AssertionError("unreachable")

    ours, theirs = memory_connection_pair()
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, ours, "CP1")
        await theirs.send('[2,"d1","DataTransfer",{"vendorId":"v"}]')
        await anyio.sleep(0.05)
        await theirs.close()
        with anyio.fail_after(2):
            await cancelled.wait()
    assert not cs.is_connected("CP1")


async def test_a_handler_running_when_the_connection_ends_finishes_within_the_grace() -> None:
    """What it stores still lands; serve returns only once it did; its reply is dropped."""
    cs = make_central_system(handler_grace=2.0)
    stored: list[str] = []
    release = anyio.Event()

    @cs.on(DataTransferRequest)
    async def slow(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        await release.wait()
        await anyio.sleep(0.01)
        stored.append(context.message_id)
        return DataTransferResponse(status=DataTransferStatus.ACCEPTED)

    ours, theirs = memory_connection_pair()
    served_until: list[float] = []

    async def serve() -> None:
        await cs.serve(ours, "CP1")
        served_until.append(anyio.current_time())

    async with anyio.create_task_group() as group:
        group.start_soon(serve)
        await theirs.send('[2,"d1","DataTransfer",{"vendorId":"v"}]')
        await anyio.sleep(0.05)
        await theirs.close()
        await anyio.sleep(0.1)
        assert served_until == []  # waiting for the handler, within its grace
        release.set()
    assert stored == ["d1"]
    assert len(served_until) == 1


def hanging_data_transfer(grace: float) -> tuple[CentralSystem, anyio.Event, anyio.Event]:
    """A central system whose DataTransfer handler hangs: (it, handler started, ended)."""
    cs = make_central_system(handler_grace=grace)
    started, ended = anyio.Event(), anyio.Event()

    @cs.on(DataTransferRequest)
    async def hang(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        started.set()
        try:
            await anyio.sleep_forever()
        finally:
            ended.set()
        raise AssertionError("unreachable")

    return cs, started, ended


async def test_cancelling_serve_cancels_its_handlers_before_it_returns() -> None:
    cs, started, ended = hanging_data_transfer(grace=30.0)
    ours, theirs = memory_connection_pair()
    with anyio.fail_after(3):  # the 30 s grace is not waited for on a cancellation
        async with anyio.create_task_group() as group:
            group.start_soon(cs.serve, ours, "CP1")
            await theirs.send('[2,"d1","DataTransfer",{"vendorId":"v"}]')
            await started.wait()
            group.cancel_scope.cancel()
        assert ended.is_set()  # no handler outlives serve
    assert not cs.is_connected("CP1")
    await theirs.close()


async def test_cancelling_serve_during_the_grace_cancels_the_handlers_at_once() -> None:
    """The connection ended and a handler has its grace; the host then shuts down: the
    handler is cancelled at once, not after the rest of the grace."""
    cs, started, ended = hanging_data_transfer(grace=30.0)
    ours, theirs = memory_connection_pair()
    with anyio.fail_after(3):
        async with anyio.create_task_group() as group:
            group.start_soon(cs.serve, ours, "CP1")
            await theirs.send('[2,"d1","DataTransfer",{"vendorId":"v"}]')
            await started.wait()
            await theirs.close()  # serve now waits up to 30 s for the handler
            await anyio.sleep(0.1)
            assert not ended.is_set()
            group.cancel_scope.cancel()
        assert ended.is_set()


# --- 9. a replacement does not wait for the old peer ---------------------------------------


class StuckClose(MemoryConnection):
    """A connection to a dead peer: the close that tells it it was replaced never completes."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if "replaced" in reason:
            await anyio.sleep_forever()
        await super().close(code, reason)


async def test_a_replacement_is_served_at_once_when_the_old_peer_is_dead() -> None:
    cs = make_central_system()
    old_ours, old_theirs = memory_connection_pair()
    stuck = StuckClose(old_ours._incoming, old_ours._outgoing)
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, stuck, "CP1")
        await wait_until(lambda: cs.is_connected("CP1"))
        async with served(cs) as peer:
            started = anyio.current_time()
            await peer.send(
                '[2,"b1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
            )
            answer = await reply(peer, timeout=3)
            assert answer[:2] == [3, "b1"]
            assert anyio.current_time() - started < 1.0
        await old_theirs.close()


# --- 1. encoding never kills a link ---------------------------------------------------------


async def test_an_answer_that_cannot_be_sent_becomes_internal_error() -> None:
    cs = make_central_system()

    @cs.on(DataTransferRequest)
    async def echo(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        return DataTransferResponse(status=DataTransferStatus.ACCEPTED, data=request.data)

    async with served(cs) as peer:
        await peer.send('[2,"d1","DataTransfer",{"vendorId":"v","data":"\\ud800"}]')
        answer = await reply(peer)
        assert answer[:3] == [4, "d1", "InternalError"]
        await peer.send('[2,"x","Heartbeat",{"\\udfff":1}]')
        answer = await reply(peer)
        assert answer[:3] == [4, "x", "FormationViolation"]
        await heartbeat_works(peer)


class PickyConnection(MemoryConnection):
    """A transport that refuses to send frames mentioning "refuse-me" (UTF-8 trouble)."""

    async def send(self, text: str) -> None:
        if "refuse-me" in text:
            raise UnicodeEncodeError("utf-8", text, 0, 1, "surrogates not allowed")
        await super().send(text)


async def test_a_transport_encode_error_drops_the_frame_not_the_link(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system()
    ours, theirs = memory_connection_pair()
    picky = PickyConnection(ours._incoming, ours._outgoing)
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, picky, "CP1")
        await theirs.send('[2,"refuse-me","Heartbeat",{}]')
        await heartbeat_works(theirs)
        assert cs.is_connected("CP1")
        await theirs.close()
    assert any("dropped" in r.getMessage() for r in caplog.records)


def test_the_new_options_are_checked() -> None:
    for name in ("handler_timeout", "store_timeout"):
        with pytest.raises(ValueError, match=name):
            CentralSystemOptions(**{name: 0})
    with pytest.raises(ValueError, match="max_concurrent_calls"):
        CentralSystemOptions(max_concurrent_calls=0)
    options = CentralSystemOptions()
    assert (options.handler_timeout, options.store_timeout, options.max_concurrent_calls) == (
        30.0,
        10.0,
        8,
    )


# --- shutdown, disconnect and observers are bounded too ------------------------------------


class StuckShutdown(MemoryConnection):
    """A dead peer: no close ever completes."""

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await anyio.sleep_forever()


async def test_closing_dead_peers_is_bounded_and_concurrent(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import ocpp16csms._guard as guard

    monkeypatch.setattr(guard, "CLOSE_TIMEOUT", 0.2)
    cs = make_central_system(charge_points=("A", "B", "C"))
    pairs = [memory_connection_pair() for _ in range(3)]
    async with anyio.create_task_group() as group:
        for name, (ours, _) in zip("ABC", pairs, strict=True):
            group.start_soon(cs.serve, StuckShutdown(ours._incoming, ours._outgoing), name)
        await wait_until(lambda: len(cs.connected_charge_points) == 3)
        started = anyio.current_time()
        await cs.disconnect("A")
        assert 0.2 <= anyio.current_time() - started < 0.5
        started = anyio.current_time()
        await cs.aclose()
        assert anyio.current_time() - started < 0.5  # one bound for all, not one each
        group.cancel_scope.cancel()
    for ours, theirs in pairs:
        await MemoryConnection.close(ours)
        await theirs.close()


async def test_a_hanging_observer_does_not_hold_up_the_charge_point(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system(handler_timeout=0.2)

    @cs.observe
    async def hang(event: object) -> None:
        await anyio.sleep_forever()

    async with served(cs) as peer:
        started = anyio.current_time()
        await heartbeat_works(peer)
        assert anyio.current_time() - started < 2
    assert any(
        "observer" in r.getMessage() and "given up" in r.getMessage() for r in caplog.records
    )
