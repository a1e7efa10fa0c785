"""OCTT §3.1–§3.4: cold boot, charging sessions, the authorization cache, remote start/stop."""

from __future__ import annotations

from ...enums import (
    AuthorizationStatus,
    ChargePointStatus,
    ClearCacheStatus,
    Reason,
    RemoteStartStopStatus,
)
from ...messages import (
    ClearCacheRequest,
    ClearCacheResponse,
    HeartbeatRequest,
    RemoteStartTransactionRequest,
    RemoteStartTransactionResponse,
    RemoteStopTransactionRequest,
    RemoteStopTransactionResponse,
)
from .case import ConformanceCase, conformance_case
from .model import Need
from .tool import Tool

__all__ = ["CORE_CASES"]

_ACCEPTED = AuthorizationStatus.ACCEPTED


@conformance_case(
    "TC_001_CSMS",
    "Cold Boot Charge Point",
    section="3.1.1",
    checks="BootNotification is Accepted; StatusNotification and Heartbeat are answered",
)
async def tc_001(tool: Tool) -> None:
    await tool.connect()
    await tool.boot(2)
    await tool.statuses(4)
    # "A Heartbeat every x seconds": waiting x seconds would show nothing more about the
    # central system than the answers to two heartbeats do.
    for _ in range(2):
        await tool.call(6, HeartbeatRequest())


@conformance_case(
    "TC_003_CSMS",
    "Regular Charging Session - Plugin First",
    section="3.2.1",
    checks="Preparing, Authorize Accepted, StartTransaction Accepted, Charging",
)
async def tc_003(tool: Tool) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    await tool.status(2, config.connector_id, ChargePointStatus.PREPARING)
    authorized = await tool.authorize(4, config.valid_id_tag)
    tool.check_equal(
        4, "Authorize.conf", "idTagInfo.status", authorized.id_tag_info.status, _ACCEPTED
    )
    started = await tool.start_transaction(6)
    tool.check_equal(
        6, "StartTransaction.conf", "idTagInfo.status", started.id_tag_info.status, _ACCEPTED
    )
    await tool.status(8, config.connector_id, ChargePointStatus.CHARGING)


@conformance_case(
    "TC_004_1_CSMS",
    "Regular Charging Session – Identification First",
    section="3.2.2",
    checks="reusable states Authorized then Charging: Authorize and StartTransaction Accepted",
)
async def tc_004_1(tool: Tool) -> None:
    # The document's scenario is the reusable state Charging, reached after Authorized.
    await tool.connect()
    await tool.booted()
    await tool.charging()


