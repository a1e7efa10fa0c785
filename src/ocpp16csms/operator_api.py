"""An operator HTTP API over a central system, as a FastAPI router (extra ``api``).

``make_router(cs)`` returns an ``APIRouter`` the host mounts in its own application, behind
its own authentication (``make_router(cs, dependencies=[Depends(check_token)])``). It has one
``POST /charge-points/{charge_point_id}/<action>`` per operation the central system sends
(the action name in kebab case: ``/reset``, ``/remote-start-transaction``, …), whose request
and answer bodies are the OCPP payloads exactly as on the wire, documented in the OpenAPI
document with our own JSON schemas; and read-only views of what the stores know
(docs/operator-api.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any

import attrs
from fastapi import APIRouter, Query
from fastapi import Request as HttpRequest
from fastapi.params import Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from .central_system import CentralSystem, FeatureNotEnabled
from .codec import MessageCodec
from .converter import make_converter
from .enums import (
    ChargePointErrorCode,
    ChargePointStatus,
    ChargingRateUnitType,
    RegistrationStatus,
)
from .errors import (
    CallErrorReceived,
    CallTimeout,
    ChargePointNotAccepted,
    ChargePointNotConnected,
    ConnectionLost,
    CsmsError,
    FormationViolation,
    InvalidRequest,
    OcppError,
    QueueFull,
)
from .messages.base import Profile, Request, Response
from .registry import ACTIONS
from .rules import ReservationState
from .stores.records import StoreError
from .validation import ValidationPolicy, schema_for

__all__ = [
    "OPERATIONS",
    "ChargePointDetails",
    "ChargePointSummary",
    "ConnectorStatusBody",
    "ErrorBody",
    "Operation",
    "ReservationBody",
    "TransactionBody",
    "error_response",
    "make_router",
    "operation_path",
]

Invoke = Callable[[CentralSystem, str, Any], Awaitable[Response]]


@attrs.frozen
class Operation:
    """One operator endpoint: the OCPP request it sends and the service call that sends it."""

    request: type[Request[Any]]
    invoke: Invoke
    """``invoke(central_system, charge_point_id, request)``: the feature service's operation,
    so its checks before sending and its store updates after the answer happen as usual."""


OPERATIONS: dict[str, Operation] = {
    op.request.action: op
    for op in (
        Operation(ACTIONS["Reset"].request, lambda cs, cp, r: cs.core.reset(cp, r.type)),
        Operation(
            ACTIONS["ChangeAvailability"].request,
            lambda cs, cp, r: cs.core.change_availability(cp, r.connector_id, r.type),
        ),
        Operation(
            ACTIONS["ChangeConfiguration"].request,
            lambda cs, cp, r: cs.core.change_configuration(cp, r.key, r.value),
        ),
        Operation(
            ACTIONS["GetConfiguration"].request,
            lambda cs, cp, r: cs.core.get_configuration(cp, r.key),
        ),
        Operation(ACTIONS["ClearCache"].request, lambda cs, cp, r: cs.core.clear_cache(cp)),
        Operation(
            ACTIONS["RemoteStartTransaction"].request,
            lambda cs, cp, r: cs.core.remote_start_transaction(
                cp, r.id_tag, connector_id=r.connector_id, charging_profile=r.charging_profile
            ),
        ),
        Operation(
            ACTIONS["RemoteStopTransaction"].request,
            lambda cs, cp, r: cs.core.remote_stop_transaction(cp, r.transaction_id),
        ),
        Operation(
            ACTIONS["UnlockConnector"].request,
            lambda cs, cp, r: cs.core.unlock_connector(cp, r.connector_id),
        ),
        Operation(
            ACTIONS["DataTransfer"].request,
            lambda cs, cp, r: cs.core.data_transfer(
                cp, r.vendor_id, message_id=r.message_id, data=r.data
            ),
        ),
        Operation(
            ACTIONS["TriggerMessage"].request,
            lambda cs, cp, r: cs.remote_trigger.trigger_message(
                cp, r.requested_message, connector_id=r.connector_id
            ),
        ),
        Operation(
            ACTIONS["SetChargingProfile"].request,
            lambda cs, cp, r: cs.smart_charging.set_charging_profile(
                cp, r.connector_id, r.cs_charging_profiles
            ),
        ),
        Operation(
            ACTIONS["ClearChargingProfile"].request,
            lambda cs, cp, r: cs.smart_charging.clear_charging_profile(
                cp,
                charging_profile_id=r.id,
                connector_id=r.connector_id,
                purpose=r.charging_profile_purpose,
                stack_level=r.stack_level,
            ),
        ),
        Operation(
            ACTIONS["GetCompositeSchedule"].request,
            lambda cs, cp, r: cs.smart_charging.get_composite_schedule(
                cp, r.connector_id, r.duration, r.charging_rate_unit
            ),
        ),
        Operation(
            ACTIONS["ReserveNow"].request,
            lambda cs, cp, r: cs.reservation.reserve_now(
                cp,
                reservation_id=r.reservation_id,
                connector_id=r.connector_id,
                id_tag=r.id_tag,
                expiry_date=r.expiry_date,
                parent_id_tag=r.parent_id_tag,
            ),
        ),
        Operation(
            ACTIONS["CancelReservation"].request,
            lambda cs, cp, r: cs.reservation.cancel_reservation(cp, r.reservation_id),
        ),
        Operation(
            ACTIONS["SendLocalList"].request,
            lambda cs, cp, r: cs.local_auth_list.send_local_list(
                cp,
                version=r.list_version,
                update_type=r.update_type,
                entries=r.local_authorization_list or (),
            ),
        ),
        Operation(
            ACTIONS["GetLocalListVersion"].request,
            lambda cs, cp, r: cs.local_auth_list.get_local_list_version(cp),
        ),
        Operation(
            ACTIONS["UpdateFirmware"].request,
            lambda cs, cp, r: cs.firmware.update_firmware(
                cp, r.location, r.retrieve_date, retries=r.retries, retry_interval=r.retry_interval
            ),
        ),
        Operation(
            ACTIONS["GetDiagnostics"].request,
            lambda cs, cp, r: cs.firmware.get_diagnostics(
                cp,
                r.location,
                retries=r.retries,
                retry_interval=r.retry_interval,
                start_time=r.start_time,
                stop_time=r.stop_time,
            ),
        ),
        Operation(
            ACTIONS["ExtendedTriggerMessage"].request,
            lambda cs, cp, r: cs.remote_trigger.extended_trigger_message(
                cp, r.requested_message, connector_id=r.connector_id
            ),
        ),
        Operation(
            ACTIONS["GetLog"].request,
            lambda cs, cp, r: cs.security.get_log(
                cp,
                log_type=r.log_type,
                request_id=r.request_id,
                log=r.log,
                retries=r.retries,
                retry_interval=r.retry_interval,
            ),
        ),
        Operation(
            ACTIONS["SignedUpdateFirmware"].request,
            lambda cs, cp, r: cs.security.signed_update_firmware(
                cp,
                request_id=r.request_id,
                firmware=r.firmware,
                retries=r.retries,
                retry_interval=r.retry_interval,
            ),
        ),
        Operation(
            ACTIONS["InstallCertificate"].request,
            lambda cs, cp, r: cs.security.install_certificate(
                cp, r.certificate_type, r.certificate
            ),
        ),
        Operation(
            ACTIONS["DeleteCertificate"].request,
            lambda cs, cp, r: cs.security.delete_certificate(cp, r.certificate_hash_data),
        ),
        Operation(
            ACTIONS["GetInstalledCertificateIds"].request,
            lambda cs, cp, r: cs.security.get_installed_certificate_ids(cp, r.certificate_type),
        ),
        Operation(
            ACTIONS["CertificateSigned"].request,
            lambda cs, cp, r: cs.security.certificate_signed(cp, r.certificate_chain),
        ),
    )
}
"""Every operation the central system sends, by action (all of ``ACTIONS`` it may send)."""


def operation_path(action: str) -> str:
    """The path segment of an action's endpoint: ``RemoteStartTransaction`` →
    ``remote-start-transaction``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", action).lower()


