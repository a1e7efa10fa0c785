"""OCTT §3.8–§3.13 and §3.20: refused id tags, refused requests, power loss, offline
transactions, refused configuration, and DataTransfer."""

from __future__ import annotations

from ...enums import (
    AuthorizationStatus,
    ChargePointErrorCode,
    ChargePointStatus,
    ConfigurationStatus,
    DataTransferStatus,
    Reason,
    RemoteStartStopStatus,
    UnlockStatus,
)
from ...messages import (
    DataTransferRequest,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
)
from .case import ConformanceCase, conformance_case
from .cases_operations import change_configuration, unlock
from .model import Need
from .tool import Tool, offline_timestamp

__all__ = ["DATA_TRANSFER_CASES", "FAULT_CASES"]


async def _authorize_refused(
    tool: Tool, id_tag: str, status: AuthorizationStatus, *, memory_state: bool
) -> None:
    if memory_state:
        # Prerequisite (memory state): the central system holds the id tag with this status.
        await tool.operator.set_id_tag_status(id_tag, status)
    await tool.connect()
    await tool.booted()
    answer = await tool.authorize(2, id_tag)
    tool.check_equal(2, "Authorize.conf", "idTagInfo.status", answer.id_tag_info.status, status)


@conformance_case(
    "TC_023_1_CSMS",
    "Start Charging Session – Authorize invalid",
    section="3.8.1",
    checks="Authorize of an unknown id tag is answered Invalid",
)
async def tc_023_1(tool: Tool) -> None:
    await _authorize_refused(
        tool, tool.config.invalid_id_tag, AuthorizationStatus.INVALID, memory_state=False
    )


@conformance_case(
    "TC_023_2_CSMS",
    "Start Charging Session – Authorize expired",
    section="3.8.2",
    checks="Authorize of an id tag held as Expired is answered Expired",
    needs=(Need.OPERATOR,),
)
async def tc_023_2(tool: Tool) -> None:
    await _authorize_refused(
        tool, tool.config.expired_id_tag, AuthorizationStatus.EXPIRED, memory_state=True
    )


@conformance_case(
    "TC_023_3_CSMS",
    "Start Charging Session – Authorize blocked",
    section="3.8.3",
    checks="Authorize of an id tag held as Blocked is answered Blocked",
    needs=(Need.OPERATOR,),
)
async def tc_023_3(tool: Tool) -> None:
    await _authorize_refused(
        tool, tool.config.blocked_id_tag, AuthorizationStatus.BLOCKED, memory_state=True
    )