@conformance_case(
    "TC_004_2_CSMS",
    "Regular Charging Session – Identification First - ConnectionTimeOut",
    section="3.2.3",
    checks="after Authorized, Preparing then Available (connection timeout) are answered",
)
async def tc_004_2(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    await tool.authorized()
    await tool.status(2, connector, ChargePointStatus.PREPARING)
    # The connection timeout is the charge point's own timer; the central system only sees
    # the next StatusNotification.
    await tool.status(4, connector, ChargePointStatus.AVAILABLE)


@conformance_case(
    "TC_005_1_CSMS",
    "EV Side Disconnected - StopTransactionOnEVSideDisconnect = true - "
    "UnlockConnectorOnEVSideDisconnect = true",
    section="3.2.4",
    checks="SuspendedEV, StopTransaction EVDisconnected, Finishing, Available are answered",
)
async def tc_005_1(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    transaction = await tool.charging()
    await tool.status(2, connector, ChargePointStatus.SUSPENDED_EV)
    await tool.stop_transaction(4, transaction, Reason.EV_DISCONNECTED)
    await tool.status(6, connector, ChargePointStatus.FINISHING)
    await tool.status(8, connector, ChargePointStatus.AVAILABLE)


@conformance_case(
    "TC_007_CSMS",
    "Regular Start Charging Session – Cached Id",
    section="3.3.1",
    checks="StartTransaction without a prior Authorize is Accepted",
)
async def tc_007(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    await tool.status(2, connector, ChargePointStatus.PREPARING)
    started = await tool.start_transaction(4)
    tool.check_equal(
        4, "StartTransaction.conf", "idTagInfo.status", started.id_tag_info.status, _ACCEPTED
    )
    await tool.status(6, connector, ChargePointStatus.CHARGING)


@conformance_case(
    "TC_061_CSMS",
    "Clear Authorization Data in Authorization Cache",
    section="3.3.2",
    checks="the central system sends ClearCache",
    needs=(Need.OPERATOR,),
)
async def tc_061(tool: Tool) -> None:
    cp = tool.config.charge_point_id
    await tool.connect()
    await tool.booted()
    await tool.expect(
        1,
        ClearCacheRequest,
        lambda operator: operator.clear_cache(cp),
        ClearCacheResponse(status=ClearCacheStatus.ACCEPTED),
    )


async def _remote_start(tool: Tool, step: int) -> RemoteStartTransactionRequest:
    config = tool.config
    request: RemoteStartTransactionRequest = await tool.expect(
        step,
        RemoteStartTransactionRequest,
        lambda operator: operator.remote_start(
            config.charge_point_id, id_tag=config.valid_id_tag, connector_id=config.connector_id
        ),
        RemoteStartTransactionResponse(status=RemoteStartStopStatus.ACCEPTED),
    )
    return request


@conformance_case(
    "TC_010_CSMS",
    "Remote Start Charging Session – Cable Plugged in First",
    section="3.4.1",
    checks="RemoteStartTransaction after Preparing; its id tag is Accepted by Authorize and "
    "StartTransaction",
    needs=(Need.OPERATOR,),
)
async def tc_010(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    await tool.status(2, connector, ChargePointStatus.PREPARING)
    request = await _remote_start(tool, 3)
    authorized = await tool.authorize(6, request.id_tag)
    tool.check_equal(
        6, "Authorize.conf", "idTagInfo.status", authorized.id_tag_info.status, _ACCEPTED
    )
    started = await tool.start_transaction(8, id_tag=request.id_tag)
    tool.check_equal(
        8, "StartTransaction.conf", "idTagInfo.status", started.id_tag_info.status, _ACCEPTED
    )
    await tool.status(10, connector, ChargePointStatus.CHARGING)


@conformance_case(
    "TC_011_1_CSMS",
    "Remote Start Charging Session – Remote Start First",
    section="3.4.2",
    checks="RemoteStartTransaction first; its id tag is Accepted by Authorize and StartTransaction",
    needs=(Need.OPERATOR,),
)
async def tc_011_1(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    request = await _remote_start(tool, 1)
    authorized = await tool.authorize(4, request.id_tag)
    tool.check_equal(
        4, "Authorize.conf", "idTagInfo.status", authorized.id_tag_info.status, _ACCEPTED
    )
    await tool.status(6, connector, ChargePointStatus.PREPARING)
    started = await tool.start_transaction(8, id_tag=request.id_tag)
    tool.check_equal(
        8, "StartTransaction.conf", "idTagInfo.status", started.id_tag_info.status, _ACCEPTED
    )
    await tool.status(10, connector, ChargePointStatus.CHARGING)


@conformance_case(
    "TC_011_2_CSMS",
    "Remote Start Charging Session – Time Out",
    section="3.4.3",
    checks="RemoteStartTransaction, Authorize Accepted, then Preparing and Available answered",
    needs=(Need.OPERATOR,),
)
async def tc_011_2(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    request = await _remote_start(tool, 1)
    authorized = await tool.authorize(4, request.id_tag)
    tool.check_equal(
        4, "Authorize.conf", "idTagInfo.status", authorized.id_tag_info.status, _ACCEPTED
    )
    await tool.status(6, connector, ChargePointStatus.PREPARING)
    await tool.status(8, connector, ChargePointStatus.AVAILABLE)


@conformance_case(
    "TC_012_CSMS",
    "Remote Stop Charging Session",
    section="3.4.4",
    checks="RemoteStopTransaction for the running transaction; StopTransaction Remote answered",
    needs=(Need.OPERATOR,),
)
async def tc_012(tool: Tool) -> None:
    config = tool.config
    await tool.connect()
    await tool.booted()
    transaction = await tool.charging()
    request: RemoteStopTransactionRequest = await tool.expect(
        1,
        RemoteStopTransactionRequest,
        lambda operator: operator.remote_stop(config.charge_point_id, transaction_id=transaction),
        RemoteStopTransactionResponse(status=RemoteStartStopStatus.ACCEPTED),
    )
    tool.check_equal(
        1, "RemoteStopTransaction.req", "transactionId", request.transaction_id, transaction
    )
    await tool.stop_transaction(4, transaction, Reason.REMOTE)
    await tool.status(6, config.connector_id, ChargePointStatus.FINISHING)
    await tool.status(8, config.connector_id, ChargePointStatus.AVAILABLE)


CORE_CASES: tuple[ConformanceCase, ...] = (
    tc_001,
    tc_003,
    tc_004_1,
    tc_004_2,
    tc_005_1,
    tc_007,
    tc_061,
    tc_010,
    tc_011_1,
    tc_011_2,
    tc_012,
)
"""OCTT §3.1–§3.4, in the document's order."""