# -- bodies --------------------------------------------------------------------------------------


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)


class ErrorBody(_Body):
    """What an operation that failed answers: our error's name, the OCPP CallError code when
    one applies (a CallError the charge point sent, or the rule a request body broke), and
    the charge point's error details."""

    error: str
    code: str | None = None
    description: str
    details: dict[str, Any] | None = None


class ChargePointSummary(_Body):
    """A charge point this process serves now."""

    charge_point_id: str


class ChargePointDetails(_Body):
    """What the charge point store knows about a charge point (never its password hash)."""

    charge_point_id: str
    connected: bool
    registration_status: RegistrationStatus | None = None
    security_profile: int | None = None
    charge_point_vendor: str | None = None
    charge_point_model: str | None = None
    firmware_version: str | None = None
    last_boot_at: datetime | None = None
    last_seen: datetime | None = None


class ConnectorStatusBody(_Body):
    """The last StatusNotification of a connector (0: the charge point itself) (§4.9)."""

    connector_id: int
    status: ChargePointStatus
    error_code: ChargePointErrorCode
    timestamp: datetime
    info: str | None = None
    vendor_id: str | None = None
    vendor_error_code: str | None = None


class TransactionBody(_Body):
    """An active transaction, as its StartTransaction told it (§4.8)."""

    transaction_id: int
    connector_id: int
    id_tag: str
    meter_start: int
    timestamp: datetime
    reservation_id: int | None = None


