"""Firmware Management (§4.4, §4.5, §5.9, §5.19): messages, operations, status views, and
firmware campaigns across a fleet."""

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
from .campaign import (
    FAILURE_STATUSES,
    CampaignListener,
    CampaignProgress,
    CampaignSender,
    FirmwareCampaign,
)
from .campaign_store import (
    TERMINAL_STATES,
    CampaignEntry,
    CampaignState,
    CampaignStore,
    MemoryCampaignStore,
)
from .service import (
    DiagnosticsStatusReport,
    FirmwareService,
    FirmwareStatusReport,
    LogStatusReport,
)

__all__ = [
    "FAILURE_STATUSES",
    "TERMINAL_STATES",
    "CampaignEntry",
    "CampaignListener",
    "CampaignProgress",
    "CampaignSender",
    "CampaignState",
    "CampaignStore",
    "DiagnosticsStatusNotificationRequest",
    "DiagnosticsStatusNotificationResponse",
    "DiagnosticsStatusReport",
    "FirmwareCampaign",
    "FirmwareService",
    "FirmwareStatusNotificationRequest",
    "FirmwareStatusNotificationResponse",
    "FirmwareStatusReport",
    "GetDiagnosticsRequest",
    "GetDiagnosticsResponse",
    "LogStatusReport",
    "MemoryCampaignStore",
    "UpdateFirmwareRequest",
    "UpdateFirmwareResponse",
]
