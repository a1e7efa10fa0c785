"""OCTT §3.17: ReserveNow and CancelReservation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ...enums import (
    AuthorizationStatus,
    AvailabilityStatus,
    AvailabilityType,
    CancelReservationStatus,
    ChargePointStatus,
    Reason,
    ReservationStatus,
)
from ...messages import (
    CancelReservationRequest,
    CancelReservationResponse,
    ChangeAvailabilityRequest,
    ChangeAvailabilityResponse,
    ReserveNowRequest,
    ReserveNowResponse,
)
from ...messages.base import Profile
from .case import ConformanceCase, conformance_case
from .model import Need
from .tool import Step, Tool

__all__ = ["RESERVATION_CASES"]

_NEEDS = (Need.OPERATOR,)
_RESERVATION = Profile.RESERVATION
# How far the expiry date may be from now + the configured offset (TC_047_CSMS): the time
# the request took, and an operator typing it in.
_EXPIRY_TOLERANCE = timedelta(minutes=2)


async def _reserve(
    tool: Tool,
    step: Step,
    status: ReservationStatus,
    *,
    connector_id: int | None = None,
    parent_id_tag: str | None = None,
) -> ReserveNowRequest:
    """Have the central system reserve a connector for the valid id tag; answer ``status``;
    check the connector and id tag it names."""
    config = tool.config
    connector = config.connector_id if connector_id is None else connector_id
    request: ReserveNowRequest = await tool.expect(
        step,
        ReserveNowRequest,
        lambda operator: operator.reserve_now(
            config.charge_point_id,
            connector_id=connector,
            id_tag=config.valid_id_tag,
            expiry_date=tool.expiry_date(),
            parent_id_tag=parent_id_tag,
        ),
        ReserveNowResponse(status=status),
    )
    message = "ReserveNow.req"
    if connector == 0:
        tool.check_equal(step, message, "The connectorId", request.connector_id, 0)
    else:
        tool.check_equal(step, message, "The connectorId", request.connector_id, connector)
    tool.check(
        step,
        message,
        f"The idTag is {config.valid_id_tag}",
        request.id_tag.casefold() == config.valid_id_tag.casefold(),
        request.id_tag,
    )
    return request


async def _start(tool: Tool) -> None:
    await tool.connect()
    await tool.booted()


@conformance_case(
    "TC_046_CSMS",
    "Reservation of a Connector - Transaction",
    section="3.17.1",
    checks="ReserveNow for the configured connector and id tag; the reserved transaction "
    "(with the reservationId) is Accepted",
    feature=_RESERVATION,
    needs=_NEEDS,
)
async def tc_046(tool: Tool) -> None:
    await _start(tool)
    request = await _reserve(tool, 1, ReservationStatus.ACCEPTED)
    await tool.status(4, request.connector_id, ChargePointStatus.RESERVED)
    await tool.charging(reservation_id=request.reservation_id)


@conformance_case(
    "TC_047_CSMS",
    "Reservation of a Connector - Expire",
    section="3.17.1",
    checks="ReserveNow with expiryDate now + the configured offset; Reserved then Available "
    "answered",
    feature=_RESERVATION,
    needs=_NEEDS,
)
async def tc_047(tool: Tool) -> None:
    await _start(tool)
    expected = datetime.now(UTC) + tool.config.reservation_expiry
    request = await _reserve(tool, 1, ReservationStatus.ACCEPTED)
    tool.check(
        1,
        "ReserveNow.req",
        "The expiryDate is the current time plus <Configured Expiry Date Offset>",
        abs(request.expiry_date - expected) <= _EXPIRY_TOLERANCE,
        request.expiry_date.isoformat(),
    )
    await tool.status(4, request.connector_id, ChargePointStatus.RESERVED)
    # The expiry date passes on the charge point; the central system sees Available.
    await tool.status(6, request.connector_id, ChargePointStatus.AVAILABLE)


@conformance_case(
    "TC_048_1_CSMS",
    "Reservation of a Connector - Faulted",
    section="3.17.1",
    checks="ReserveNow for the configured connector and id tag; Faulted taken",
    feature=_RESERVATION,
    needs=_NEEDS,
)
async def tc_048_1(tool: Tool) -> None:
    await _start(tool)
    await _reserve(tool, 1, ReservationStatus.FAULTED)


@conformance_case(
    "TC_048_2_CSMS",
    "Reservation of a Connector - Occupied",
    section="3.17.1",
    checks="ReserveNow for a Preparing connector; Occupied taken",
    feature=_RESERVATION,
    needs=_NEEDS,
)
async def tc_048_2(tool: Tool) -> None:
    await _start(tool)
    await tool.status(2, tool.config.connector_id, ChargePointStatus.PREPARING)
    await _reserve(tool, 3, ReservationStatus.OCCUPIED)


@conformance_case(
    "TC_048_3_CSMS",
    "Reservation of a Connector - Unavailable",
    section="3.17.1",
    checks="ChangeAvailability Inoperative, then ReserveNow for that connector; Unavailable taken",
    feature=_RESERVATION,
    needs=_NEEDS,
)
async def tc_048_3(tool: Tool) -> None:
    config = tool.config
    await _start(tool)
    request: ChangeAvailabilityRequest = await tool.expect(
        1,
        ChangeAvailabilityRequest,
        lambda operator: operator.change_availability(
            config.charge_point_id,
            connector_id=config.connector_id,
            availability=AvailabilityType.INOPERATIVE,
        ),
        ChangeAvailabilityResponse(status=AvailabilityStatus.ACCEPTED),
    )
    message = "ChangeAvailability.req"
    tool.check_equal(1, message, "The connectorId", request.connector_id, config.connector_id)
    tool.check_equal(1, message, "The type", request.type, AvailabilityType.INOPERATIVE)
    await tool.status(4, request.connector_id, ChargePointStatus.UNAVAILABLE)
    await _reserve(tool, 5, ReservationStatus.UNAVAILABLE, connector_id=request.connector_id)


@conformance_case(
    "TC_048_4_CSMS",
    "Reservation of a Connector - Rejected",
    section="3.17.1",
    checks="ReserveNow for the configured connector and id tag; Rejected taken",
    feature=_RESERVATION,
    needs=_NEEDS,
)
async def tc_048_4(tool: Tool) -> None:
    await _start(tool)
    await _reserve(tool, 1, ReservationStatus.REJECTED)


@conformance_case(
    "TC_049_CSMS",
    "Reservation of a Charge Point - Transaction",
    section="3.17.2",
    checks="ReserveNow for connector 0; Reserved answered",
    feature=_RESERVATION,
    needs=_NEEDS,
)
async def tc_049(tool: Tool) -> None:
    await _start(tool)
    await _reserve(tool, 1, ReservationStatus.ACCEPTED, connector_id=0)
    # Connector 0 has no Reserved status (§4.9): the charge point reports the connector it
    # keeps for the reservation.
    await tool.status(4, tool.config.connector_id, ChargePointStatus.RESERVED)


@conformance_case(
    "TC_051_CSMS",
    "Cancel Reservation",
    section="3.17.3",
    checks="ReserveNow for a connector, then CancelReservation of that reservationId",
    feature=_RESERVATION,
    needs=_NEEDS,
)
async def tc_051(tool: Tool) -> None:
    cp = tool.config.charge_point_id
    await _start(tool)
    reserved = await _reserve(tool, 1, ReservationStatus.ACCEPTED)
    tool.check(
        1,
        "ReserveNow.req",
        "The connectorId does not equal 0",
        reserved.connector_id != 0,
        reserved.connector_id,
    )
    await tool.status(4, reserved.connector_id, ChargePointStatus.RESERVED)
    request: CancelReservationRequest = await tool.expect(
        5,
        CancelReservationRequest,
        lambda operator: operator.cancel_reservation(cp, reservation_id=reserved.reservation_id),
        CancelReservationResponse(status=CancelReservationStatus.ACCEPTED),
    )
    tool.check_equal(
        5,
        "CancelReservation.req",
        "The reservationId (from step 1)",
        request.reservation_id,
        reserved.reservation_id,
    )
    await tool.status(8, reserved.connector_id, ChargePointStatus.AVAILABLE)


@conformance_case(
    "TC_052_CSMS",
    "Cancel Reservation - Rejected",
    section="3.17.3",
    checks="CancelReservation of an unknown reservationId; Rejected taken",
    feature=_RESERVATION,
    needs=_NEEDS,
)
async def tc_052(tool: Tool) -> None:
    cp = tool.config.charge_point_id
    await _start(tool)
    reserved = await _reserve(tool, 1, ReservationStatus.ACCEPTED)
    await tool.status(4, reserved.connector_id, ChargePointStatus.RESERVED)
    unknown = reserved.reservation_id + 1000 if reserved.reservation_id < 2**30 else 1
    request: CancelReservationRequest = await tool.expect(
        5,
        CancelReservationRequest,
        lambda operator: operator.cancel_reservation(cp, reservation_id=unknown),
        CancelReservationResponse(status=CancelReservationStatus.REJECTED),
    )
    tool.check(
        5,
        "CancelReservation.req",
        "The reservationId does NOT match the reservationId from step 1",
        request.reservation_id != reserved.reservation_id,
        request.reservation_id,
    )


@conformance_case(
    "TC_053_CSMS",
    "Use a reserved Connector with parentIdTag",
    section="3.17.4",
    checks="ReserveNow with a parentIdTag; another id tag under that parent is Accepted with "
    "the same parentIdTag",
    feature=_RESERVATION,
    needs=_NEEDS,
)
async def tc_053(tool: Tool) -> None:
    config = tool.config
    # Memory state: both id tags belong to the parent id tag.
    for id_tag in (config.valid_id_tag, config.second_id_tag):
        await tool.operator.set_id_tag_status(
            id_tag, AuthorizationStatus.ACCEPTED, parent_id_tag=config.parent_id_tag
        )
    await _start(tool)
    reserved = await _reserve(
        tool, 1, ReservationStatus.ACCEPTED, parent_id_tag=config.parent_id_tag
    )
    tool.check(
        1,
        "ReserveNow.req",
        "The parentIdTag is given",
        reserved.parent_id_tag is not None,
        "omitted",
    )
    await tool.status(4, reserved.connector_id, ChargePointStatus.RESERVED)
    transaction = await tool.charging(reservation_id=reserved.reservation_id)
    answer = await tool.authorize(7, config.second_id_tag)
    info = answer.id_tag_info
    tool.check_equal(
        7, "Authorize.conf", "The idTagInfo.status", info.status, AuthorizationStatus.ACCEPTED
    )
    tool.check(
        7,
        "Authorize.conf",
        "The idTagInfo.parentIdTag matches the parentIdTag from step 1",
        (info.parent_id_tag or "").casefold() == (reserved.parent_id_tag or "").casefold(),
        info.parent_id_tag,
    )
    await tool.stop_transaction(9, transaction, Reason.LOCAL, id_tag=config.second_id_tag)
    await tool.status(11, reserved.connector_id, ChargePointStatus.FINISHING)


RESERVATION_CASES: tuple[ConformanceCase, ...] = (
    tc_046,
    tc_047,
    tc_048_1,
    tc_048_2,
    tc_048_3,
    tc_048_4,
    tc_049,
    tc_051,
    tc_052,
    tc_053,
)
"""OCTT §3.17, in the document's order."""
