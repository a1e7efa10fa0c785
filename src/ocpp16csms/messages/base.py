"""Base classes of every OCPP request and response class, and what each one knows about itself."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import Any, ClassVar, Generic, TypeVar, dataclass_transform

import attrs

from ..constraints import message_class

__all__ = ["Direction", "Message", "Profile", "Request", "Response", "request", "response"]


class Direction(StrEnum):
    """Who sends an action's request."""

    CHARGE_POINT_TO_CENTRAL_SYSTEM = "ChargePointToCentralSystem"
    CENTRAL_SYSTEM_TO_CHARGE_POINT = "CentralSystemToChargePoint"
    BOTH = "Both"
    """DataTransfer: either side may send it."""


class Profile(StrEnum):
    """Feature profiles; values are the ``SupportedFeatureProfiles`` names (§3.1), plus Security
    and Plug & Charge."""

    CORE = "Core"
    FIRMWARE_MANAGEMENT = "FirmwareManagement"
    LOCAL_AUTH_LIST_MANAGEMENT = "LocalAuthListManagement"
    RESERVATION = "Reservation"
    SMART_CHARGING = "SmartCharging"
    REMOTE_TRIGGER = "RemoteTrigger"
    SECURITY = "Security"
    """The OCPP 1.6 security whitepaper (edition 2) extensions."""
    PLUG_AND_CHARGE = "PlugAndCharge"
    """ISO 15118 Plug & Charge over DataTransfer (OCA application note); no 1.6 actions."""


class Message:
    """A typed OCPP payload; subclasses are frozen attrs classes."""

    __slots__ = ()
    action: ClassVar[str]
    direction: ClassVar[Direction]
    profile: ClassVar[Profile]
    schema_name: ClassVar[str]
    """Stem of the JSON schema file that validates this payload."""


_R_co = TypeVar("_R_co", bound="Response", covariant=True)


class Request(Message, Generic[_R_co]):
    """The payload of a CALL; ``Request[XResponse]`` is answered by an ``XResponse``."""

    __slots__ = ()
    response_type: ClassVar[type[Response]]
    """The class of the CALLRESULT payload that answers this request."""


class Response(Message):
    """The payload of a CALLRESULT."""

    __slots__ = ()


_Req = TypeVar("_Req", bound=type[Request[Any]])
_Res = TypeVar("_Res", bound=type[Response])


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(attrs.field,))
def request(action: str, direction: Direction, profile: Profile) -> Callable[[_Req], _Req]:
    """Class decorator: a frozen request class for ``action``, its constraints enforced."""

    def decorate(cls: _Req) -> _Req:
        built = message_class(cls)
        built.action = action
        built.direction = direction
        built.profile = profile
        built.schema_name = action
        return built

    return decorate


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(attrs.field,))
def response(request_type: type[Request[Any]]) -> Callable[[_Res], _Res]:
    """Class decorator: the frozen response class answering ``request_type``."""

    def decorate(cls: _Res) -> _Res:
        built = message_class(cls)
        built.action = request_type.action
        built.direction = request_type.direction
        built.profile = request_type.profile
        built.schema_name = f"{request_type.action}Response"
        request_type.response_type = built
        return built

    return decorate
