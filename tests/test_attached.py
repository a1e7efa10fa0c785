"""CentralSystem.attach: frames pushed in by the host, answers out through its sender.

The same protocol as ``serve`` (a differential property checks that both answer any sequence
of frames alike), plus what is its own: the answer is out before ``receive`` returns, the
call timer runs in the attach block, a replaced or disconnected connection drops frames, a
store that fails refuses the attach, and a cancelled host still answers the CALL.
"""

from __future__ import annotations

import json
from typing import Any

import anyio
import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from harness import make_central_system
from ocpp16csms import (
    AttachedConnection,
    CallContext,
    CallTimeout,
    ChargePointConnected,
    ChargePointDisconnected,
    FrameSender,
    StoreError,
    TransportClosed,
    memory_connection_pair,
    memory_stores,
)
from ocpp16csms.enums import ResetStatus, ResetType
from ocpp16csms.messages import DataTransferRequest, DataTransferResponse, DataTransferStatus

pytestmark = pytest.mark.anyio


class Sink:
    """A sender that keeps what it was given."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None

    async def send(self, text: str) -> None:
        self.sent.append(text)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self.closed = self.closed or (code, reason)

    def frames(self) -> list[Any]:
        taken, self.sent = self.sent, []
        return [json.loads(text) for text in taken]


def test_a_sink_is_a_frame_sender() -> None:
    assert isinstance(Sink(), FrameSender)


async def test_a_call_is_answered_before_receive_returns() -> None:
    cs = make_central_system()
    sink = Sink()
    async with cs.attach("CP1", sink) as connection:
        assert isinstance(connection, AttachedConnection)
        assert connection.charge_point_id == "CP1"
        await connection.receive('[2,"h1","Heartbeat",{}]')
        [answer] = sink.frames()
        assert answer[:2] == [3, "h1"]
        assert answer[2]["currentTime"].endswith("Z")
        await connection.receive(b'[2,"a1","Authorize",{"idTag":"NOPE"}]')
        [answer] = sink.frames()
        assert answer == [3, "a1", {"idTagInfo": {"status": "Invalid"}}]
    assert connection.closed
    assert sink.closed == (1000, "")


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ('[2,"b1","Heartbeat",{"x":1}]', "FormationViolation"),
        ('[2,"b2","Nope",{}]', "NotImplemented"),
        ('[2,"b3","Reset",{"type":"Hard"}]', "NotSupported"),
        ('[2,"b4","StatusNotification",{"connectorId":"1"}', "FormationViolation"),
        ('[2,"b5","Authorize",{"idTag":5}]', "TypeConstraintViolation"),
    ],
)
async def test_a_bad_call_gets_its_call_error_and_nothing_is_raised(text: str, code: str) -> None:
    cs = make_central_system()
    sink = Sink()
    async with cs.attach("CP1", sink) as connection:
        await connection.receive(text)
        [answer] = sink.frames()
        assert answer[0] == 4
        assert answer[2] == code
        await connection.receive("not json at all")  # nothing to answer, nothing raised
        assert sink.frames() == []
        assert not connection.closed


async def test_our_call_is_answered_by_a_pushed_frame() -> None:
    cs = make_central_system()
    sink = Sink()
    outcome: list[ResetStatus] = []
    async with cs.attach("CP1", sink) as connection, anyio.create_task_group() as group:

        async def reset() -> None:
            outcome.append((await cs.core.reset("CP1", ResetType.SOFT)).status)

        group.start_soon(reset)
        with anyio.fail_after(5):
            while not sink.sent:
                await anyio.sleep(0.001)
        [call] = sink.frames()
        assert call[0] == 2
        assert call[2] == "Reset"
        await connection.receive(json.dumps([3, call[1], {"status": "Accepted"}]))
    assert outcome == [ResetStatus.ACCEPTED]


async def test_our_call_times_out_without_an_answer() -> None:
    cs = make_central_system(call_timeout=0.2)
    sink = Sink()
    async with cs.attach("CP1", sink):
        with anyio.fail_after(5), pytest.raises(CallTimeout):
            await cs.core.reset("CP1", ResetType.SOFT)
        [call] = sink.frames()
        assert call[2] == "Reset"
        # The timed-out call no longer blocks the next one.
        async with anyio.create_task_group() as group:
            group.start_soon(cs.core.reset, "CP1", ResetType.HARD)
            with anyio.fail_after(5):
                while not sink.sent:
                    await anyio.sleep(0.001)
            group.cancel_scope.cancel()


async def test_a_newer_connection_replaces_the_attached_one() -> None:
    cs = make_central_system()
    events: list[object] = []
    cs.observe(events.append)
    first, second = Sink(), Sink()
    async with cs.attach("CP1", first) as old:
        async with cs.attach("CP1", second) as new:
            assert old.closed
            assert not new.closed
            with anyio.fail_after(5):
                while first.closed is None:
                    await anyio.sleep(0.001)
            assert first.closed == (1000, "replaced by a new connection")
            await old.receive('[2,"h1","Heartbeat",{}]')  # dropped
            await new.receive('[2,"h2","Heartbeat",{}]')
            assert first.sent == []
            assert [f[1] for f in second.frames()] == ["h2"]
            assert cs.connected_charge_points == frozenset({"CP1"})
    assert cs.connected_charge_points == frozenset()
    links = [e for e in events if isinstance(e, ChargePointConnected | ChargePointDisconnected)]
    assert [type(e) for e in links] == [
        ChargePointConnected,
        ChargePointConnected,
        ChargePointDisconnected,  # the newer, whose block ended first
        ChargePointDisconnected,
    ]
    assert [e.replaced for e in links if isinstance(e, ChargePointDisconnected)] == [False, True]


async def test_disconnect_closes_the_sender_and_drops_later_frames() -> None:
    cs = make_central_system()
    sink = Sink()
    async with cs.attach("CP1", sink) as connection:
        await cs.disconnect("CP1", "bye")
        assert connection.closed
        assert sink.closed == (1000, "bye")
        await connection.receive('[2,"h1","Heartbeat",{}]')
        assert sink.sent == []


class GoneSink(Sink):
    """A sender whose peer is gone."""

    async def send(self, text: str) -> None:
        raise TransportClosed(1006, "gone")


async def test_a_sender_whose_peer_is_gone_closes_the_connection_quietly() -> None:
    cs = make_central_system()
    sink = GoneSink()
    async with cs.attach("CP1", sink) as connection:
        await connection.receive('[2,"h1","Heartbeat",{}]')  # nothing raised
        assert connection.closed
        assert not cs.is_connected("CP1")
        await connection.receive('[2,"h2","Heartbeat",{}]')  # dropped


class BrokenSink(Sink):
    """A sender with a bug of its own."""

    async def send(self, text: str) -> None:
        raise OSError("the host's sender broke")


async def test_what_the_sender_raises_otherwise_reaches_the_host() -> None:
    cs = make_central_system()
    async with cs.attach("CP1", BrokenSink()) as connection:
        with pytest.raises(OSError, match="sender broke"):
            await connection.receive('[2,"h1","Heartbeat",{}]')


class FailingChargePoints:
    """A charge point store whose every read fails."""

    def __getattr__(self, name: str) -> Any:
        async def fail(*args: Any, **kwargs: Any) -> Any:
            raise OSError("database down")

        return fail


async def test_a_failing_store_refuses_the_attach_and_closes_1011() -> None:
    stores = memory_stores()
    stores = attrs.evolve(stores, charge_points=FailingChargePoints())
    cs = make_central_system(stores=stores)
    sink = Sink()
    with pytest.raises(StoreError):
        async with cs.attach("CP1", sink):
            raise AssertionError("unreachable")
    assert sink.closed is not None
    assert sink.closed[0] == 1011
    assert cs.connected_charge_points == frozenset()


async def test_a_cancelled_host_still_answers_the_call() -> None:
    cs = make_central_system()
    started = anyio.Event()

    @cs.on(DataTransferRequest)
    async def slow(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        started.set()
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    sink = Sink()
    async with cs.attach("CP1", sink) as connection:
        async with anyio.create_task_group() as group:
            group.start_soon(connection.receive, '[2,"d1","DataTransfer",{"vendorId":"v"}]')
            await started.wait()
            group.cancel_scope.cancel()
        await connection.receive('[2,"h1","Heartbeat",{}]')
        answers = sink.frames()
    assert answers[0][:3] == [4, "d1", "InternalError"]
    assert answers[1][:2] == [3, "h1"]


async def test_a_handler_that_hangs_is_answered_internal_error() -> None:
    cs = make_central_system(handler_timeout=0.2)

    @cs.on(DataTransferRequest)
    async def hang(request: DataTransferRequest, context: CallContext) -> DataTransferResponse:
        await anyio.sleep_forever()
        raise AssertionError("unreachable")

    sink = Sink()
    async with cs.attach("CP1", sink) as connection:
        with anyio.fail_after(5):
            await connection.receive('[2,"d1","DataTransfer",{"vendorId":"v"}]')
        [answer] = sink.frames()
        assert answer[:3] == [4, "d1", "InternalError"]


async def test_a_handler_that_waits_and_answers_is_answered() -> None:
    cs = make_central_system(handler_timeout=5)

    @cs.on(DataTransferRequest)
    async def wait_a_bit(
        request: DataTransferRequest, context: CallContext
    ) -> DataTransferResponse:
        with anyio.CancelScope():  # a scope of the handler's own, entered before it waits
            await anyio.sleep(0.01)
        return DataTransferResponse(status=DataTransferStatus.ACCEPTED, data=request.data)

    sink = Sink()
    async with cs.attach("CP1", sink) as connection:
        await connection.receive('[2,"d1","DataTransfer",{"vendorId":"v","data":"x"}]')
        assert sink.frames() == [[3, "d1", {"status": "Accepted", "data": "x"}]]


# -- the same answers as serve -------------------------------------------------------------

_ACTIONS = {
    "Heartbeat": {},
    "Authorize": {"idTag": "T1"},
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
    "BootNotification": {"chargePointVendor": "V", "chargePointModel": "M"},
    "DataTransfer": {"vendorId": "v"},
}
_frames = st.one_of(
    st.builds(
        lambda i, action: json.dumps([2, f"m{i}", action, _ACTIONS[action]]),
        st.integers(0, 3),
        st.sampled_from(sorted(_ACTIONS)),
    ),
    st.builds(lambda i: json.dumps([2, f"m{i}", "Authorize", {"idTag": i}]), st.integers(0, 3)),
    st.builds(lambda i: json.dumps([3, f"m{i}", {}]), st.integers(0, 3)),
    st.sampled_from(["[", "[]", '[2,"x"]', '[4,"m1","GenericError","",{}]', "null", '"x"']),
    st.text(max_size=12),
)


def _with_sentinels(frames: list[str]) -> list[str]:
    # After each frame a Heartbeat of its own id: once its answer is out, so is the frame's.
    return [
        text
        for i, frame in enumerate(frames)
        for text in (frame, f'[2,"sync{i}","Heartbeat",{{}}]')
    ]


async def _answers_attached(frames: list[str]) -> list[Any]:
    cs = make_central_system()
    sink = Sink()
    async with cs.attach("CP1", sink) as connection:
        for text in _with_sentinels(frames):
            await connection.receive(text)
    return sink.frames()


async def _answers_served(frames: list[str]) -> list[Any]:
    cs = make_central_system()
    ours, theirs = memory_connection_pair()
    answers: list[Any] = []
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, ours, "CP1")
        with anyio.fail_after(10):
            for i, text in enumerate(_with_sentinels(frames)):
                await theirs.send(text)
                if i % 2:
                    while not answers or answers[-1][1] != f"sync{i // 2}":
                        answers.append(json.loads(await theirs.receive()))
        await theirs.close()
    return answers


def _without_times(answers: list[Any]) -> list[Any]:
    text = json.dumps(answers)
    for answer in answers:
        if answer[0] == 3 and isinstance(answer[2], dict) and "currentTime" in answer[2]:
            text = text.replace(answer[2]["currentTime"], "T")
    return json.loads(text)  # type: ignore[no-any-return]


@given(st.lists(_frames, max_size=8))
def test_attach_answers_any_frames_as_serve_does(frames: list[str]) -> None:
    attached_answers = anyio.run(_answers_attached, frames)
    served_answers = anyio.run(_answers_served, frames)
    assert _without_times(attached_answers) == _without_times(served_answers)
