"""Misuse is refused where it happens (construction, registration), and the after hook.

Each case here once passed silently and failed later, on every call or only on the wire.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from harness import connected, make_central_system, wait_until
from ocpp16csms import (
    CallContext,
    CentralSystem,
    CentralSystemOptions,
    ChargePointRecord,
    FeatureNotEnabled,
    LocalProtocolError,
    Profile,
    Stores,
    UnknownChargePointPolicy,
    memory_stores,
)
from ocpp16csms.messages import (
    AuthorizationStatus,
    AuthorizeRequest,
    AuthorizeResponse,
    ChargePointStatus,
    IdTagInfo,
    RegistrationStatus,
    ReserveNowRequest,
    ResetRequest,
    StatusNotificationRequest,
    StatusNotificationResponse,
)
from ocpp16csms.session import CallRejected, Session

# -- options -------------------------------------------------------------------------------


def test_an_enumerated_option_takes_its_value_and_holds_the_member() -> None:
    options = CentralSystemOptions(unknown_charge_points="accept")  # type: ignore[arg-type]
    assert options.unknown_charge_points is UnknownChargePointPolicy.ACCEPT
    assert CentralSystemOptions(not_accepted_error="GenericError").not_accepted_error == (  # type: ignore[arg-type]
        "GenericError"
    )


@pytest.mark.parametrize(
    "options",
    [
        {"unknown_charge_points": "accepted"},
        {"unknown_charge_points": None},
        {"not_accepted_error": "Nope"},
    ],
)
def test_an_unknown_policy_is_refused_naming_the_allowed_values(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="one of"):
        CentralSystemOptions(**options)


@pytest.mark.parametrize(
    "name",
    [
        "call_timeout",
        "handler_grace",
        "reservation_expiry_interval",
        "last_seen_resolution",
        "heartbeat_interval",
        "retry_boot_interval",
    ],
)
@pytest.mark.parametrize("value", [0, -1, float("nan"), float("inf"), True, "30"])
def test_a_duration_must_be_positive_and_finite(name: str, value: object) -> None:
    with pytest.raises(ValueError, match=name):
        CentralSystemOptions(**{name: value})  # type: ignore[arg-type]


def test_queued_calls_may_be_zero_but_not_negative() -> None:
    assert CentralSystemOptions(max_queued_calls=0).max_queued_calls == 0
    with pytest.raises(ValueError, match="max_queued_calls"):
        CentralSystemOptions(max_queued_calls=-1)


# -- construction ----------------------------------------------------------------------------


@pytest.mark.parametrize("stores", [None, {}, "memory"])
def test_the_central_system_needs_a_stores_bundle(stores: object) -> None:
    with pytest.raises(TypeError, match="Stores bundle"):
        CentralSystem(stores)  # type: ignore[arg-type]


def test_options_of_the_wrong_type_are_refused() -> None:
    with pytest.raises(TypeError, match="CentralSystemOptions"):
        CentralSystem(memory_stores(), {"call_timeout": 5})  # type: ignore[arg-type]


def test_a_core_store_is_required() -> None:
    complete = memory_stores()
    with pytest.raises(TypeError, match="charge_points is required"):
        Stores(
            charge_points=None,  # type: ignore[arg-type]
            id_tags=complete.id_tags,
            transactions=complete.transactions,
            configuration=complete.configuration,
        )


def test_a_feature_left_out_is_not_served_and_its_service_says_so() -> None:
    cs = CentralSystem(memory_stores(), features=[Profile.SMART_CHARGING, "Reservation"])
    assert cs.features == {Profile.CORE, Profile.SMART_CHARGING, Profile.RESERVATION}
    assert cs.smart_charging is not None
    with pytest.raises(FeatureNotEnabled, match="FirmwareManagement"):
        _ = cs.firmware
    assert isinstance(FeatureNotEnabled("x"), LocalProtocolError | AttributeError)
    with pytest.raises(ValueError, match="unknown feature 'Billing'"):
        CentralSystem(memory_stores(), features=["Billing"])


@pytest.mark.anyio
async def test_an_action_of_a_left_out_feature_is_answered_not_supported() -> None:
    cs = CentralSystem(
        memory_stores(
            charge_points=[
                ChargePointRecord(
                    charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
                )
            ]
        ),
        features=[],
    )
    async with connected(cs) as cp:
        from ocpp16csms import CallErrorReceived
        from ocpp16csms.messages import FirmwareStatus, FirmwareStatusNotificationRequest

        with pytest.raises(CallErrorReceived) as raised:
            await cp.call(FirmwareStatusNotificationRequest(status=FirmwareStatus.IDLE))
        assert raised.value.code == "NotSupported"
        assert (await cp.heartbeat()).current_time is not None


# -- registration of handlers and hooks ------------------------------------------------------------


async def _authorize(request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
    return AuthorizeResponse(id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED))


def test_on_refuses_a_response_class() -> None:
    cs = make_central_system()
    with pytest.raises(TypeError, match="AuthorizeResponse is a response"):
        cs.on(AuthorizeResponse)  # type: ignore[type-var]
    with pytest.raises(TypeError, match="is a response"):
        cs.set_handler(AuthorizeResponse, _authorize)  # type: ignore[type-var, arg-type]


def test_on_refuses_what_is_not_a_request_class() -> None:
    cs = make_central_system()
    with pytest.raises(TypeError, match="request class"):
        cs.on("Authorize")  # type: ignore[type-var]


def test_on_refuses_an_action_charge_points_do_not_send() -> None:
    cs = make_central_system()
    with pytest.raises(ValueError, match="charge points do not send Reset"):
        cs.on(ResetRequest)(_authorize)  # type: ignore[arg-type]


def test_on_refuses_a_sync_function() -> None:
    cs = make_central_system()

    def sync_handler(request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
        raise AssertionError("never called")

    with pytest.raises(TypeError, match="must be an async function"):
        cs.on(AuthorizeRequest)(sync_handler)  # type: ignore[arg-type]
    assert cs.handler_for(AuthorizeRequest) is not sync_handler


@pytest.mark.parametrize("arity", [0, 1, 3])
def test_on_refuses_a_handler_that_does_not_take_request_and_context(arity: int) -> None:
    cs = make_central_system()
    handlers = {
        0: lambda: None,
        1: lambda request: None,
        3: lambda request, context, extra: None,
    }

    async def wrapped(*args: Any) -> None:  # pragma: no cover - never called
        return None

    import inspect

    wrapped.__signature__ = inspect.signature(handlers[arity])  # type: ignore[attr-defined]
    with pytest.raises(TypeError, match="2 positional arguments"):
        cs.on(AuthorizeRequest)(wrapped)  # type: ignore[arg-type]


def test_a_valid_handler_is_registered_and_a_callable_object_is_fine() -> None:
    cs = make_central_system()
    assert cs.on(AuthorizeRequest)(_authorize) is _authorize
    assert cs.handler_for(AuthorizeRequest) is _authorize

    class Handler:
        async def __call__(self, request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
            return await _authorize(request, ctx)

    handler = Handler()
    cs.set_handler(AuthorizeRequest, handler)
    assert cs.handler_for(AuthorizeRequest) is handler


def test_after_refuses_a_hook_with_the_wrong_shape() -> None:
    cs = make_central_system()
    with pytest.raises(TypeError, match="3 positional arguments"):
        cs.after(StatusNotificationRequest)(lambda request, ctx: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="charge points do not send ReserveNow"):
        cs.after(ReserveNowRequest)(lambda request, response, ctx: None)


def test_answer_hooks_and_pre_send_checks_must_be_async() -> None:
    cs = make_central_system()
    with pytest.raises(TypeError, match="async"):
        cs.add_answer_hook(StatusNotificationRequest, lambda request, response, ctx: None)  # type: ignore[arg-type, return-value]
    with pytest.raises(TypeError, match="async"):
        cs.add_pre_send_check(ResetRequest, lambda cp, request: None)  # type: ignore[arg-type, return-value]


def test_a_periodic_job_needs_a_positive_interval() -> None:
    cs = make_central_system()

    async def job() -> None:  # pragma: no cover - never run
        return None

    with pytest.raises(ValueError, match="positive interval"):
        cs.add_periodic(0, job)


# -- the after hook ------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_after_hook_runs_after_the_default_handler_which_still_stores() -> None:
    cs = make_central_system()
    seen: list[tuple[int, ChargePointStatus, object]] = []

    @cs.after(StatusNotificationRequest)
    def record(request: StatusNotificationRequest, response: object, ctx: CallContext) -> None:
        seen.append((request.connector_id, request.status, response))

    async with connected(cs) as cp:
        await cp.boot()
        await cp.status(1, ChargePointStatus.CHARGING)
        await wait_until(lambda: len(seen) == 1)
    assert seen == [(1, ChargePointStatus.CHARGING, StatusNotificationResponse())]
    statuses = await cs.stores.charge_points.connector_statuses("CP1")
    assert statuses[1].status is ChargePointStatus.CHARGING  # the default still ran


@pytest.mark.anyio
async def test_a_failing_after_hook_is_logged_and_never_reaches_the_charge_point(
    caplog: pytest.LogCaptureFixture,
) -> None:
    cs = make_central_system()
    calls: list[str] = []

    @cs.after(StatusNotificationRequest)
    async def broken(
        request: StatusNotificationRequest, response: object, ctx: CallContext
    ) -> None:
        calls.append(ctx.message_id)
        raise RuntimeError("host bug")

    with caplog.at_level(logging.ERROR, logger="ocpp16csms"):
        async with connected(cs) as cp:
            await cp.boot()
            answer = await cp.status(1, ChargePointStatus.AVAILABLE)
            await wait_until(lambda: len(calls) == 1)
    assert answer == StatusNotificationResponse()  # answered normally, not InternalError
    records = [r for r in caplog.records if "after hook" in r.getMessage()]
    assert records
    assert getattr(records[0], "charge_point_id", None) == "CP1"
    assert getattr(records[0], "message_id", None) == calls[0]


@pytest.mark.anyio
async def test_after_hooks_see_a_host_handlers_answer_too() -> None:
    cs = make_central_system()
    cs.on(AuthorizeRequest)(_authorize)
    answers: list[object] = []
    cs.after(AuthorizeRequest)(lambda request, response, ctx: answers.append(response))
    async with connected(cs) as cp:
        await cp.boot()
        await cp.authorize("anyone")
        await wait_until(lambda: len(answers) == 1)
    assert answers == [
        AuthorizeResponse(id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED))
    ]


@pytest.mark.parametrize("registration", [None, RegistrationStatus.REJECTED])
def test_a_not_accepted_charge_point_is_refused_before_its_payload_is_read(
    registration: RegistrationStatus | None,
) -> None:
    # Registration gating sits in the session: an unregistered charge point's broken
    # MeterValues gets the not-accepted error, not a validation error, and is never decoded.
    session = Session("CP1", registration=registration)
    broken = '[2,"m1","MeterValues",{"connectorId":"x","meterValue":"' + "y" * 100_000 + '"}]'
    [event] = session.receive_text(broken, now=0)
    assert isinstance(event, CallRejected)
    assert event.error.code == "SecurityError"
    [frame] = session.outgoing()
    assert json.loads(frame)[:3] == [4, "m1", "SecurityError"]


def test_an_accepted_charge_point_gets_the_validation_error() -> None:
    session = Session("CP1", registration=RegistrationStatus.ACCEPTED)
    [event] = session.receive_text('[2,"m1","MeterValues",{"connectorId":"x"}]', now=0)
    assert isinstance(event, CallRejected)
    assert event.error.code != "SecurityError"


@pytest.mark.anyio
async def test_the_drivers_clock_is_the_backends_own() -> None:
    # Deadlines are compared with cancel scopes': the driver's cached clock must be the one
    # anyio reads (trio's is offset from the system's).
    import anyio

    from ocpp16csms._driver import backend_clock

    now = backend_clock()
    assert now is not anyio.current_time
    assert abs(now() - anyio.current_time()) < 0.05
