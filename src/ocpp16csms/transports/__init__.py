"""Transport adapters. The handshake rules are here; the servers live in optional modules:
``ocpp16csms.transports.websockets`` (extra ``websockets``) and ``ocpp16csms.transports.asgi``."""

from .handshake import (
    MAX_CHARGE_POINT_ID_LENGTH,
    REFUSAL_CAUSES,
    SUBPROTOCOL,
    HandshakeOptions,
    HandshakeRefused,
    Peer,
    basic_credentials,
    charge_point_id_from_path,
    decide,
    password_check_needed,
    select_subprotocol,
    single_header,
    unknown_charge_points_allowed,
)
from .throttle import AuthThrottle

__all__ = [
    "MAX_CHARGE_POINT_ID_LENGTH",
    "REFUSAL_CAUSES",
    "SUBPROTOCOL",
    "AuthThrottle",
    "HandshakeOptions",
    "HandshakeRefused",
    "Peer",
    "basic_credentials",
    "charge_point_id_from_path",
    "decide",
    "password_check_needed",
    "select_subprotocol",
    "single_header",
    "unknown_charge_points_allowed",
]
