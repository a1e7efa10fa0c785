"""Both ends of a routed call, without NATS: the holder answering it, the caller reading the
answer (docs/scaling.md)."""

from __future__ import annotations

from typing import Any, TypeVar

import anyio
import attrs
import cattrs

from .._logging import get_logger
from ..codec import MessageCodec
from ..engine import Engine
from ..errors import CallTimeout, ChargePointNotConnected, CsmsError, InvalidRequest, OcppError
from ..messages.base import Response
from ..registry import ACTIONS
from .envelope import RoutedCallFailed, decode_call, encode_error, encode_result

__all__ = ["answer_routed_call", "structure_response"]

log = get_logger("ocpp16csms.routers")

_Res = TypeVar("_Res", bound=Response)


async def answer_routed_call(
    engine: Engine | None,
    codec: MessageCodec,
    lenient: cattrs.Converter,
    charge_point_id: str,
    data: bytes,
) -> bytes:
    """Make the call another process routed here, and return the reply to send back.

    The call goes through ``engine.call`` as a local one would (pre-send checks, registration,
    queue, timeout), and must end within the deadline the caller gave.
    """
    if engine is None:
        return encode_error(ChargePointNotConnected(charge_point_id))
    try:
        call = decode_call(data)
    except ValueError as error:
        return encode_error(RoutedCallFailed(charge_point_id, f"unreadable call: {error}"))
    spec = ACTIONS.get(call.action)
    if spec is None or not spec.sent_by_central_system:
        return encode_error(InvalidRequest(f"{call.action} is not sent by a central system"))
    try:
        request = codec.decode(spec.request, call.payload, charge_point_id=charge_point_id)
    except OcppError as error:
        return encode_error(InvalidRequest(f"routed {call.action}: {error.description}"))
    response: Response | None = None
    try:
        with anyio.move_on_after(call.timeout):
            response = await engine.call(charge_point_id, request)
    except CsmsError as error:
        return encode_error(error)
    except Exception as error:
        log.exception(
            "[%s] routed %s from %s failed",
            charge_point_id,
            call.action,
            call.origin,
            extra={"charge_point_id": charge_point_id},
        )
        return encode_error(RoutedCallFailed(charge_point_id, type(error).__name__))
    if response is None:
        # The message id is not known here: the call may not have left its queue.
        return encode_error(CallTimeout(charge_point_id, call.action, "", call.timeout))
    try:
        payload = codec.encode(response)
    except InvalidRequest:
        # An answer a relaxed validation policy let in: carried as it came.
        payload = lenient.unstructure(response)
    return encode_result(payload)


def structure_response(
    codec: MessageCodec,
    lenient: cattrs.Converter,
    cls: type[_Res],
    payload: dict[str, Any],
    charge_point_id: str,
) -> _Res:
    """The typed answer of a routed call from its payload."""
    try:
        return codec.decode(cls, payload, charge_point_id=charge_point_id)
    except OcppError:
        pass
    # The holder validated it already, maybe under a relaxed policy for the charge point.
    try:
        with attrs.validators.disabled():
            response: _Res = lenient.structure(payload, cls)
    except Exception as error:
        raise RoutedCallFailed(charge_point_id, f"unreadable {cls.__name__}: {error}") from None
    return response