class ReservationBody(_Body):
    """A live reservation beside the last status of its connector (Reservation feature)."""

    reservation_id: int
    connector_id: int
    id_tag: str
    parent_id_tag: str | None = None
    expiry_date: datetime
    state: ReservationState
    connector_status: ChargePointStatus | None = None
    held: bool | None = None


# -- errors ---------------------------------------------------------------------------------------

_STATUS: tuple[tuple[type[BaseException], int], ...] = (
    (ChargePointNotConnected, 404),
    (FeatureNotEnabled, 501),
    (InvalidRequest, 422),
    (OcppError, 422),  # the request body broke its schema
    (ChargePointNotAccepted, 409),
    (QueueFull, 503),
    (StoreError, 503),
    (CallTimeout, 504),
    (CallErrorReceived, 502),
    (ConnectionLost, 502),
)


def error_response(error: CsmsError) -> JSONResponse:
    """The HTTP answer for an error of an operation (docs/operator-api.md lists the statuses);
    500 for a library error no row names."""
    status = next((code for cls, code in _STATUS if isinstance(error, cls)), 500)
    code: str | None = None
    details: dict[str, Any] | None = None
    if isinstance(error, CallErrorReceived):
        code, description, details = error.code, error.description, error.details
    elif isinstance(error, OcppError):
        code, description = error.code.value, str(error)
    else:
        description = str(error)
    body = ErrorBody(
        error=type(error).__name__, code=code, description=description, details=details
    )
    return JSONResponse(body.model_dump(by_alias=True), status_code=status)


_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorBody, "description": "The charge point is not connected"},
    409: {"model": ErrorBody, "description": "Its registration does not allow the call (§4.2)"},
    422: {"model": ErrorBody, "description": "The body broke its schema or a check failed"},
    501: {"model": ErrorBody, "description": "The feature is not enabled"},
    502: {"model": ErrorBody, "description": "CallError received, or the connection was lost"},
    503: {"model": ErrorBody, "description": "Too many calls queued, or a store failed"},
    504: {"model": ErrorBody, "description": "The charge point did not answer in time"},
}


def _openapi_schema(name: str) -> dict[str, Any]:
    """Our JSON schema as an OpenAPI 3.1 schema object (the draft-04 identifiers dropped)."""
    schema = dict(schema_for(name))
    for key in ("$schema", "id", "$id"):
        schema.pop(key, None)
    return json.loads(json.dumps(schema))  # type: ignore[no-any-return]


