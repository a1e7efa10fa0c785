"""OCPP-J framing (OCPP-J 1.6 §4): CALL, CALLRESULT and CALLERROR frames as text.

:func:`parse_frame` never raises anything but :class:`FrameError`, whatever text arrives, and
the error carries what is needed to answer: the message id when one can be read, the frame's
type, and the CallError to reply with.
"""

from __future__ import annotations

import json
import json.encoder
import math
import re
from collections.abc import Callable, Iterable
from enum import IntEnum
from typing import Any, NoReturn

import attrs

from ._trusted import trusted_factory
from .errors import FormationViolation, OcppError, RemoteProtocolError

__all__ = [
    "MAX_MESSAGE_ID_LENGTH",
    "Call",
    "CallError",
    "CallResult",
    "Frame",
    "FrameError",
    "MessageType",
    "encode_frame",
    "encode_json",
    "is_utf8_text",
    "parse_frame",
]

MAX_MESSAGE_ID_LENGTH = 36
"""OCPP-J §4.1.4: a message id is a string of at most 36 characters."""


class MessageType(IntEnum):
    """The message type number that opens every OCPP-J frame."""

    CALL = 2
    CALL_RESULT = 3
    CALL_ERROR = 4


def _check_message_id(_: Any, __: Any, value: str) -> None:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_MESSAGE_ID_LENGTH:
        raise ValueError(f"a message id is 1 to {MAX_MESSAGE_ID_LENGTH} characters, got {value!r}")


@attrs.frozen
class Call:
    """``[2, messageId, action, payload]``: a request."""

    message_id: str = attrs.field(validator=_check_message_id)
    action: str
    payload: dict[str, Any]


@attrs.frozen
class CallResult:
    """``[3, messageId, payload]``: the answer to a CALL."""

    message_id: str = attrs.field(validator=_check_message_id)
    payload: dict[str, Any]


@attrs.frozen
class CallError:
    """``[4, messageId, errorCode, errorDescription, errorDetails]``: a CALL that failed.

    ``error_code`` is a ``str`` because a peer may send a code outside :class:`ErrorCode`.
    """

    message_id: str = attrs.field(validator=_check_message_id)
    error_code: str
    error_description: str = ""
    error_details: dict[str, Any] = attrs.field(factory=dict)

    @classmethod
    def from_error(cls, message_id: str, error: OcppError) -> CallError:
        """The CALLERROR frame that answers ``message_id`` with ``error``.

        Descriptions and details often quote what the peer sent; whatever UTF-8 cannot carry
        (a lone surrogate from a JSON ``\\ud800`` escape) is shown as its escape instead, and
        details that are not JSON are left out, so the frame can always be sent.
        """
        try:
            details = _encodable(error.details)
            json.dumps(details, allow_nan=False)
        except (TypeError, ValueError, RecursionError):
            details = {}
        return cls(message_id, error.code.value, _escaped(str(error.description)), details)


Frame = Call | CallResult | CallError
"""Any OCPP-J frame."""

_call = trusted_factory(Call)


