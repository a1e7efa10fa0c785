"""OCTT §3.14–§3.16 and §3.18: the local authorization list, firmware updates, diagnostics
and TriggerMessage."""

from __future__ import annotations

from datetime import UTC, datetime

from ...datatypes import MeterValue, SampledValue
from ...enums import (
    ChargePointStatus,
    DiagnosticsStatus,
    FirmwareStatus,
    Measurand,
    MessageTrigger,
    ReadingContext,
    TriggerMessageStatus,
    UnitOfMeasure,
    UpdateStatus,
    UpdateType,
)
from ...messages import (
    DiagnosticsStatusNotificationRequest,
    FirmwareStatusNotificationRequest,
    GetDiagnosticsRequest,
    GetDiagnosticsResponse,
    GetLocalListVersionRequest,
    GetLocalListVersionResponse,
    HeartbeatRequest,
    MeterValuesRequest,
    SendLocalListRequest,
    SendLocalListResponse,
    TriggerMessageRequest,
    TriggerMessageResponse,
    UpdateFirmwareRequest,
    UpdateFirmwareResponse,
)
from ...messages.base import Profile
from .case import ConformanceCase, conformance_case
from .model import Need
from .tool import Tool

__all__ = ["FIRMWARE_CASES", "LOCAL_LIST_CASES", "REMOTE_TRIGGER_CASES"]

_OPERATOR = (Need.OPERATOR,)

# -- §3.14 Local Authorization List ---------------------------------------------------------


async def _list_version(tool: Tool, version: int) -> None:
    cp = tool.config.charge_point_id
    await tool.connect()
    await tool.booted()
    await tool.expect(
        1,
        GetLocalListVersionRequest,
        lambda operator: operator.get_local_list_version(cp),
        GetLocalListVersionResponse(list_version=version),
    )


