"""ocpp16csms: the central-system side of OCPP 1.6J, as an embeddable, typed SDK.

The top level holds the engine, its options and events, the errors and the store factories.
Messages, enumerations and datatypes are in :mod:`ocpp16csms.messages`; each feature's
service, pure logic and store are in ``ocpp16csms.profiles.<feature>`` (docs/architecture.md).
"""

from .attached import AttachedConnection
from .bundle import Stores, memory_stores
from .central_system import CallRouter, CentralSystem, FeatureNotEnabled
from .connection import (
    Connection,
    FrameSender,
    MemoryConnection,
    TransportClosed,
    memory_connection_pair,
)
from .engine import (
    AfterHook,
    AnswerHook,
    CallContext,
    CentralSystemOptions,
    ChargePointConnected,
    ChargePointDisconnected,
    Engine,
    Exchange,
    Handler,
    Observer,
    PeerViolationObserved,
    PreSendCheck,
    UnknownChargePointPolicy,
)
from .errors import (
    ActionNotImplemented,
    CallErrorReceived,
    CallTimeout,
    ChargePointNotAccepted,
    ChargePointNotConnected,
    ConnectionLost,
    CsmsError,
    ErrorCode,
    FormationViolation,
    GenericError,
    InternalError,
    InvalidRequest,
    LocalProtocolError,
    NotSupported,
    OccurenceConstraintViolation,
    OcppError,
    PropertyConstraintViolation,
    ProtocolError,
    QueueFull,
    RemoteProtocolError,
    SecurityError,
    TypeConstraintViolation,
)
from .messages.base import Profile
from .rpc import FrameError
from .stores.records import ChargePointRecord, IdTagRecord, StoreError
from .stores.sqlite import SqliteStores, sqlite_stores
from .validation import Relaxation, RelaxedRule, ValidationPolicy

__all__ = [
    "ActionNotImplemented",
    "AfterHook",
    "AnswerHook",
    "AttachedConnection",
    "CallContext",
    "CallErrorReceived",
    "CallRouter",
    "CallTimeout",
    "CentralSystem",
    "CentralSystemOptions",
    "ChargePointConnected",
    "ChargePointDisconnected",
    "ChargePointNotAccepted",
    "ChargePointNotConnected",
    "ChargePointRecord",
    "Connection",
    "ConnectionLost",
    "CsmsError",
    "Engine",
    "ErrorCode",
    "Exchange",
    "FeatureNotEnabled",
    "FormationViolation",
    "FrameError",
    "FrameSender",
    "GenericError",
    "Handler",
    "IdTagRecord",
    "InternalError",
    "InvalidRequest",
    "LocalProtocolError",
    "MemoryConnection",
    "NotSupported",
    "Observer",
    "OccurenceConstraintViolation",
    "OcppError",
    "PeerViolationObserved",
    "PreSendCheck",
    "Profile",
    "PropertyConstraintViolation",
    "ProtocolError",
    "QueueFull",
    "Relaxation",
    "RelaxedRule",
    "RemoteProtocolError",
    "SecurityError",
    "SqliteStores",
    "StoreError",
    "Stores",
    "TransportClosed",
    "TypeConstraintViolation",
    "UnknownChargePointPolicy",
    "ValidationPolicy",
    "memory_connection_pair",
    "memory_stores",
    "sqlite_stores",
]