class FrameError(RemoteProtocolError):
    """The text is not a valid OCPP-J frame (the peer's fault, never the caller's).

    ``message_id`` and ``message_type`` are set when they could be read, so a broken CALL can
    still be answered with ``reply``; ``reply`` is None when nothing can be answered.
    """

    def __init__(
        self,
        description: str,
        *,
        message_id: str | None = None,
        message_type: int | None = None,
        error: OcppError | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.message_id = message_id
        self.message_type = message_type
        self.error = error or FormationViolation(description)

    @property
    def reply(self) -> CallError | None:
        """The CALLERROR to send back: only a CALL with a readable id can be answered."""
        if self.message_type == MessageType.CALL and self.message_id is not None:
            return CallError.from_error(self.message_id, self.error)
        return None


# Recovers the type and id from text that is not (complete) JSON, e.g. a truncated frame.
_HEAD = re.compile(r'\s*\[\s*([234])\s*,\s*"((?:[^"\\]|\\.){1,36})"')


def _echoable(message_id: str) -> bool:
    # JSON can escape a lone surrogate ("\ud800"), but no UTF-8 frame can carry one back.
    if not 0 < len(message_id) <= MAX_MESSAGE_ID_LENGTH:
        return False
    return message_id.isascii() or not any("\ud800" <= c <= "\udfff" for c in message_id)


def _escaped(text: str) -> str:
    if is_utf8_text(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _encodable(value: Any) -> Any:
    """``value`` with every string UTF-8 can carry; lone surrogates become their escapes."""
    if isinstance(value, str):
        return _escaped(value)
    if isinstance(value, dict):
        return {_encodable(k): _encodable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_encodable(v) for v in value]
    return value


def is_utf8_text(text: str) -> bool:
    """Whether ``text`` can be sent as UTF-8 (it holds no lone surrogate)."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        # 1e400 is valid JSON but no double; it could never be encoded again.
        raise ValueError(f"{text} is out of range")
    return value


def _fail(
    description: str, frame: Any = None, head: tuple[int | None, str | None] = (None, None)
) -> NoReturn:
    message_type, message_id = head
    if isinstance(frame, list):
        if frame and type(frame[0]) is int and frame[0] in (2, 3, 4):
            message_type = frame[0]
        if len(frame) > 1 and isinstance(frame[1], str):
            message_id = frame[1]
    if message_id is not None and not _echoable(message_id):
        # An id we could not echo in a valid frame cannot be answered.
        message_id = None
    raise FrameError(description, message_id=message_id, message_type=message_type)


# One decoder for every frame: json.loads with hooks builds a new one per call. Its scanner
# is called directly: JSONDecoder.decode adds two regex matches per frame for whitespace,
# which a frame almost never has (handled below where it does).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)
_SCAN: Callable[[str, int], tuple[Any, int]] = _DECODER.scan_once  # type: ignore[attr-defined]
_JSON_SPACE = " \t\n\r"


def _decode(text: str) -> Any:
    """``_DECODER.decode(text)``, without its regex passes for a frame that needs none."""
    if not text.startswith("["):
        return _DECODER.decode(text)  # leading whitespace, or not a frame at all
    try:
        value, end = _SCAN(text, 0)
    except StopIteration as stop:  # what the scanner raises at a bad value
        raise ValueError(f"no JSON value at {stop.value}") from None
    if end != len(text) and text[end:].strip(_JSON_SPACE):
        raise ValueError(f"extra data after the JSON value, at {end}")
    return value


def parse_frame(text: str | bytes) -> Frame:
    """Parse one OCPP-J frame; raise :class:`FrameError` and nothing else on any bad input."""
    if type(text) is not str:
        if isinstance(text, bytes | bytearray):
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                _fail("the frame is not UTF-8 text")
        elif not isinstance(text, str):
            _fail(f"a frame is text, got {type(text).__name__}")
    try:
        frame = _decode(text)
    except (ValueError, RecursionError):
        match = _HEAD.match(text)
        head = (int(match.group(1)), _unescape(match.group(2))) if match else (None, None)
        _fail("the frame is not valid JSON", head=head)
    if not isinstance(frame, list) or not frame:
        _fail("an OCPP-J frame is a non-empty JSON array", frame)
    kind = frame[0]
    if type(kind) is not int or kind not in (2, 3, 4):
        _fail(f"unknown message type {kind!r}; expected 2, 3 or 4", frame)
    message_id = frame[1] if len(frame) > 1 else None
    if not isinstance(message_id, str) or not message_id:
        _fail("the message id must be a non-empty string", frame)
    if len(message_id) > MAX_MESSAGE_ID_LENGTH:
        _fail(f"the message id is longer than {MAX_MESSAGE_ID_LENGTH} characters", frame)
    if not message_id.isascii() and not _echoable(message_id):
        _fail("the message id holds a lone surrogate, which is not text", frame)
    if kind == MessageType.CALL:
        if len(frame) != 4:
            _fail(f"a CALL has 4 elements, this one has {len(frame)}", frame)
        if not isinstance(frame[2], str) or not frame[2]:
            _fail("the action of a CALL must be a non-empty string", frame)
        if not isinstance(frame[3], dict):
            _fail("the payload of a CALL must be a JSON object", frame)
        return _call(message_id, frame[2], frame[3])  # every field checked above
    if kind == MessageType.CALL_RESULT:
        if len(frame) != 3:
            _fail(f"a CALLRESULT has 3 elements, this one has {len(frame)}", frame)
        if not isinstance(frame[2], dict):
            _fail("the payload of a CALLRESULT must be a JSON object", frame)
        return CallResult(message_id, frame[2])
    # Some charge points leave out errorDetails; the id and code are what matter.
    if len(frame) not in (4, 5):
        _fail(f"a CALLERROR has 5 elements, this one has {len(frame)}", frame)
    code, description = frame[2], frame[3]
    details = frame[4] if len(frame) == 5 else {}
    if not isinstance(code, str) or not isinstance(description, str):
        _fail("the error code and description of a CALLERROR must be strings", frame)
    if not isinstance(details, dict):
        _fail("the error details of a CALLERROR must be a JSON object", frame)
    return CallError(message_id, code, description, details)


def _unescape(raw: str) -> str | None:
    try:
        value = json.loads(f'"{raw}"')
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def encode_frame(frame: Frame) -> str:
    """The compact JSON text of ``frame``.

    Raises ``ValueError`` when a payload holds something JSON cannot carry (NaN, infinity).
    """
    body: list[Any]
    if isinstance(frame, Call):
        body = [MessageType.CALL.value, frame.message_id, frame.action, frame.payload]
    elif isinstance(frame, CallResult):
        body = [MessageType.CALL_RESULT.value, frame.message_id, frame.payload]
    else:
        body = [
            MessageType.CALL_ERROR.value,
            frame.message_id,
            frame.error_code,
            frame.error_description,
            frame.error_details,
        ]
    return encode_json(body)


def _not_json(value: Any) -> Any:
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _make_encoder() -> Callable[[Any, int], Iterable[str]]:
    # json.dumps with any option builds an encoder (and its C twin) per call: a third of
    # what a small frame costs. One C encoder, made once, does the same work: compact
    # separators, no ASCII escaping, NaN and infinity refused (ValueError), no circular
    # check (payloads are trees made by unstructuring frozen classes).
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # pragma: no cover - CPython always has the C accelerator
        encoder = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return lambda value, _: (encoder.encode(value),)
    chunks: Callable[[Any, int], Iterable[str]] = make(
        None, _not_json, json.encoder.encode_basestring, None, ":", ",", False, False, False
    )
    return chunks


_CHUNKS = _make_encoder()


def encode_json(value: Any) -> str:
    """The compact JSON text of a frame's body as it is sent: no spaces, no ASCII escaping;
    NaN and infinity raise ``ValueError``, what JSON cannot hold ``TypeError``."""
    return "".join(_CHUNKS(value, 0))
