"""What travels between the processes of a cluster: routed calls, their outcomes, events.

A routed call carries the request's OCPP payload (from :class:`~ocpp16csms.codec.MessageCodec`)
in a small JSON envelope; its reply carries the response's payload or the error the call ended
with, field by field, so the calling process raises the same typed error a local call raises.
Pure functions, no I/O: the formats are documented in docs/scaling.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from ..engine import (
    ChargePointConnected,
    ChargePointDisconnected,
    Exchange,
    PeerViolationObserved,
)
from ..errors import (
    CallErrorReceived,
    CallTimeout,
    ChargePointNotAccepted,
    ChargePointNotConnected,
    ConnectionLost,
    CsmsError,
    InvalidRequest,
    OcppError,
    QueueFull,
)
from ..profiles.local_auth_list.diff import LocalListError
from ..profiles.smart_charging.composite import ChargingProfileError

__all__ = [
    "ENVELOPE_VERSION",
    "ClusterUnavailable",
    "RoutedCall",
    "RoutedCallFailed",
    "decode_call",
    "decode_reply",
    "dumps",
    "encode_call",
    "encode_error",
    "encode_result",
    "error_from_json",
    "error_to_json",
    "event_body",
]

ENVELOPE_VERSION = 1
"""The envelope format; a process refuses a routed call of a version it does not know."""


class RoutedCallFailed(CsmsError):
    """A routed call's outcome could not be carried back to the calling process.

    The holder's answer was over the NATS ``max_payload``, an envelope could not be read (a
    process of another version), or the holding process failed unexpectedly; ``reason`` says
    which. The call may have reached the charge point.
    """

    def __init__(self, charge_point_id: str, reason: str) -> None:
        super().__init__(f"routed call to {charge_point_id!r} failed: {reason}")
        self.charge_point_id = charge_point_id
        self.reason = reason


class ClusterUnavailable(ChargePointNotConnected):
    """This process cannot reach the cluster now (not connected to NATS, or reconnecting).

    A :class:`~ocpp16csms.errors.ChargePointNotConnected`: the charge point cannot be reached
    from here, whatever holds it; ``reason`` says why.
    """

    def __init__(self, charge_point_id: str, reason: str) -> None:
        super().__init__(charge_point_id)
        self.args = (f"charge point {charge_point_id!r} cannot be reached: {reason}",)
        self.reason = reason


@attrs.frozen
class RoutedCall:
    """A call received from another process: the action, its payload, the deadline it has."""

    action: str
    payload: dict[str, Any]
    timeout: float
    origin: str


def dumps(document: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON; ``ValueError`` for NaN or infinity (not JSON)."""
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _loads(data: bytes) -> dict[str, Any]:
    try:
        document = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(document, dict):
        raise ValueError("not a JSON object")
    version = document.get("v")
    if version != ENVELOPE_VERSION:
        raise ValueError(f"envelope version {version!r}, this process reads {ENVELOPE_VERSION}")
    return document


def encode_call(action: str, payload: Mapping[str, Any], timeout: float, origin: str) -> bytes:
    """The request of a routed call."""
    return dumps(
        {
            "v": ENVELOPE_VERSION,
            "action": action,
            "payload": payload,
            "timeout": timeout,
            "origin": origin,
        }
    )


def decode_call(data: bytes) -> RoutedCall:
    """Read a routed call; ``ValueError`` naming what is wrong with it."""
    document = _loads(data)
    action, payload = document.get("action"), document.get("payload")
    timeout = document.get("timeout")
    if not isinstance(action, str) or not isinstance(payload, dict):
        raise ValueError("a routed call needs an action and a payload object")
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout < 1e6:
        raise ValueError(f"a routed call needs a positive timeout, got {timeout!r}")
    origin = document.get("origin")
    return RoutedCall(action, payload, float(timeout), origin if isinstance(origin, str) else "")


def encode_result(payload: Mapping[str, Any]) -> bytes:
    """The reply of a routed call that the charge point answered with a CALLRESULT."""
    return dumps({"v": ENVELOPE_VERSION, "payload": payload})


def encode_error(error: BaseException) -> bytes:
    """The reply of a routed call that ended with ``error``."""
    fields = error_to_json(error)
    try:
        return dumps({"v": ENVELOPE_VERSION, "error": fields})
    except ValueError:
        # Details a peer sent that JSON cannot carry (NaN): the error goes without them.
        return dumps({"v": ENVELOPE_VERSION, "error": {**fields, "details": {}}})


def decode_reply(data: bytes, charge_point_id: str) -> dict[str, Any] | CsmsError:
    """The response payload of a routed call, or the error to raise in the calling process."""
    try:
        document = _loads(data)
    except ValueError as error:
        return RoutedCallFailed(charge_point_id, f"unreadable reply: {error}")
    if isinstance(payload := document.get("payload"), dict):
        return payload
    if isinstance(fields := document.get("error"), dict):
        return error_from_json(charge_point_id, fields)
    return RoutedCallFailed(charge_point_id, "a reply without payload or error")


