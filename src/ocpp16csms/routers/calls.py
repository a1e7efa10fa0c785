"""Both ends of a routed call, whatever carries it: the holder answering it, the caller reading
the answer (docs/scaling.md). A router over another message engine reuses these, and the
envelopes of :mod:`ocpp16csms.routers.envelope`, to keep every outcome typed."""

from __future__ import annotations

from contextvars import ContextVar
from functools import cache
from typing import Any, TypeVar

import anyio
import attrs
import cattrs

from .._logging import get_logger
from ..codec import MessageCodec
from ..converter import make_converter
from ..engine import Engine
from ..errors import CallTimeout, ChargePointNotConnected, CsmsError, InvalidRequest, OcppError
from ..messages.base import Response
from ..registry import ACTIONS
from .envelope import RoutedCallFailed, decode_call, encode_error, encode_result

__all__ = ["answer_routed_call", "in_routed_call", "structure_response"]

log = get_logger("ocpp16csms.routers")

_Res = TypeVar("_Res", bound=Response)

# Set while this process makes a call routed to it: if the charge point left meanwhile,
# CentralSystem.call hands the call back to the router, which must not send it round again.
_ROUTED_CALL: ContextVar[bool] = ContextVar("ocpp16csms_routed_call", default=False)


@cache
def _lenient() -> cattrs.Converter:
    return make_converter(lenient=True)


def in_routed_call() -> bool:
    """Whether the current task is making a call another process routed here.

    A router's ``call`` raises :class:`~ocpp16csms.ChargePointNotConnected` then, rather than
    routing the call again (the charge point left this process while the call travelled).
    """
    return _ROUTED_CALL.get()


async def answer_routed_call(
    engine: Engine | None, codec: MessageCodec, charge_point_id: str, data: bytes
) -> bytes:
    """Make the call another process routed here (an :func:`~.envelope.encode_call` envelope)
    and return the reply to send back.

    The call goes through ``engine.call`` as a local one would (pre-send checks, registration,
    queue, timeout), and must end within the deadline the caller gave.
    """
    token = _ROUTED_CALL.set(True)
    try:
        return await _answer(engine, codec, charge_point_id, data)
    finally:
        _ROUTED_CALL.reset(token)


async def _answer(
    engine: Engine | None, codec: MessageCodec, charge_point_id: str, data: bytes
) -> bytes:
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
        payload = _lenient().unstructure(response)
    try:
        return encode_result(payload)
    except ValueError as error:
        return encode_error(RoutedCallFailed(charge_point_id, f"unencodable answer: {error}"))


def structure_response(
    codec: MessageCodec, cls: type[_Res], payload: dict[str, Any], charge_point_id: str
) -> _Res:
    """The typed answer of a routed call from the payload :func:`~.envelope.decode_reply`
    gave; :class:`~.envelope.RoutedCallFailed` if it cannot be built."""
    try:
        return codec.decode(cls, payload, charge_point_id=charge_point_id)
    except OcppError:
        pass
    # The holder validated it already, maybe under a relaxed policy for the charge point.
    try:
        with attrs.validators.disabled():
            response: _Res = _lenient().structure(payload, cls)
    except Exception as error:
        raise RoutedCallFailed(charge_point_id, f"unreadable {cls.__name__}: {error}") from None
    return response
