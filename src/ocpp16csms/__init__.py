"""ocpp16csms: the central-system side of OCPP 1.6J, as an embeddable, typed SDK."""

from . import constraints, datatypes, enums, errors, profiles
from .constraints import *  # noqa: F403
from .converter import datetime_to_wire, make_converter, parse_datetime, wire_name
from .datatypes import *  # noqa: F403
from .enums import *  # noqa: F403
from .errors import *  # noqa: F403
from .messages import Direction, Message, Profile, Request, Response
from .profiles import *  # noqa: F403
from .registry import ACTIONS, ActionSpec, action_spec
from .rpc import (
    MAX_MESSAGE_ID_LENGTH,
    Call,
    CallError,
    CallResult,
    Frame,
    FrameError,
    MessageType,
    encode_frame,
    parse_frame,
)

__version__ = "0.1.0.dev0"

__all__ = [
    "ACTIONS",
    "MAX_MESSAGE_ID_LENGTH",
    "ActionSpec",
    "Call",
    "CallError",
    "CallResult",
    "Direction",
    "Frame",
    "FrameError",
    "Message",
    "MessageType",
    "Profile",
    "Request",
    "Response",
    "__version__",
    "action_spec",
    "datetime_to_wire",
    "encode_frame",
    "make_converter",
    "parse_datetime",
    "parse_frame",
    "wire_name",
    *constraints.__all__,
    *datatypes.__all__,
    *enums.__all__,
    *errors.__all__,
    *profiles.__all__,
]