@conformance_case(
    "TC_024_CSMS",
    "Start Charging Session Lock Failure",
    section="3.8.4",
    checks="Preparing, then Faulted with ConnectorLockFailure, are answered",
)
async def tc_024(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    await tool.authorized()
    await tool.status(2, connector, ChargePointStatus.PREPARING)
    await tool.status(
        4, connector, ChargePointStatus.FAULTED, ChargePointErrorCode.CONNECTOR_LOCK_FAILURE
    )


@conformance_case(
    "TC_026_CSMS",
    "Remote Start Charging Session – Rejected",
    section="3.9.1",
    checks="the central system sends RemoteStartTransaction and takes Rejected",
    needs=(Need.OPERATOR,),
)
async def tc_026(tool: Tool) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    await tool.expect(
        1,
        RemoteStartTransactionRequest,
        lambda operator: operator.remote_start(
            config.charge_point_id, id_tag=config.valid_id_tag, connector_id=config.connector_id
        ),
        RemoteStartTransactionResponse(status=RemoteStartStopStatus.REJECTED),
    )


@conformance_case(
    "TC_028_CSMS",
    "Remote Stop Transaction – Rejected",
    section="3.9.2",
    checks="the central system sends RemoteStopTransaction and takes Rejected",
    needs=(Need.OPERATOR,),
)
async def tc_028(tool: Tool) -> None:
    cp = tool.config.charge_point_id
    await tool.connect()
    await tool.booted()
    transaction = await tool.charging()
    await tool.expect(
        1,
        RemoteStopTransactionRequest,
        lambda operator: operator.remote_stop(cp, transaction_id=transaction),
        RemoteStopTransactionResponse(status=RemoteStartStopStatus.REJECTED),
    )


@conformance_case(
    "TC_030_CSMS",
    "Unlock Connector – Unlock Failure",
    section="3.10.1",
    checks="the central system sends UnlockConnector and takes UnlockFailed",
    needs=(Need.OPERATOR,),
)
async def tc_030(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    await unlock(tool, 1, UnlockStatus.UNLOCK_FAILED)


@conformance_case(
    "TC_031_CSMS",
    "Unlock Connector – Unknown Connector",
    section="3.10.2",
    checks="the central system sends UnlockConnector and takes NotSupported",
    needs=(Need.OPERATOR,),
)
async def tc_031(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    await unlock(tool, 1, UnlockStatus.NOT_SUPPORTED)


@conformance_case(
    "TC_032_1_CSMS",
    "Power failure boot charging point-configured to stop transaction(s)",
    section="3.11.1",
    checks="after a reboot: BootNotification Accepted, Finishing/Available, StopTransaction "
    "PowerLoss answered",
)
async def tc_032_1(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    transaction = await tool.charging()
    await tool.connect(1)  # power back: a new connection
    await tool.boot(2)
    await tool.statuses(4, overrides={connector: ChargePointStatus.FINISHING})
    await tool.stop_transaction(6, transaction, Reason.POWER_LOSS)


@conformance_case(
    "TC_037_1_CSMS",
    "Offline Start Transaction - Valid IdTag",
    section="3.12.1",
    checks="a StartTransaction queued while offline is Accepted after reconnecting",
)
async def tc_037_1(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    await tool.disconnect()  # offline: the transaction starts meanwhile
    await tool.connect(1)
    started = await tool.start_transaction(2, timestamp=offline_timestamp())
    tool.check_equal(
        2,
        "StartTransaction.conf",
        "idTagInfo.status",
        started.id_tag_info.status,
        AuthorizationStatus.ACCEPTED,
    )
    await tool.status(4, connector, ChargePointStatus.CHARGING)


@conformance_case(
    "TC_037_3_CSMS",
    "Offline Start Transaction - Invalid IdTag - StopTransactionOnInvalidId = true",
    section="3.12.2",
    checks="a queued StartTransaction of an unknown id tag is answered Invalid; "
    "StopTransaction DeAuthorized answered",
)
async def tc_037_3(tool: Tool) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    await tool.disconnect()
    await tool.connect(1)
    started = await tool.start_transaction(
        2, id_tag=config.invalid_id_tag, timestamp=offline_timestamp()
    )
    tool.check_equal(
        2,
        "StartTransaction.conf",
        "idTagInfo.status",
        started.id_tag_info.status,
        AuthorizationStatus.INVALID,
    )
    await tool.status(4, config.connector_id, ChargePointStatus.CHARGING)
    await tool.stop_transaction(6, started.transaction_id, Reason.DE_AUTHORIZED)
    await tool.status(8, config.connector_id, ChargePointStatus.FINISHING)


@conformance_case(
    "TC_039_CSMS",
    "Offline Transaction",
    section="3.12.3",
    checks="a whole transaction queued while offline: StartTransaction Accepted, "
    "StopTransaction answered",
)
async def tc_039(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    await tool.disconnect()
    await tool.connect(1)
    started = await tool.start_transaction(2, timestamp=offline_timestamp(120))
    tool.check_equal(
        2,
        "StartTransaction.conf",
        "idTagInfo.status",
        started.id_tag_info.status,
        AuthorizationStatus.ACCEPTED,
    )
    await tool.stop_transaction(
        4, started.transaction_id, Reason.LOCAL, timestamp=offline_timestamp(60)
    )


@conformance_case(
    "TC_040_1_CSMS",
    "Configuration keys",
    section="3.13.1",
    checks="ChangeConfiguration of a key the charge point does not know; NotSupported taken",
    needs=(Need.OPERATOR,),
)
async def tc_040_1(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    await change_configuration(tool, "OcttUnknownKey", "1", ConfigurationStatus.NOT_SUPPORTED)


@conformance_case(
    "TC_040_2_CSMS",
    "Configuration Keys",
    section="3.13.2",
    checks="ChangeConfiguration MeterValueSampleInterval = -1; Rejected taken",
    needs=(Need.OPERATOR,),
)
async def tc_040_2(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    request = await change_configuration(
        tool, "MeterValueSampleInterval", "-1", ConfigurationStatus.REJECTED
    )
    tool.check_equal(
        1, "ChangeConfiguration.req", "The key", request.key, "MeterValueSampleInterval"
    )
    tool.check_equal(1, "ChangeConfiguration.req", "value", request.value, "-1")


_REFUSED = (
    DataTransferStatus.REJECTED,
    DataTransferStatus.UNKNOWN_MESSAGE_ID,
    DataTransferStatus.UNKNOWN_VENDOR_ID,
)


@conformance_case(
    "TC_064_CSMS",
    "Data Transfer to a Central System",
    section="3.20.1",
    checks="DataTransfer of an unknown vendor is answered Rejected, UnknownMessageId or "
    "UnknownVendorId",
)
async def tc_064(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    answer = await tool.call(
        2,
        DataTransferRequest(
            vendor_id=tool.config.data_transfer_vendor_id, message_id="OcttTest", data="octt"
        ),
    )
    if answer.status is DataTransferStatus.ACCEPTED:
        # The document allows Accepted, with a warning to the vendor.
        tool.check(
            2, "DataTransfer.conf", "The status is Accepted: allowed, but not expected", True
        )
        return
    expected = " OR ".join(status.value for status in _REFUSED)
    tool.check(
        2,
        "DataTransfer.conf",
        f"The status is {expected}",
        answer.status in _REFUSED,
        answer.status,
    )


FAULT_CASES: tuple[ConformanceCase, ...] = (
    tc_023_1,
    tc_023_2,
    tc_023_3,
    tc_024,
    tc_026,
    tc_028,
    tc_030,
    tc_031,
    tc_032_1,
    tc_037_1,
    tc_037_3,
    tc_039,
    tc_040_1,
    tc_040_2,
)
"""OCTT §3.8–§3.13, in the document's order."""

DATA_TRANSFER_CASES: tuple[ConformanceCase, ...] = (tc_064,)
"""OCTT §3.20."""
