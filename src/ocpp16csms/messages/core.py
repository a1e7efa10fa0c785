"""Core profile messages (OCPP 1.6 §4 and §5, message tables in §6)."""

# Annotations are evaluated: the constraints in them become validators (see constraints.py).
from datetime import datetime
from typing import Annotated

from ..constraints import (
    CiString20,
    CiString25,
    CiString50,
    CiString255,
    CiString500,
    ConnectorId,
    MinItems,
    PositiveConnectorId,
)
from ..datatypes import ChargingProfile, IdTagInfo, KeyValue, MeterValue
from ..enums import (
    AvailabilityStatus,
    AvailabilityType,
    ChargePointErrorCode,
    ChargePointStatus,
    ClearCacheStatus,
    ConfigurationStatus,
    DataTransferStatus,
    Reason,
    RegistrationStatus,
    RemoteStartStopStatus,
    ResetStatus,
    ResetType,
    UnlockStatus,
)
from .base import Direction, Profile, Request, Response, request, response

__all__ = [
    "AuthorizeRequest",
    "AuthorizeResponse",
    "BootNotificationRequest",
    "BootNotificationResponse",
    "ChangeAvailabilityRequest",
    "ChangeAvailabilityResponse",
    "ChangeConfigurationRequest",
    "ChangeConfigurationResponse",
    "ClearCacheRequest",
    "ClearCacheResponse",
    "DataTransferRequest",
    "DataTransferResponse",
    "GetConfigurationRequest",
    "GetConfigurationResponse",
    "HeartbeatRequest",
    "HeartbeatResponse",
    "MeterValuesRequest",
    "MeterValuesResponse",
    "RemoteStartTransactionRequest",
    "RemoteStartTransactionResponse",
    "RemoteStopTransactionRequest",
    "RemoteStopTransactionResponse",
    "ResetRequest",
    "ResetResponse",
    "StartTransactionRequest",
    "StartTransactionResponse",
    "StatusNotificationRequest",
    "StatusNotificationResponse",
    "StopTransactionRequest",
    "StopTransactionResponse",
    "UnlockConnectorRequest",
    "UnlockConnectorResponse",
]

_FROM_CP = Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM
_TO_CP = Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT
_CORE = Profile.CORE


@request("Authorize", _FROM_CP, _CORE)
class AuthorizeRequest(Request["AuthorizeResponse"]):
    """Asks whether an identifier may charge (§4.1, §6.1)."""

    id_tag: CiString20


@response(AuthorizeRequest)
class AuthorizeResponse(Response):
    """The identifier's status (§6.2)."""

    id_tag_info: IdTagInfo


@request("BootNotification", _FROM_CP, _CORE)
class BootNotificationRequest(Request["BootNotificationResponse"]):
    """Sent by a charge point after (re)booting, describing itself (§4.2, §6.3)."""

    charge_point_model: CiString20
    charge_point_vendor: CiString20
    charge_box_serial_number: CiString25 | None = None
    charge_point_serial_number: CiString25 | None = None
    firmware_version: CiString50 | None = None
    iccid: CiString20 | None = None
    imsi: CiString20 | None = None
    meter_serial_number: CiString25 | None = None
    meter_type: CiString25 | None = None


@response(BootNotificationRequest)
class BootNotificationResponse(Response):
    """Registration status, the central system's time and the heartbeat interval (§6.4)."""

    current_time: datetime
    interval: int
    status: RegistrationStatus


@request("ChangeAvailability", _TO_CP, _CORE)
class ChangeAvailabilityRequest(Request["ChangeAvailabilityResponse"]):
    """Makes a connector (or, with 0, the charge point) operative or inoperative (§5.2, §6.5)."""

    connector_id: ConnectorId
    type: AvailabilityType


@response(ChangeAvailabilityRequest)
class ChangeAvailabilityResponse(Response):
    """Whether the availability change was done, refused or scheduled (§6.6)."""

    status: AvailabilityStatus


@request("ChangeConfiguration", _TO_CP, _CORE)
class ChangeConfigurationRequest(Request["ChangeConfigurationResponse"]):
    """Sets one configuration key (§5.3, §6.7)."""

    key: CiString50
    value: CiString500


@response(ChangeConfigurationRequest)
class ChangeConfigurationResponse(Response):
    """Whether the key was changed (§6.8)."""

    status: ConfigurationStatus


@request("ClearCache", _TO_CP, _CORE)
class ClearCacheRequest(Request["ClearCacheResponse"]):
    """Clears the charge point's authorization cache (§5.4, §6.9)."""


@response(ClearCacheRequest)
class ClearCacheResponse(Response):
    """Whether the cache was cleared (§6.10)."""

    status: ClearCacheStatus


@request("DataTransfer", Direction.BOTH, _CORE)
class DataTransferRequest(Request["DataTransferResponse"]):
    """Vendor-specific data, sent by either side (§4.3, §5.5, §6.17)."""

    vendor_id: CiString255
    message_id: CiString50 | None = None
    data: str | None = None


