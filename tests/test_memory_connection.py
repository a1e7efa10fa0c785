"""The in-memory connection pair: order, buffering, back-pressure, closing, cancellation."""

from __future__ import annotations

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms import TransportClosed, memory_connection_pair

pytestmark = pytest.mark.anyio


async def test_frames_arrive_in_order_both_ways() -> None:
    a, b = memory_connection_pair()
    for n in range(5):
        await a.send(f"a{n}")
        await b.send(f"b{n}")
    assert [await b.receive() for _ in range(5)] == [f"a{n}" for n in range(5)]
    assert [await a.receive() for _ in range(5)] == [f"b{n}" for n in range(5)]


@given(st.lists(st.text(max_size=5), max_size=30), st.integers(min_value=0, max_value=4))
def test_any_sequence_arrives_whole_and_in_order_whatever_the_buffer(
    frames: list[str], buffer: int
) -> None:
    async def main() -> list[str]:
        a, b = memory_connection_pair(buffer)
        received: list[str] = []

        async def read() -> None:
            for _ in frames:
                received.append(await b.receive())

        async with anyio.create_task_group() as group:
            group.start_soon(read)
            for frame in frames:
                await a.send(frame)
        return received

    assert anyio.run(main) == frames


async def test_a_full_buffer_holds_the_sender_until_the_receiver_reads() -> None:
    a, b = memory_connection_pair(2)
    await a.send("1")
    await a.send("2")
    with anyio.move_on_after(0.05) as waited:
        await a.send("3")
    assert waited.cancelled_caught  # held back, and the held send was not delivered
    assert await b.receive() == "1"
    with anyio.fail_after(1):
        await a.send("3")
    assert [await b.receive(), await b.receive()] == ["2", "3"]
    with anyio.move_on_after(0.05) as nothing_more:
        await b.receive()
    assert nothing_more.cancelled_caught  # the cancelled send left no frame behind


async def test_an_unbuffered_sender_waits_for_a_receiver() -> None:
    a, b = memory_connection_pair(0)
    with anyio.move_on_after(0.05) as waited:
        await a.send("x")
    assert waited.cancelled_caught
    async with anyio.create_task_group() as group:
        got: list[str] = []

        async def read() -> None:
            got.append(await b.receive())

        group.start_soon(read)
        with anyio.fail_after(1):
            await a.send("y")
    assert got == ["y"]


async def test_closing_ends_both_sides_after_what_was_sent() -> None:
    a, b = memory_connection_pair()
    await a.send("last words")
    await a.close(4000, "bye")
    assert await b.receive() == "last words"
    with pytest.raises(TransportClosed):
        await b.receive()
    with pytest.raises(TransportClosed) as sent:
        await b.send("anyone?")
    assert sent.value.code == 1006
    with pytest.raises(TransportClosed) as received:
        await a.receive()
    assert (received.value.code, received.value.reason) == (4000, "bye")


async def test_closing_wakes_a_receive_waiting_on_either_end() -> None:
    a, b = memory_connection_pair()
    ended: list[str] = []

    async def wait(name: str, end: object) -> None:
        with pytest.raises(TransportClosed):
            await end.receive()  # type: ignore[attr-defined]
        ended.append(name)

    with anyio.fail_after(1):
        async with anyio.create_task_group() as group:
            group.start_soon(wait, "a", a)
            group.start_soon(wait, "b", b)
            await anyio.sleep(0.01)
            await a.close()
    assert sorted(ended) == ["a", "b"]


async def test_a_waiting_receive_can_be_cancelled_and_loses_nothing() -> None:
    a, b = memory_connection_pair()
    with anyio.move_on_after(0.02):
        await b.receive()
    await a.send("after")
    assert await b.receive() == "after"


def test_a_negative_buffer_is_refused() -> None:
    with pytest.raises(ValueError, match="buffer"):
        memory_connection_pair(-1)


async def test_a_simulator_answer_that_raises_fails_the_simulator_loudly() -> None:
    """The simulator's handlers stay in its task group: a broken answer factory surfaces as
    an exception of the test, not as a log line and a central-system timeout."""
    from ocpp16csms.messages import ResetRequest, ResetType
    from ocpp16csms.testing import ChargePointSimulator

    def broken(request: object) -> object:
        raise RuntimeError("the test's answer factory is broken")

    ours, theirs = memory_connection_pair()
    simulator = ChargePointSimulator("CP1", theirs)
    simulator.answer("Reset", broken)  # type: ignore[arg-type]

    async def run_simulator() -> None:
        async with simulator.running():
            await ours.send('[2,"r1","Reset",{"type":"Soft"}]')
            with anyio.fail_after(2):
                await anyio.sleep_forever()

    with pytest.raises(BaseException) as raised:  # noqa: PT011 - an ExceptionGroup on trio
        await run_simulator()
    text = repr(raised.value) + "".join(repr(e) for e in getattr(raised.value, "exceptions", ()))
    assert "the test's answer factory is broken" in text
    assert ResetRequest(type=ResetType.SOFT) in simulator.received