def error_to_json(error: BaseException) -> dict[str, Any]:
    """The fields of an outcome error, as JSON (the ``error`` of a reply or an event)."""
    if isinstance(error, CallErrorReceived):
        return {
            "type": "CallErrorReceived",
            "action": error.action,
            "code": error.code,
            "description": error.description,
            "details": error.details,
        }
    if isinstance(error, CallTimeout):
        return {
            "type": "CallTimeout",
            "action": error.action,
            "message_id": error.message_id,
            "timeout": error.timeout,
        }
    if isinstance(error, ConnectionLost):
        return {"type": "ConnectionLost", "action": error.action, "message_id": error.message_id}
    if isinstance(error, QueueFull):
        return {"type": "QueueFull", "limit": error.limit}
    if isinstance(error, ChargePointNotAccepted):
        return {"type": "ChargePointNotAccepted", "action": error.action, "status": error.status}
    if isinstance(error, ChargePointNotConnected):
        return {"type": "ChargePointNotConnected"}
    if isinstance(error, ChargingProfileError):
        return {"type": "ChargingProfileError", "rule": error.rule, "message": str(error)}
    if isinstance(error, LocalListError):
        return {"type": "LocalListError", "message": str(error)}
    if isinstance(error, InvalidRequest):
        return {"type": "InvalidRequest", "message": str(error)}
    if isinstance(error, OcppError):
        # Only in events: what a handler answered a charge point's CALL with.
        return {
            "type": "CallError",
            "code": error.code.value,
            "description": error.description,
            "details": error.details,
        }
    if isinstance(error, RoutedCallFailed):
        return {"type": "RoutedCallFailed", "message": error.reason}
    return {"type": "RoutedCallFailed", "message": f"{type(error).__name__}: {error}"}


def _text(fields: Mapping[str, Any], name: str) -> str:
    value = fields.get(name)
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, got {value!r}")
    return value


def error_from_json(charge_point_id: str, fields: Mapping[str, Any]) -> CsmsError:
    """The error :func:`error_to_json` wrote, for ``charge_point_id``; a field that does not
    fit gives :class:`RoutedCallFailed`."""
    kind = fields.get("type")
    try:
        return _error_from_json(charge_point_id, kind, fields)
    except (ValueError, TypeError) as error:
        return RoutedCallFailed(charge_point_id, f"unreadable {kind!r} error: {error}")


def _error_from_json(cp: str, kind: Any, fields: Mapping[str, Any]) -> CsmsError:
    if kind == "CallErrorReceived":
        details = fields.get("details") or {}
        if not isinstance(details, dict):
            raise ValueError("details must be an object")
        return CallErrorReceived(
            cp,
            _text(fields, "action"),
            _text(fields, "code"),
            _text(fields, "description"),
            details,
        )
    if kind == "CallTimeout":
        timeout = fields.get("timeout")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            raise ValueError("timeout must be a number")
        return CallTimeout(cp, _text(fields, "action"), _text(fields, "message_id"), timeout)
    if kind == "ConnectionLost":
        message_id = fields.get("message_id")
        return ConnectionLost(
            cp, _text(fields, "action"), message_id if isinstance(message_id, str) else None
        )
    if kind == "QueueFull":
        limit = fields.get("limit")
        if isinstance(limit, bool) or not isinstance(limit, int):
            raise ValueError("limit must be a whole number")
        return QueueFull(cp, limit)
    if kind == "ChargePointNotAccepted":
        status = fields.get("status")
        return ChargePointNotAccepted(
            cp, _text(fields, "action"), status if isinstance(status, str) else None
        )
    if kind == "ChargePointNotConnected":
        return ChargePointNotConnected(cp)
    if kind == "ChargingProfileError":
        rule, message = _text(fields, "rule"), _text(fields, "message")
        error = ChargingProfileError(rule, "")
        error.args = (message,)  # the message already names the rule
        return error
    if kind == "LocalListError":
        return LocalListError(_text(fields, "message"))
    if kind == "InvalidRequest":
        return InvalidRequest(_text(fields, "message"))
    if kind == "RoutedCallFailed":
        return RoutedCallFailed(cp, _text(fields, "message"))
    raise ValueError("unknown error type")


def event_body(
    event: object, node: str, at: str, unstructure: Callable[[Any], Any]
) -> tuple[str, dict[str, Any]] | None:
    """``(subject name, JSON body)`` of an observer event, or None for an event not published.

    The subject name is the OCPP action of an exchange, or ``connected``, ``disconnected``,
    ``violation``; ``unstructure`` turns a message into its OCPP payload.
    """
    if isinstance(event, Exchange):
        return event.request.action, {
            "event": "exchange",
            "node": node,
            "charge_point_id": event.charge_point_id,
            "at": at,
            "message_id": event.message_id,
            "direction": event.direction.value,
            "action": event.request.action,
            "request": unstructure(event.request),
            "response": None if event.response is None else unstructure(event.response),
            "error": None if event.error is None else error_to_json(event.error),
        }
    common = {"node": node, "at": at}
    if isinstance(event, ChargePointConnected):
        return "connected", {
            "event": "connected",
            "charge_point_id": event.charge_point_id,
            **common,
        }
    if isinstance(event, ChargePointDisconnected):
        return "disconnected", {
            "event": "disconnected",
            "charge_point_id": event.charge_point_id,
            **common,
            "replaced": event.replaced,
        }
    if isinstance(event, PeerViolationObserved):
        return "violation", {
            "event": "violation",
            "charge_point_id": event.charge_point_id,
            **common,
            "message_id": event.message_id,
            "description": event.description,
        }
    return None