@conformance_case(
    "TC_042_1_CSMS",
    "Get Local List Version (not supported)",
    section="3.14.1",
    checks="the central system sends GetLocalListVersion and takes -1",
    feature=Profile.LOCAL_AUTH_LIST_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_042_1(tool: Tool) -> None:
    await _list_version(tool, -1)


@conformance_case(
    "TC_042_2_CSMS",
    "Get Local List Version (empty)",
    section="3.14.1",
    checks="the central system sends GetLocalListVersion and takes 0",
    feature=Profile.LOCAL_AUTH_LIST_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_042_2(tool: Tool) -> None:
    await _list_version(tool, 0)


async def _send_list(tool: Tool, update_type: UpdateType, status: UpdateStatus) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    request: SendLocalListRequest = await tool.expect(
        1,
        SendLocalListRequest,
        lambda operator: operator.send_local_list(
            config.charge_point_id, update_type=update_type, id_tags=[config.valid_id_tag]
        ),
        SendLocalListResponse(status=status),
    )
    tool.check_equal(1, "SendLocalList.req", "updateType", request.update_type, update_type)
    if status is UpdateStatus.ACCEPTED:
        entries = request.local_authorization_list or ()
        missing = [entry.id_tag for entry in entries if entry.id_tag_info is None]
        tool.check(
            1,
            "SendLocalList.req",
            "All localAuthorizationList entries have an idTagInfo",
            bool(entries) and not missing,
            f"entries without one: {', '.join(missing)}" if missing else "no entries",
        )


@conformance_case(
    "TC_043_1_CSMS",
    "Send Local Authorization List - NotSupported",
    section="3.14.2",
    checks="SendLocalList Full; NotSupported taken",
    feature=Profile.LOCAL_AUTH_LIST_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_043_1(tool: Tool) -> None:
    await _send_list(tool, UpdateType.FULL, UpdateStatus.NOT_SUPPORTED)


@conformance_case(
    "TC_043_3_CSMS",
    "Send Local Authorization List - Failed",
    section="3.14.2",
    checks="SendLocalList Full; Failed taken",
    feature=Profile.LOCAL_AUTH_LIST_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_043_3(tool: Tool) -> None:
    await _send_list(tool, UpdateType.FULL, UpdateStatus.FAILED)


@conformance_case(
    "TC_043_4_CSMS",
    "Send Local Authorization List - Full",
    section="3.14.2",
    checks="SendLocalList Full, every entry with an idTagInfo; Accepted",
    feature=Profile.LOCAL_AUTH_LIST_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_043_4(tool: Tool) -> None:
    await _send_list(tool, UpdateType.FULL, UpdateStatus.ACCEPTED)


@conformance_case(
    "TC_043_5_CSMS",
    "Send Local Authorization List - Differential",
    section="3.14.2",
    checks="SendLocalList Differential, every entry with an idTagInfo; Accepted",
    feature=Profile.LOCAL_AUTH_LIST_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_043_5(tool: Tool) -> None:
    # Steps 1–2 (GetLocalListVersion) are optional; if the central system asks first, the
    # tool's usual answer (version 0) serves.
    await _send_list(tool, UpdateType.DIFFERENTIAL, UpdateStatus.ACCEPTED)


LOCAL_LIST_CASES: tuple[ConformanceCase, ...] = (
    tc_042_1,
    tc_042_2,
    tc_043_1,
    tc_043_3,
    tc_043_4,
    tc_043_5,
)
"""OCTT §3.14, in the document's order."""

# -- §3.15 Firmware Management, §3.16 Diagnostics -------------------------------------------


async def _firmware_status(tool: Tool, step: int, status: FirmwareStatus) -> None:
    await tool.call(step, FirmwareStatusNotificationRequest(status=status))


async def _update_firmware(tool: Tool) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    request: UpdateFirmwareRequest = await tool.expect(
        1,
        UpdateFirmwareRequest,
        lambda operator: operator.update_firmware(
            config.charge_point_id,
            location=config.firmware_location,
            retrieve_date=datetime.now(UTC),
        ),
        UpdateFirmwareResponse(),
    )
    tool.check_equal(
        1, "UpdateFirmware.req", "The firmware.location", request.location, config.firmware_location
    )
    await _firmware_status(tool, 4, FirmwareStatus.DOWNLOADING)


async def _install_firmware(tool: Tool, outcome: FirmwareStatus) -> None:
    await _firmware_status(tool, 6, FirmwareStatus.DOWNLOADED)
    await tool.statuses(8, ChargePointStatus.UNAVAILABLE)
    await _firmware_status(tool, 10, FirmwareStatus.INSTALLING)
    await tool.connect(11)  # the charge point reboots into the new firmware
    await tool.boot(12)
    await tool.statuses(14)
    await _firmware_status(tool, 16, outcome)


@conformance_case(
    "TC_044_1_CSMS",
    "Firmware Update - Download and Install",
    section="3.15.1",
    checks="UpdateFirmware with the configured location; every status through Installed and "
    "the reboot answered",
    feature=Profile.FIRMWARE_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_044_1(tool: Tool) -> None:
    await _update_firmware(tool)
    await _install_firmware(tool, FirmwareStatus.INSTALLED)


@conformance_case(
    "TC_044_2_CSMS",
    "Firmware Update - Download Failed",
    section="3.15.2",
    checks="UpdateFirmware; Downloading and DownloadFailed answered",
    feature=Profile.FIRMWARE_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_044_2(tool: Tool) -> None:
    await _update_firmware(tool)
    await _firmware_status(tool, 6, FirmwareStatus.DOWNLOAD_FAILED)


@conformance_case(
    "TC_044_3_CSMS",
    "Firmware Update - Installation Failed",
    section="3.15.3",
    checks="UpdateFirmware; every status through InstallationFailed and the reboot answered",
    feature=Profile.FIRMWARE_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_044_3(tool: Tool) -> None:
    await _update_firmware(tool)
    await _install_firmware(tool, FirmwareStatus.INSTALLATION_FAILED)


async def _diagnostics(tool: Tool, outcome: DiagnosticsStatus) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    await tool.expect(
        1,
        GetDiagnosticsRequest,
        lambda operator: operator.get_diagnostics(
            config.charge_point_id, location=config.diagnostics_location
        ),
        GetDiagnosticsResponse(file_name="octt-diagnostics.log"),
    )
    for step, status in ((4, DiagnosticsStatus.UPLOADING), (6, outcome)):
        await tool.call(step, DiagnosticsStatusNotificationRequest(status=status))


@conformance_case(
    "TC_045_1_CSMS",
    "Get Diagnostics",
    section="3.16.1",
    checks="GetDiagnostics; Uploading and Uploaded answered",
    feature=Profile.FIRMWARE_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_045_1(tool: Tool) -> None:
    await _diagnostics(tool, DiagnosticsStatus.UPLOADED)


@conformance_case(
    "TC_045_2_CSMS",
    "Get Diagnostics - Upload Failed",
    section="3.16.2",
    checks="GetDiagnostics; Uploading and UploadFailed answered",
    feature=Profile.FIRMWARE_MANAGEMENT,
    needs=_OPERATOR,
)
async def tc_045_2(tool: Tool) -> None:
    await _diagnostics(tool, DiagnosticsStatus.UPLOAD_FAILED)


FIRMWARE_CASES: tuple[ConformanceCase, ...] = (
    tc_044_1,
    tc_044_2,
    tc_044_3,
    tc_045_1,
    tc_045_2,
)
"""OCTT §3.15–§3.16, in the document's order."""

# -- §3.18 Remote Trigger -----------------------------------------------------------------


async def _trigger(
    tool: Tool,
    step: int,
    requested: MessageTrigger,
    connector_id: int | None = None,
    status: TriggerMessageStatus = TriggerMessageStatus.ACCEPTED,
) -> None:
    cp = tool.config.charge_point_id
    request: TriggerMessageRequest = await tool.expect(
        step,
        TriggerMessageRequest,
        lambda operator: operator.trigger_message(
            cp, requested_message=requested, connector_id=connector_id
        ),
        TriggerMessageResponse(status=status),
    )
    tool.check_equal(
        step, "TriggerMessage.req", "requestedMessage", request.requested_message, requested
    )
    if connector_id is not None:
        tool.check_equal(
            step, "TriggerMessage.req", "connectorId", request.connector_id, connector_id
        )


@conformance_case(
    "TC_054_CSMS",
    "Trigger Message",
    section="3.18.1",
    checks="TriggerMessage for MeterValues, Heartbeat, StatusNotification, "
    "DiagnosticsStatusNotification, FirmwareStatusNotification; each triggered message answered",
    feature=Profile.REMOTE_TRIGGER,
    needs=_OPERATOR,
)
async def tc_054(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    await _trigger(tool, 1, MessageTrigger.METER_VALUES, connector)
    sample = SampledValue(
        value=str(tool.meter),
        context=ReadingContext.TRIGGER,
        measurand=Measurand.ENERGY_ACTIVE_IMPORT_REGISTER,
        unit=UnitOfMeasure.WH,
    )
    await tool.call(
        4,
        MeterValuesRequest(
            connector_id=connector,
            meter_value=(MeterValue(timestamp=datetime.now(UTC), sampled_value=(sample,)),),
        ),
    )
    await _trigger(tool, 5, MessageTrigger.HEARTBEAT)
    await tool.call(8, HeartbeatRequest())
    await _trigger(tool, 9, MessageTrigger.STATUS_NOTIFICATION, connector)
    await tool.status(12, connector, ChargePointStatus.AVAILABLE)
    await _trigger(tool, 13, MessageTrigger.DIAGNOSTICS_STATUS_NOTIFICATION)
    await tool.call(16, DiagnosticsStatusNotificationRequest(status=DiagnosticsStatus.IDLE))
    await _trigger(tool, 17, MessageTrigger.FIRMWARE_STATUS_NOTIFICATION)
    await _firmware_status(tool, 20, FirmwareStatus.IDLE)


@conformance_case(
    "TC_055_CSMS",
    "Trigger Message - Rejected",
    section="3.18.2",
    checks="TriggerMessage MeterValues for connector NumberOfConnectors + 1; Rejected taken",
    feature=Profile.REMOTE_TRIGGER,
    needs=_OPERATOR,
)
async def tc_055(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    await _trigger(
        tool,
        1,
        MessageTrigger.METER_VALUES,
        tool.config.number_of_connectors + 1,
        TriggerMessageStatus.REJECTED,
    )


REMOTE_TRIGGER_CASES: tuple[ConformanceCase, ...] = (tc_054, tc_055)
"""OCTT §3.18, in the document's order."""
