"""CallError codes and the exception hierarchy (OCPP-J 1.6, §4.2.3).

Everything the library raises derives from :class:`CsmsError`. Below it, kept apart as h11
keeps local and remote errors apart:

* :class:`LocalProtocolError`: our side misused the API or the protocol (a caller's bug).
* :class:`RemoteProtocolError`: the peer sent something that breaks OCPP-J (framing,
  handshake); the transport layer's errors derive from it.
* :class:`OcppError` and its subclasses are *wire* errors. Each carries the CallError code it
  becomes on the wire as a class attribute, so a handler raises ``NotSupported("…")`` and
  the right CALLERROR frame goes out.
* The other :class:`CsmsError` subclasses are what the Python API raises to its caller: an
  outbound call that timed out, a charge point that is not connected, a CALLERROR received
  from the charge point, a request that failed our checks before it was sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar

__all__ = [
    "ActionNotImplemented",
    "CallErrorReceived",
    "CallTimeout",
    "ChargePointNotAccepted",
    "ChargePointNotConnected",
    "ConnectionLost",
    "CsmsError",
    "ErrorCode",
    "FormationViolation",
    "GenericError",
    "InternalError",
    "InvalidRequest",
    "LocalProtocolError",
    "NotSupported",
    "OccurenceConstraintViolation",
    "OcppError",
    "PropertyConstraintViolation",
    "ProtocolError",
    "QueueFull",
    "RemoteProtocolError",
    "SecurityError",
    "TypeConstraintViolation",
    "error_for_code",
]


class ErrorCode(StrEnum):
    """The CallError codes of OCPP-J 1.6 §4.2.3, with the specification's own spellings."""

    NOT_IMPLEMENTED = "NotImplemented"
    NOT_SUPPORTED = "NotSupported"
    INTERNAL_ERROR = "InternalError"
    PROTOCOL_ERROR = "ProtocolError"
    SECURITY_ERROR = "SecurityError"
    FORMATION_VIOLATION = "FormationViolation"
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    # "Occurence" is misspelt in OCPP-J 1.6 itself; the wire value must match it.
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    GENERIC_ERROR = "GenericError"


class CsmsError(Exception):
    """The root of every exception ocpp16csms raises."""


class LocalProtocolError(CsmsError, RuntimeError):
    """Our side used a session or the API in a way the protocol does not allow (a bug here)."""


class RemoteProtocolError(CsmsError):
    """The peer sent something that breaks OCPP-J (a frame, a handshake)."""


class OcppError(CsmsError):
    """An error that becomes a CALLERROR frame; ``code`` is the frame's error code."""

    code: ClassVar[ErrorCode] = ErrorCode.GENERIC_ERROR

    def __init__(self, description: str = "", details: Mapping[str, Any] | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.details: dict[str, Any] = dict(details or {})

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.description!r}, details={self.details!r})"


class ActionNotImplemented(OcppError):
    """The action is not known to the receiver (wire code ``NotImplemented``)."""

    code = ErrorCode.NOT_IMPLEMENTED


class NotSupported(OcppError):
    """The action is known but not supported by the receiver."""

    code = ErrorCode.NOT_SUPPORTED


class InternalError(OcppError):
    """The receiver failed while processing the action."""

    code = ErrorCode.INTERNAL_ERROR


class ProtocolError(OcppError):
    """The payload is incomplete for the action."""

    code = ErrorCode.PROTOCOL_ERROR


class SecurityError(OcppError):
    """The action may not be processed for security reasons."""

    code = ErrorCode.SECURITY_ERROR


class FormationViolation(OcppError):
    """The payload is syntactically wrong, or has a field the schema does not allow."""

    code = ErrorCode.FORMATION_VIOLATION


class PropertyConstraintViolation(OcppError):
    """A field's value breaks a constraint: enum, length, range, pattern or format."""

    code = ErrorCode.PROPERTY_CONSTRAINT_VIOLATION


class OccurenceConstraintViolation(OcppError):
    """A required field is missing, or an array has too few or too many items."""

    code = ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION


class TypeConstraintViolation(OcppError):
    """A field has the wrong JSON type."""

    code = ErrorCode.TYPE_CONSTRAINT_VIOLATION


class GenericError(OcppError):
    """Any other error."""

    code = ErrorCode.GENERIC_ERROR


_BY_CODE: dict[ErrorCode, type[OcppError]] = {
    cls.code: cls
    for cls in (
        ActionNotImplemented,
        NotSupported,
        InternalError,
        ProtocolError,
        SecurityError,
        FormationViolation,
        PropertyConstraintViolation,
        OccurenceConstraintViolation,
        TypeConstraintViolation,
        GenericError,
    )
}


def error_for_code(code: ErrorCode) -> type[OcppError]:
    """Return the :class:`OcppError` subclass that carries ``code``."""
    return _BY_CODE[code]


class InvalidRequest(CsmsError, ValueError):
    """A request failed our checks before it was sent; nothing went on the wire."""


class ChargePointNotConnected(CsmsError):
    """No connection is open for the charge point."""

    def __init__(self, charge_point_id: str) -> None:
        super().__init__(f"charge point {charge_point_id!r} is not connected")
        self.charge_point_id = charge_point_id


class ChargePointNotAccepted(CsmsError):
    """The charge point's registration does not allow this call now (OCPP 1.6 §4.2)."""

    def __init__(self, charge_point_id: str, action: str, status: str | None) -> None:
        state = f"registration status {status}" if status else "no accepted BootNotification"
        super().__init__(f"cannot send {action} to {charge_point_id!r}: {state}")
        self.charge_point_id = charge_point_id
        self.action = action
        self.status = status


class ConnectionLost(CsmsError):
    """The connection closed while a call to the charge point was waiting for its answer."""

    def __init__(self, charge_point_id: str, action: str, message_id: str | None = None) -> None:
        super().__init__(
            f"connection to {charge_point_id!r} lost while {action} "
            f"(message {message_id!r}) waited for its answer"
        )
        self.charge_point_id = charge_point_id
        self.action = action
        self.message_id = message_id


class CallTimeout(CsmsError, TimeoutError):
    """The charge point did not answer a call in time."""

    def __init__(self, charge_point_id: str, action: str, message_id: str, timeout: float) -> None:
        super().__init__(
            f"{charge_point_id!r} did not answer {action} (message {message_id!r}) "
            f"within {timeout:g} s"
        )
        self.charge_point_id = charge_point_id
        self.action = action
        self.message_id = message_id
        self.timeout = timeout


class QueueFull(CsmsError):
    """Too many calls are already waiting to be sent to the charge point."""

    def __init__(self, charge_point_id: str, limit: int) -> None:
        super().__init__(f"{limit} calls are already queued for {charge_point_id!r}")
        self.charge_point_id = charge_point_id
        self.limit = limit


class CallErrorReceived(CsmsError):
    """The charge point answered a call with a CALLERROR."""

    def __init__(
        self,
        charge_point_id: str,
        action: str,
        code: str,
        description: str,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{charge_point_id!r} answered {action} with {code}: {description}")
        self.charge_point_id = charge_point_id
        self.action = action
        # A charge point may send a code outside the enumeration; keep it as given.
        self.code = code
        self.description = description
        self.details: dict[str, Any] = dict(details or {})