@response(DataTransferRequest)
class DataTransferResponse(Response):
    """The vendor-specific answer (§6.18)."""

    status: DataTransferStatus
    data: str | None = None


@request("GetConfiguration", _TO_CP, _CORE)
class GetConfigurationRequest(Request["GetConfigurationResponse"]):
    """Asks for configuration keys; no keys means all of them (§5.8, §6.23)."""

    key: tuple[CiString50, ...] | None = None


@response(GetConfigurationRequest)
class GetConfigurationResponse(Response):
    """The known keys with their values, and the keys the charge point does not know (§6.24)."""

    configuration_key: tuple[KeyValue, ...] | None = None
    unknown_key: tuple[CiString50, ...] | None = None


@request("Heartbeat", _FROM_CP, _CORE)
class HeartbeatRequest(Request["HeartbeatResponse"]):
    """Tells the central system the charge point is alive (§4.6, §6.31)."""


@response(HeartbeatRequest)
class HeartbeatResponse(Response):
    """The central system's current time (§6.32)."""

    current_time: datetime


@request("MeterValues", _FROM_CP, _CORE)
class MeterValuesRequest(Request["MeterValuesResponse"]):
    """Sampled meter values of a connector, optionally of a transaction (§4.7, §6.33)."""

    connector_id: ConnectorId
    meter_value: Annotated[tuple[MeterValue, ...], MinItems(1)]
    transaction_id: int | None = None


@response(MeterValuesRequest)
class MeterValuesResponse(Response):
    """Acknowledges meter values (§6.34)."""


@request("RemoteStartTransaction", _TO_CP, _CORE)
class RemoteStartTransactionRequest(Request["RemoteStartTransactionResponse"]):
    """Asks the charge point to start a transaction (§5.11, §6.35)."""

    id_tag: CiString20
    connector_id: PositiveConnectorId | None = None
    charging_profile: ChargingProfile | None = None


@response(RemoteStartTransactionRequest)
class RemoteStartTransactionResponse(Response):
    """Whether the charge point will try to start the transaction (§6.36)."""

    status: RemoteStartStopStatus


@request("RemoteStopTransaction", _TO_CP, _CORE)
class RemoteStopTransactionRequest(Request["RemoteStopTransactionResponse"]):
    """Asks the charge point to stop a transaction (§5.12, §6.37)."""

    transaction_id: int


@response(RemoteStopTransactionRequest)
class RemoteStopTransactionResponse(Response):
    """Whether the charge point will try to stop the transaction (§6.38)."""

    status: RemoteStartStopStatus


@request("Reset", _TO_CP, _CORE)
class ResetRequest(Request["ResetResponse"]):
    """Asks for a soft or hard reset (§5.14, §6.41)."""

    type: ResetType


@response(ResetRequest)
class ResetResponse(Response):
    """Whether the charge point will reset (§6.42)."""

    status: ResetStatus


@request("StartTransaction", _FROM_CP, _CORE)
class StartTransactionRequest(Request["StartTransactionResponse"]):
    """A transaction has started on a connector (§4.8, §6.45)."""

    connector_id: PositiveConnectorId
    id_tag: CiString20
    meter_start: int
    timestamp: datetime
    reservation_id: int | None = None


@response(StartTransactionRequest)
class StartTransactionResponse(Response):
    """The identifier's status and the transaction id the central system assigned (§6.46)."""

    id_tag_info: IdTagInfo
    transaction_id: int


@request("StatusNotification", _FROM_CP, _CORE)
class StatusNotificationRequest(Request["StatusNotificationResponse"]):
    """A connector's (or, with 0, the charge point's) status changed (§4.9, §6.47)."""

    connector_id: ConnectorId
    error_code: ChargePointErrorCode
    status: ChargePointStatus
    info: CiString50 | None = None
    timestamp: datetime | None = None
    vendor_id: CiString255 | None = None
    vendor_error_code: CiString50 | None = None


@response(StatusNotificationRequest)
class StatusNotificationResponse(Response):
    """Acknowledges a status notification (§6.48)."""


@request("StopTransaction", _FROM_CP, _CORE)
class StopTransactionRequest(Request["StopTransactionResponse"]):
    """A transaction has stopped (§4.10, §6.49)."""

    meter_stop: int
    timestamp: datetime
    transaction_id: int
    id_tag: CiString20 | None = None
    reason: Reason | None = None
    transaction_data: tuple[MeterValue, ...] | None = None


@response(StopTransactionRequest)
class StopTransactionResponse(Response):
    """The stopping identifier's status, when an identifier was given (§6.50)."""

    id_tag_info: IdTagInfo | None = None


@request("UnlockConnector", _TO_CP, _CORE)
class UnlockConnectorRequest(Request["UnlockConnectorResponse"]):
    """Asks the charge point to unlock a connector (§5.18, §6.55)."""

    connector_id: PositiveConnectorId


@response(UnlockConnectorRequest)
class UnlockConnectorResponse(Response):
    """Whether the connector was unlocked (§6.56)."""

    status: UnlockStatus