# -- the router -----------------------------------------------------------------------------------


def _operation_endpoint(
    cs: CentralSystem, operation: Operation, codec: MessageCodec, unstructure: Any
) -> Callable[..., Awaitable[JSONResponse]]:
    request_type = operation.request

    async def endpoint(charge_point_id: str, http: HttpRequest) -> JSONResponse:
        raw = await http.body()
        try:
            try:
                payload = json.loads(raw) if raw.strip() else {}
            except ValueError:
                raise FormationViolation("the body is not JSON") from None
            request = codec.decode(request_type, payload)
            response = await operation.invoke(cs, charge_point_id, request)
        except CsmsError as error:
            return error_response(error)
        return JSONResponse(unstructure(response))

    endpoint.__name__ = operation_path(request_type.action).replace("-", "_")
    return endpoint


def make_router(
    central_system: CentralSystem,
    *,
    dependencies: Sequence[Depends] | None = None,
    tags: Sequence[str] = ("OCPP 1.6",),
) -> APIRouter:
    """A FastAPI router serving the operator API of ``central_system``.

    Only the operations and views of the features the central system serves are included.
    ``dependencies`` run before every endpoint (the host's authentication).
    """
    if not isinstance(central_system, CentralSystem):
        raise TypeError(f"make_router takes a CentralSystem, got {type(central_system).__name__}")
    cs = central_system
    router = APIRouter(dependencies=list(dependencies or ()), tags=list(tags))
    codec = MessageCodec(ValidationPolicy.strict())
    # Lenient: an answer a relaxed policy let in may hold an enum value outside the spec.
    unstructure = make_converter(lenient=True).unstructure
    for action, operation in OPERATIONS.items():
        spec = ACTIONS[action]
        if spec.profile not in cs.features:
            continue
        request_schema = _openapi_schema(spec.request.schema_name)
        response_schema = _openapi_schema(spec.response.schema_name)
        router.add_api_route(
            f"/charge-points/{{charge_point_id}}/{operation_path(action)}",
            _operation_endpoint(cs, operation, codec, unstructure),
            methods=["POST"],
            summary=f"{action} ({spec.profile.value})",
            description=(spec.request.__doc__ or "").strip(),
            operation_id=f"ocpp_{operation_path(action).replace('-', '_')}",
            response_model=None,
            responses={
                200: {
                    "description": f"The charge point's {action} answer",
                    "content": {"application/json": {"schema": response_schema}},
                },
                **_ERRORS,
            },
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": request_schema}},
                }
            },
        )
    _add_views(router, cs, unstructure)
    return router


