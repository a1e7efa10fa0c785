"""Firmware Management profile messages (OCPP 1.6 §4.4, §4.5, §5.9, §5.19)."""

# Annotations are evaluated: the constraints in them become validators (see constraints.py).
from datetime import datetime

from ..constraints import CiString255
from ..enums import DiagnosticsStatus, FirmwareStatus
from .base import Direction, Profile, Request, Response, request, response

__all__ = [
    "DiagnosticsStatusNotificationRequest",
    "DiagnosticsStatusNotificationResponse",
    "FirmwareStatusNotificationRequest",
    "FirmwareStatusNotificationResponse",
    "GetDiagnosticsRequest",
    "GetDiagnosticsResponse",
    "UpdateFirmwareRequest",
    "UpdateFirmwareResponse",
]

_FROM_CP = Direction.CHARGE_POINT_TO_CENTRAL_SYSTEM
_TO_CP = Direction.CENTRAL_SYSTEM_TO_CHARGE_POINT
_FIRMWARE = Profile.FIRMWARE_MANAGEMENT


@request("GetDiagnostics", _TO_CP, _FIRMWARE)
class GetDiagnosticsRequest(Request["GetDiagnosticsResponse"]):
    """Asks the charge point to upload diagnostics to ``location`` (§5.9, §6.29)."""

    location: str
    retries: int | None = None
    retry_interval: int | None = None
    start_time: datetime | None = None
    stop_time: datetime | None = None


@response(GetDiagnosticsRequest)
class GetDiagnosticsResponse(Response):
    """The name of the file that will be uploaded, when there is one (§6.30)."""

    file_name: CiString255 | None = None


@request("DiagnosticsStatusNotification", _FROM_CP, _FIRMWARE)
class DiagnosticsStatusNotificationRequest(Request["DiagnosticsStatusNotificationResponse"]):
    """Progress of a diagnostics upload (§4.4, §6.19)."""

    status: DiagnosticsStatus


@response(DiagnosticsStatusNotificationRequest)
class DiagnosticsStatusNotificationResponse(Response):
    """Acknowledges the notification (§6.20)."""


@request("FirmwareStatusNotification", _FROM_CP, _FIRMWARE)
class FirmwareStatusNotificationRequest(Request["FirmwareStatusNotificationResponse"]):
    """Progress of a firmware update (§4.5, §6.25)."""

    status: FirmwareStatus


@response(FirmwareStatusNotificationRequest)
class FirmwareStatusNotificationResponse(Response):
    """Acknowledges the notification (§6.26)."""


@request("UpdateFirmware", _TO_CP, _FIRMWARE)
class UpdateFirmwareRequest(Request["UpdateFirmwareResponse"]):
    """Asks the charge point to fetch and install firmware from ``location`` (§5.19, §6.53)."""

    location: str
    retrieve_date: datetime
    retries: int | None = None
    retry_interval: int | None = None


@response(UpdateFirmwareRequest)
class UpdateFirmwareResponse(Response):
    """Acknowledges the request (§6.54)."""
