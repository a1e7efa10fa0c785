"""OCTT §3.5–§3.7: Reset, UnlockConnector, GetConfiguration and ChangeConfiguration."""

from __future__ import annotations

from ...enums import (
    ChargePointStatus,
    ConfigurationStatus,
    Reason,
    ResetStatus,
    ResetType,
    UnlockStatus,
)
from ...messages import (
    ChangeConfigurationRequest,
    ChangeConfigurationResponse,
    GetConfigurationRequest,
    ResetRequest,
    ResetResponse,
    UnlockConnectorRequest,
    UnlockConnectorResponse,
)
from .case import ConformanceCase, conformance_case
from .model import Need
from .tool import Step, Tool

__all__ = ["OPERATION_CASES", "unlock"]


async def _reset(tool: Tool, reset_type: ResetType) -> None:
    cp = tool.config.charge_point_id
    await tool.connect()
    await tool.booted()
    request: ResetRequest = await tool.expect(
        1,
        ResetRequest,
        lambda operator: operator.reset(cp, reset_type=reset_type),
        ResetResponse(status=ResetStatus.ACCEPTED),
    )
    tool.check_equal(1, "Reset.req", "type", request.type, reset_type)
    # The charge point reboots: a new connection, then BootNotification and statuses.
    await tool.connect(3)
    await tool.boot(4)
    await tool.statuses(6)


@conformance_case(
    "TC_013_CSMS",
    "Hard Reset",
    section="3.5.1",
    checks="Reset type Hard; the BootNotification after the reboot is Accepted",
    needs=(Need.OPERATOR,),
)
async def tc_013(tool: Tool) -> None:
    await _reset(tool, ResetType.HARD)


@conformance_case(
    "TC_014_CSMS",
    "Soft Reset",
    section="3.5.2",
    checks="Reset type Soft; the BootNotification after the reboot is Accepted",
    needs=(Need.OPERATOR,),
)
async def tc_014(tool: Tool) -> None:
    await _reset(tool, ResetType.SOFT)


async def unlock(tool: Tool, step: Step, status: UnlockStatus) -> UnlockConnectorRequest:
    """Have the central system unlock the configured connector; answer ``status``."""
    config = tool.config
    request: UnlockConnectorRequest = await tool.expect(
        step,
        UnlockConnectorRequest,
        lambda operator: operator.unlock_connector(
            config.charge_point_id, connector_id=config.connector_id
        ),
        UnlockConnectorResponse(status=status),
    )
    return request


@conformance_case(
    "TC_017_1_CSMS",
    "Unlock connector - no charging session running (Not fixed cable)",
    section="3.6.1",
    checks="the central system sends UnlockConnector (answered Unlocked)",
    needs=(Need.OPERATOR,),
)
async def tc_017_1(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    await unlock(tool, 1, UnlockStatus.UNLOCKED)


@conformance_case(
    "TC_017_2_CSMS",
    "Unlock connector - no charging session running (Fixed cable)",
    section="3.6.2",
    checks="the central system sends UnlockConnector and takes NotSupported",
    needs=(Need.OPERATOR,),
)
async def tc_017_2(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    await unlock(tool, 1, UnlockStatus.NOT_SUPPORTED)


@conformance_case(
    "TC_018_1_CSMS",
    "Unlock Connector - With Charging Session (Not fixed cable)",
    section="3.6.3",
    checks="UnlockConnector during a transaction; StopTransaction UnlockCommand answered",
    needs=(Need.OPERATOR,),
)
async def tc_018_1(tool: Tool) -> None:
    connector = tool.config.connector_id
    await tool.connect()
    await tool.booted()
    transaction = await tool.charging()
    await unlock(tool, 1, UnlockStatus.UNLOCKED)
    await tool.status(4, connector, ChargePointStatus.FINISHING)
    await tool.stop_transaction(6, transaction, Reason.UNLOCK_COMMAND)
    await tool.status(8, connector, ChargePointStatus.AVAILABLE)


@conformance_case(
    "TC_019_1_CSMS",
    "Retrieve all configuration keys",
    section="3.7.1",
    checks="GetConfiguration without keys (all of them)",
    needs=(Need.OPERATOR,),
)
async def tc_019_1(tool: Tool) -> None:
    cp = tool.config.charge_point_id
    await tool.connect()
    await tool.booted()
    request: GetConfigurationRequest = await tool.expect(
        1, GetConfigurationRequest, lambda operator: operator.get_configuration(cp)
    )
    tool.check(1, "GetConfiguration.req", "The key is <Empty>", not request.key, request.key)


@conformance_case(
    "TC_019_2_CSMS",
    "Retrieve specific configuration key",
    section="3.7.2",
    checks="GetConfiguration for SupportedFeatureProfiles only",
    needs=(Need.OPERATOR,),
)
async def tc_019_2(tool: Tool) -> None:
    cp = tool.config.charge_point_id
    key = "SupportedFeatureProfiles"
    await tool.connect()
    await tool.booted()
    request: GetConfigurationRequest = await tool.expect(
        1, GetConfigurationRequest, lambda operator: operator.get_configuration(cp, keys=[key])
    )
    tool.check_equal(1, "GetConfiguration.req", "The key", request.key, (key,))


async def change_configuration(
    tool: Tool, key: str, value: str, status: ConfigurationStatus
) -> ChangeConfigurationRequest:
    """Have the central system set ``key`` to ``value``; answer ``status``."""
    cp = tool.config.charge_point_id
    request: ChangeConfigurationRequest = await tool.expect(
        1,
        ChangeConfigurationRequest,
        lambda operator: operator.change_configuration(cp, key=key, value=value),
        ChangeConfigurationResponse(status=status),
    )
    return request


@conformance_case(
    "TC_021_CSMS",
    "Change/set Configuration",
    section="3.7.3",
    checks="ChangeConfiguration MeterValueSampleInterval = 60",
    needs=(Need.OPERATOR,),
)
async def tc_021(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()
    request = await change_configuration(
        tool, "MeterValueSampleInterval", "60", ConfigurationStatus.ACCEPTED
    )
    tool.check_equal(
        1, "ChangeConfiguration.req", "The key", request.key, "MeterValueSampleInterval"
    )
    tool.check_equal(1, "ChangeConfiguration.req", "The value", request.value, "60")


OPERATION_CASES: tuple[ConformanceCase, ...] = (
    tc_013,
    tc_014,
    tc_017_1,
    tc_017_2,
    tc_018_1,
    tc_019_1,
    tc_019_2,
    tc_021,
)
"""OCTT §3.5–§3.7, in the document's order."""