def _add_views(router: APIRouter, cs: CentralSystem, unstructure: Any) -> None:
    async def list_charge_points() -> Any:
        """The charge points this process serves now (the store protocols cannot list)."""
        return [ChargePointSummary(charge_point_id=cp) for cp in sorted(cs.connected_charge_points)]

    async def charge_point(charge_point_id: str) -> Any:
        """What the charge point store knows about one charge point; 404 when nothing."""
        try:
            record = await cs.stores.charge_points.get(charge_point_id)
        except CsmsError as error:
            return error_response(error)
        connected = cs.is_connected(charge_point_id)
        if record is None:
            if not connected:
                return error_response(ChargePointNotConnected(charge_point_id))
            return ChargePointDetails(charge_point_id=charge_point_id, connected=True)
        boot = record.boot
        return ChargePointDetails(
            charge_point_id=charge_point_id,
            connected=connected,
            registration_status=record.registration_status,
            security_profile=record.security_profile,
            charge_point_vendor=boot.charge_point_vendor if boot else None,
            charge_point_model=boot.charge_point_model if boot else None,
            firmware_version=boot.firmware_version if boot else None,
            last_boot_at=record.last_boot_at,
            last_seen=record.last_seen,
        )

    async def status(charge_point_id: str) -> Any:
        """The last status each connector reported, from the charge point store."""
        try:
            statuses = await cs.stores.charge_points.connector_statuses(charge_point_id)
        except CsmsError as error:
            return error_response(error)
        return [
            ConnectorStatusBody(
                connector_id=s.connector_id,
                status=s.status,
                error_code=s.error_code,
                timestamp=s.timestamp,
                info=s.info,
                vendor_id=s.vendor_id,
                vendor_error_code=s.vendor_error_code,
            )
            for _, s in sorted(statuses.items())
        ]

    async def transactions(charge_point_id: str) -> Any:
        """The charge point's transactions not yet stopped, from the transaction store."""
        try:
            active = await cs.stores.transactions.active(charge_point_id=charge_point_id)
        except CsmsError as error:
            return error_response(error)
        return [
            TransactionBody(
                transaction_id=t.transaction_id,
                connector_id=t.start.connector_id,
                id_tag=t.start.id_tag,
                meter_start=t.start.meter_start,
                timestamp=t.start.timestamp,
                reservation_id=t.start.reservation_id,
            )
            for t in active
        ]

    async def reservations(charge_point_id: str) -> Any:
        """The charge point's live reservations beside their connectors' last status."""
        try:
            views = await cs.reservation.reservation_view(charge_point_id)
        except CsmsError as error:
            return error_response(error)
        return [
            ReservationBody(
                reservation_id=v.reservation.reservation_id,
                connector_id=v.reservation.connector_id,
                id_tag=v.reservation.id_tag,
                parent_id_tag=v.reservation.parent_id_tag,
                expiry_date=v.reservation.expiry_date,
                state=v.reservation.status,
                connector_status=v.connector_status,
                held=v.held,
            )
            for v in views
        ]

    async def composite_schedule(
        charge_point_id: str,
        connector_id: Annotated[int, Query(alias="connectorId", ge=0)],
        duration: Annotated[int, Query(gt=0)],
        charging_rate_unit: Annotated[
            ChargingRateUnitType | None, Query(alias="chargingRateUnit")
        ] = None,
    ) -> JSONResponse:
        """The composite schedule the central system expects from the profiles it stored
        (computed here, nothing sent); ``null`` when no profile applies."""
        try:
            schedule = await cs.smart_charging.expected_composite_schedule(
                charge_point_id, connector_id, duration, charging_rate_unit
            )
        except CsmsError as error:
            return error_response(error)
        return JSONResponse(None if schedule is None else unstructure(schedule))

    base = "/charge-points/{charge_point_id}"
    views: list[tuple[str, Callable[..., Any], Profile, dict[str, Any]]] = [
        (
            "/charge-points",
            list_charge_points,
            Profile.CORE,
            {"response_model": list[ChargePointSummary]},
        ),
        (base, charge_point, Profile.CORE, {"response_model": ChargePointDetails}),
        (f"{base}/status", status, Profile.CORE, {"response_model": list[ConnectorStatusBody]}),
        (
            f"{base}/transactions",
            transactions,
            Profile.CORE,
            {"response_model": list[TransactionBody]},
        ),
        (
            f"{base}/reservations",
            reservations,
            Profile.RESERVATION,
            {"response_model": list[ReservationBody]},
        ),
    ]
    schedule_schema = _openapi_schema("GetCompositeScheduleResponse")["properties"][
        "chargingSchedule"
    ]
    views.append(
        (
            f"{base}/composite-schedule",
            composite_schedule,
            Profile.SMART_CHARGING,
            {
                "response_model": None,
                "responses": {
                    503: {"model": ErrorBody},
                    200: {
                        "description": "The expected ChargingSchedule, or null",
                        "content": {
                            "application/json": {
                                "schema": {"anyOf": [schedule_schema, {"type": "null"}]}
                            }
                        },
                    },
                },
            },
        )
    )
    for path, endpoint, profile, extra in views:
        if profile in cs.features:
            router.add_api_route(
                path,
                endpoint,
                methods=["GET"],
                summary=(endpoint.__doc__ or "").split("\n")[0].strip(),
                operation_id=f"ocpp_{endpoint.__name__}",
                **{
                    "responses": {404: {"model": ErrorBody}, 503: {"model": ErrorBody}},
                    **extra,
                },
            )
