"""OCPP-J framing: parse and encode, and the rule that garbage only ever raises FrameError."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms.errors import (
    ErrorCode,
    OcppError,
)
from ocpp16csms.rpc import (
    Call,
    CallError,
    CallResult,
    Frame,
    FrameError,
    MessageType,
    encode_frame,
    parse_frame,
)

message_ids = st.text(min_size=1, max_size=36)
scalars = st.none() | st.booleans() | st.integers() | st.text()
json_values = st.recursive(
    scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)
objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)


def test_parse_each_frame_type() -> None:
    assert parse_frame('[2,"1","Heartbeat",{}]') == Call("1", "Heartbeat", {})
    assert parse_frame('[3,"1",{"a":1}]') == CallResult("1", {"a": 1})
    assert parse_frame('[4,"1","NotSupported","no",{}]') == CallError("1", "NotSupported", "no", {})


def test_callerror_without_details_is_tolerated() -> None:
    assert parse_frame('[4,"9","GenericError","x"]') == CallError("9", "GenericError", "x", {})


def test_encode_is_compact_and_keeps_unicode() -> None:
    text = encode_frame(Call("a", "DataTransfer", {"vendorId": "é"}))
    assert text == '[2,"a","DataTransfer",{"vendorId":"é"}]'


def test_encode_refuses_nan() -> None:
    with pytest.raises(ValueError, match="JSON"):
        encode_frame(CallResult("a", {"x": float("nan")}))


@pytest.mark.parametrize(
    ("text", "message_id", "kind"),
    [
        ("not json", None, None),
        ('[2,"abc","Heartbeat"', "abc", 2),  # truncated: id recovered from the text
        ("{}", None, None),
        ("[]", None, None),
        ('[5,"abc",{}]', "abc", None),
        ('[2,"abc",7,{}]', "abc", 2),
        ('[2,"abc","Heartbeat",[]]', "abc", 2),
        ('[2,"abc","Heartbeat",{},1]', "abc", 2),
        ('[2,"' + "x" * 37 + '","Heartbeat",{}]', None, 2),
        ('[2,17,"Heartbeat",{}]', None, 2),
        ('[3,"abc",[]]', "abc", 3),
        ('[4,"abc",1,"d",{}]', "abc", 4),
        ('[2,"abc","Heartbeat",{"a":NaN}]', "abc", 2),
        ('[true,"abc","Heartbeat",{}]', "abc", None),
        ('[2,"abc","Heartbeat",{"a":1e400}]', "abc", 2),
    ],
)
def test_bad_frames_raise_frame_error_with_what_can_be_read(
    text: str, message_id: str | None, kind: int | None
) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(text)
    assert caught.value.message_id == message_id
    assert caught.value.message_type == kind
    assert caught.value.error.code is ErrorCode.FORMATION_VIOLATION


def test_reply_only_for_a_call_with_a_readable_id() -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame('[2,"abc","Heartbeat",[]]')
    assert caught.value.reply == CallError(
        "abc", "FormationViolation", "the payload of a CALL must be a JSON object", {}
    )
    with pytest.raises(FrameError) as result_error:
        parse_frame('[3,"abc",[]]')
    assert result_error.value.reply is None


def _parse_or_error(text: str | bytes) -> Frame | FrameError:
    try:
        return parse_frame(text)
    except FrameError as error:
        return error


@given(st.text() | st.binary())
def test_arbitrary_text_only_raises_frame_error(text: str | bytes) -> None:
    outcome = _parse_or_error(text)
    assert isinstance(outcome, Call | CallResult | CallError | FrameError)
    if isinstance(outcome, FrameError):
        assert isinstance(outcome.error, OcppError)


@given(json_values)
def test_arbitrary_json_only_raises_frame_error(value: Any) -> None:
    outcome = _parse_or_error(json.dumps(value))
    assert isinstance(outcome, Call | CallResult | CallError | FrameError)


@given(message_ids, st.sampled_from([2, 3, 4]), st.lists(json_values, max_size=5))
def test_a_readable_message_id_is_always_recovered(
    message_id: str, kind: int, rest: list[Any]
) -> None:
    outcome = _parse_or_error(json.dumps([kind, message_id, *rest]))
    assert outcome.message_id == message_id
    if isinstance(outcome, FrameError):
        assert outcome.message_type == kind


@given(message_ids, st.text(min_size=1), objects)
def test_call_round_trip(message_id: str, action: str, payload: dict[str, Any]) -> None:
    frame = Call(message_id, action, payload)
    assert parse_frame(encode_frame(frame)) == frame


@given(message_ids, objects)
def test_call_result_round_trip(message_id: str, payload: dict[str, Any]) -> None:
    frame = CallResult(message_id, payload)
    assert parse_frame(encode_frame(frame)) == frame


@given(message_ids, st.sampled_from(list(ErrorCode)), st.text(), objects)
def test_call_error_round_trip(
    message_id: str, code: ErrorCode, description: str, details: dict[str, Any]
) -> None:
    frame = CallError(message_id, code.value, description, details)
    assert parse_frame(encode_frame(frame)) == frame


def test_message_type_numbers() -> None:
    assert [m.value for m in MessageType] == [2, 3, 4]


# -- the direct scanner and encoder agree with the json module --------------------------------

json_space = st.text(alphabet=" \t\n\r", max_size=3)


@given(objects, json_space, json_space)
def test_parse_takes_json_whitespace_around_a_frame(
    payload: dict[str, Any], lead: str, trail: str
) -> None:
    text = lead + json.dumps([3, "m1", payload]) + trail
    assert parse_frame(text) == CallResult("m1", json.loads(text)[2])


@given(objects, st.sampled_from(["x", "]", "{}", "\x0b", "\u00a0", "\ufeff", "1"]))
def test_parse_refuses_anything_after_the_frame(payload: dict[str, Any], extra: str) -> None:
    text = json.dumps([2, "m1", "Heartbeat", payload]) + " " + extra
    with pytest.raises(FrameError) as caught:
        parse_frame(text)
    assert caught.value.reply is not None  # the id was still read: the CALL is answered


@given(st.lists(json_values, max_size=4))
def test_encode_json_is_compact_unescaped_json(body: list[Any]) -> None:
    from ocpp16csms.rpc import encode_json

    assert encode_json(body) == json.dumps(
        body, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), object(), b"x"])
def test_encode_json_refuses_what_json_cannot_hold(value: object) -> None:
    from ocpp16csms.rpc import encode_json

    with pytest.raises((ValueError, TypeError)):
        encode_json([3, "m", {"v": value}])
