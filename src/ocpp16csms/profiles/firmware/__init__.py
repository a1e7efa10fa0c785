"""Firmware Management (§4.4, §4.5, §5.9, §5.19): messages, operations and status views."""

from ...messages.firmware import (
    DiagnosticsStatusNotificationRequest,
    DiagnosticsStatusNotificationResponse,
    FirmwareStatusNotificationRequest,
    FirmwareStatusNotificationResponse,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
)
from .service import (
    DiagnosticsStatusReport,
    FirmwareService,
    FirmwareStatusReport,
    LogStatusReport,
)

__all__ = [
    "DiagnosticsStatusNotificationRequest",
    "DiagnosticsStatusNotificationResponse",
    "DiagnosticsStatusReport",
    "FirmwareService",
    "FirmwareStatusNotificationRequest",
    "FirmwareStatusNotificationResponse",
    "FirmwareStatusReport",
    "GetDiagnosticsRequest",
    "GetDiagnosticsResponse",
    "LogStatusReport",
    "UpdateFirmwareRequest",
    "UpdateFirmwareResponse",
]
