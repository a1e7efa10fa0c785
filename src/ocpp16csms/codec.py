"""From payloads to typed messages and back, with validation under a :class:`ValidationPolicy`.

Inbound payloads are checked against our schemas before they are structured, so a charge point's
mistake becomes the right CallError; outbound payloads are checked too (unless the policy turns
that off), so our own mistakes surface as Python errors before anything is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import attrs

from ._logging import get_logger
from .converter import make_converter
from .errors import (
    FormationViolation,
    InvalidRequest,
    PropertyConstraintViolation,
    TypeConstraintViolation,
)
from .messages.base import Message
from .validation import ValidationPolicy, Violation, validator_for, violation_error

__all__ = ["MessageCodec"]

log = get_logger("ocpp16csms.codec")

_M = TypeVar("_M", bound=Message)

# Waived violations logged one by one per payload; the rest are counted in one line.
_MAX_RELAXED_LOGGED = 10


class MessageCodec:
    """Validates and converts payloads of one central system (thread-compatible, stateless)."""

    def __init__(self, policy: ValidationPolicy | None = None) -> None:
        self.policy = policy or ValidationPolicy()
        # Used only for payloads that passed their schema in full (and to unstructure).
        self._strict = make_converter(validated=True)
        self._lenient = make_converter(lenient=True)
        # Per message class: its schema's compiled check and its generated hook, looked up
        # once (the common case, a valid payload, then costs two calls).
        self._decoders: dict[type, tuple[Callable[[Any], bool], Callable[[Any, Any], Any]]] = {}
        self._encoders: dict[type, tuple[Callable[[Any], bool], Callable[[Any], Any]]] = {}

    def decode(
        self,
        cls: type[_M],
        payload: Any,
        *,
        charge_point_id: str | None = None,
        message_id: str | None = None,
        model: str | None = None,
    ) -> _M:
        """Validate ``payload`` and structure it as ``cls``; raise the matching :class:`OcppError`.

        Violations the policy waives are logged (with the charge point and message id) and the
        payload is structured leniently: an unknown enum value stays a plain ``str`` and
        over-long strings are kept whole rather than cut, so no data is lost.
        """
        if not isinstance(payload, dict):
            raise FormationViolation("the payload must be a JSON object")
        message = self.decode_valid(cls, payload)
        if message is not None:
            return message
        result = self.policy.check(
            cls.schema_name,
            payload,
            action=cls.action,
            charge_point_id=charge_point_id,
            model=model,
            exhaustive=False,
        )
        if result.errors:
            raise violation_error(result.errors[0])
        try:
            if result.relaxed:
                self._log_relaxed(result.relaxed, charge_point_id, message_id)
                # Only the class validators are off, and only for this synchronous call.
                with attrs.validators.disabled():
                    return self._lenient.structure(payload, cls)
            return self._strict.structure(payload, cls)
        except Exception as error:
            raise _unkeepable(cls, error) from None

    def decode_valid(self, cls: type[_M], payload: Any) -> _M | None:
        """:meth:`decode` for the common case, a payload that passes its schema in full (so
        the policy has nothing to waive or refuse); None when it does not, and
        :meth:`decode` must say why. Raises what :meth:`decode` raises for a payload the
        schema accepts but the class cannot keep."""
        plan = self._decoders.get(cls)
        if plan is None:
            plan = self._decoders[cls] = (
                validator_for(cls.schema_name).valid_function,
                self._strict.get_structure_hook(cls),
            )
        valid, structure = plan
        if not valid(payload):
            return None
        try:
            return structure(payload, cls)  # type: ignore[no-any-return]
        except Exception as error:
            raise _unkeepable(cls, error) from None

    def encode(self, message: Message) -> dict[str, Any]:
        """The payload of ``message``; raise :class:`InvalidRequest` when it breaks its schema."""
        cls = type(message)
        plan = self._encoders.get(cls)
        if plan is None:
            valid_function = validator_for(message.schema_name).encoded_valid_function
            if not attrs.fields(cls) and valid_function({}):  # type: ignore[arg-type]
                # No field, so always {} and always valid: checked once, here.
                plan = (_always, _empty)
            else:
                plan = (valid_function, self._strict.get_unstructure_hook(cls))
            self._encoders[cls] = plan
        valid, unstructure = plan
        try:
            payload: dict[str, Any] = unstructure(message)
        except (AttributeError, TypeError, ValueError) as error:
            # A field holding what its type does not allow (set around the class's checks):
            # a date-time that is no datetime, say. Nothing to send.
            raise InvalidRequest(
                f"{type(message).__name__} cannot be written as JSON: {error}"
            ) from None
        if self.policy.validate_outbound and not valid(payload):
            result = self.policy.check(
                message.schema_name, payload, action=message.action, exhaustive=False
            )
            if result.errors:
                raise InvalidRequest(_describe(message, result.errors[0]))
        return payload

    @staticmethod
    def _log_relaxed(
        relaxed: tuple[Violation, ...], charge_point_id: str | None, message_id: str | None
    ) -> None:
        extra = {"charge_point_id": charge_point_id, "message_id": message_id}
        # A frame may hold thousands of waived faults; a few lines tell the story.
        for violation in relaxed[:_MAX_RELAXED_LOGGED]:
            log.warning("relaxed schema violation accepted: %s", violation.message, extra=extra)
        if len(relaxed) > _MAX_RELAXED_LOGGED:
            log.warning(
                "relaxed schema violations accepted: %d more in the same payload",
                len(relaxed) - _MAX_RELAXED_LOGGED,
                extra=extra,
            )


def _always(payload: Any) -> bool:
    return True


def _empty(message: Any) -> dict[str, Any]:
    return {}


def _unkeepable(cls: type[Message], error: Exception) -> Exception:
    """The CallError for a payload the schema accepted but the class could not take."""
    if isinstance(error, TypeError):
        return TypeConstraintViolation(f"{cls.schema_name}: {error}")
    if isinstance(error, ValueError | KeyError | ArithmeticError | RecursionError):
        # The schema accepted it but no store could keep it (an instant past the year 9999);
        # defence in depth for the rest: no value a peer sends escapes as anything else.
        return PropertyConstraintViolation(f"{cls.schema_name}: {error}")
    return error


def _describe(message: Message, violation: Violation) -> str:
    return f"{type(message).__name__} does not fit its schema: {violation.message}"
