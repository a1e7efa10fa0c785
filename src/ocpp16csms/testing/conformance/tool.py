"""The tool's charge point: what each case's scenario drives.

:class:`Tool` connects the library's :class:`~ocpp16csms.testing.ChargePointSimulator` over a
real WebSocket, sends the charge point's steps, records every validation of the document,
reaches its reusable states (Booted, Authorized, Charging, OCTT §3.22) the way it describes
them, and asks the :class:`~ocpp16csms.testing.conformance.operators.Operator` for the central
system's manual actions, answering and checking the requests they cause.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar
from urllib.parse import quote

import anyio

from ...datatypes import CertificateHashData, KeyValue
from ...enums import (
    AuthorizationStatus,
    CertificateStatus,
    CertificateUse,
    ChargePointErrorCode,
    ChargePointStatus,
    DeleteCertificateStatus,
    GetInstalledCertificateStatus,
    Reason,
    RegistrationStatus,
)
from ...errors import CallErrorReceived, CallTimeout, ConnectionLost
from ...messages import (
    AuthorizeRequest,
    AuthorizeResponse,
    BootNotificationRequest,
    BootNotificationResponse,
    DeleteCertificateRequest,
    DeleteCertificateResponse,
    GetConfigurationRequest,
    GetConfigurationResponse,
    GetInstalledCertificateIdsRequest,
    GetInstalledCertificateIdsResponse,
    InstallCertificateRequest,
    InstallCertificateResponse,
    StartTransactionRequest,
    StartTransactionResponse,
    StatusNotificationRequest,
    StopTransactionRequest,
    StopTransactionResponse,
)
from ...messages.base import Request, Response
from ..simulator import Answer, ChargePointSimulator
from .certificates import ClientCertificate, certificate_facts, hash_data, same_hash_data
from .model import NeedsOperator, SuiteConfig, Validation, ValidationFailed
from .operators import Operator
from .transport import TlsFacts, UpgradeRefused, basic_authorization, open_websocket

__all__ = [
    "Expectation",
    "OperatorAction",
    "Step",
    "Tool",
    "configuration_keys",
    "offline_timestamp",
]

_Res = TypeVar("_Res", bound=Response)
_Req = TypeVar("_Req", bound=Request[Any])

Step = str | int
"""A step of the document: its number (``2`` is "Step 2") or a label."""

OperatorAction = Callable[[Operator], Awaitable[object]]
"""A manual action: ``lambda operator: operator.reset(cp, reset_type=ResetType.HARD)``."""


def _a(name: str) -> str:
    """``name`` with its indefinite article, as the document writes it."""
    return f"an {name}" if name[:1] in "AEIOU" else f"a {name}"


def _label(step: Step) -> str:
    return f"Step {step}" if isinstance(step, int) else step


def configuration_keys(config: SuiteConfig) -> dict[str, tuple[str, bool]]:
    """The tool's configuration: every key TC_019_1_CSMS requires, as (value, read-only)."""
    connectors = config.number_of_connectors
    sampled = "Energy.Active.Import.Register"
    rotation = ",".join(f"{c}.RST" for c in range(connectors + 1))
    return {
        # Core (§9.1); "R or RW" keys are reported read-only.
        "AuthorizeRemoteTxRequests": ("true", True),
        "ClockAlignedDataInterval": ("0", False),
        "ConnectionTimeOut": ("60", False),
        "ConnectorPhaseRotation": (rotation, False),
        "GetConfigurationMaxKeys": ("50", True),
        "HeartbeatInterval": ("300", False),
        "LocalAuthorizeOffline": ("true", False),
        "LocalPreAuthorize": ("false", False),
        "MeterValuesAlignedData": (sampled, False),
        "MeterValuesSampledData": (sampled, False),
        "MeterValueSampleInterval": ("60", False),
        "NumberOfConnectors": (str(connectors), True),
        "ResetRetries": ("3", False),
        "StopTransactionOnEVSideDisconnect": ("true", False),
        "StopTransactionOnInvalidId": ("true", False),
        "StopTxnAlignedData": (sampled, False),
        "StopTxnSampledData": (sampled, False),
        "SupportedFeatureProfiles": (
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,"
            "RemoteTrigger",
            True,
        ),
        "TransactionMessageAttempts": ("3", False),
        "TransactionMessageRetryInterval": ("60", False),
        "UnlockConnectorOnEVSideDisconnect": ("true", False),
        # Local Auth List Management (§9.2)
        "LocalAuthListEnabled": ("true", False),
        "LocalAuthListMaxLength": ("100", True),
        "SendLocalListMaxLength": ("20", True),
        # Reservation (§9.3)
        "ReserveConnectorZeroSupported": ("true", True),
        # Smart Charging (§9.4)
        "ChargeProfileMaxStackLevel": ("10", True),
        "ChargingScheduleAllowedChargingRateUnit": ("Current,Power", True),
        "ChargingScheduleMaxPeriods": ("24", True),
        "MaxChargingProfilesInstalled": ("10", True),
    }


class Expectation:
    """A request the tool waits for from the central system, answered as the case says."""

    def __init__(self, request_type: type[Request[Any]]) -> None:
        self.request_type = request_type
        self.arrived = anyio.Event()
        self.request: Any = None

    def record(self, request: Request[Any]) -> None:
        """Keep the first request that arrived."""
        if not self.arrived.is_set():
            self.request = request
            self.arrived.set()


async def _either(first: anyio.Event, second: anyio.Event) -> None:
    async with anyio.create_task_group() as group:

        async def wait(event: anyio.Event) -> None:
            await event.wait()
            group.cancel_scope.cancel()

        group.start_soon(wait, first)
        group.start_soon(wait, second)


class Tool:
    """The tool's charge point for one case (see the module docstring)."""

    def __init__(self, config: SuiteConfig, operator: Operator) -> None:
        self.config = config
        self.operator = operator
        #: Every validation checked so far, in order.
        self.validations: list[Validation] = []
        #: The HTTP Basic password in use (TC_073_CSMS changes it).
        self.password = config.password
        #: The TLS client certificate in use (TC_074_CSMS renews it).
        self.client_certificate: ClientCertificate | None = config.client_certificate
        #: What the last ``wss://`` connection negotiated.
        self.tls: TlsFacts | None = None
        #: Transactions started and not yet stopped: id → connector.
        self.open_transactions: dict[int, int] = {}
        #: Root certificates the charge point holds, by kind (PEM).
        self.installed_certificates: dict[CertificateUse, list[str]] = {}
        self.meter = 0
        self._simulator: ChargePointSimulator | None = None
        self._base_answers: dict[str, Answer] = {}
        self._stack: AsyncExitStack | None = None

    # -- connection ------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The charge point's endpoint: the base URL and its id (OCPP-J §3.1.1)."""
        return f"{self.config.url}/{quote(self.config.charge_point_id, safe='')}"

    @property
    def cp(self) -> ChargePointSimulator:
        """The connected charge point simulator."""
        if self._simulator is None:
            raise RuntimeError("the tool is not connected")
        return self._simulator

    @property
    def connected(self) -> bool:
        """Whether the charge point has a live connection."""
        return self._simulator is not None and not self._simulator.closed.is_set()

    async def connect(self, step: Step = "Connection") -> None:
        """Open a WebSocket to the central system as this charge point; a refused upgrade
        fails the validation "The Central System upgrades the connection"."""
        await self.disconnect()
        headers = {}
        if self.password is not None:
            headers["Authorization"] = basic_authorization(
                self.config.charge_point_id, self.password
            )
        secure = self.url.startswith("wss://")
        context = self.config.tls_context(self.client_certificate) if secure else None
        try:
            connection = await open_websocket(
                self.url, headers=headers, ssl_context=context, timeout=self.config.timeout
            )
        except UpgradeRefused as refused:
            self.fail(
                step,
                "HTTP upgrade",
                "The Central System upgrades the connection to a WebSocket connection",
                refused,
            )
        self.tls = connection.tls
        self.check(
            step,
            "HTTP upgrade",
            "The Central System upgrades the connection to a WebSocket connection",
            True,
        )
        simulator = ChargePointSimulator(
            self.config.charge_point_id, connection, call_timeout=self.config.timeout
        )
        simulator.configuration.update(configuration_keys(self.config))
        simulator.answer("GetConfiguration", self._get_configuration)
        simulator.answer("InstallCertificate", self._install_certificate)
        simulator.answer("GetInstalledCertificateIds", self._installed_certificate_ids)
        simulator.answer("DeleteCertificate", self._delete_certificate)
        self._base_answers = dict(simulator.answers)
        stack = AsyncExitStack()
        await stack.enter_async_context(simulator.running())
        self._simulator, self._stack = simulator, stack

    async def disconnect(self) -> None:
        """Close the connection, if open."""
        stack, self._stack, self._simulator = self._stack, None, None
        if stack is not None:
            await stack.aclose()

    async def aclose(self) -> None:
        """End the case: stop the transactions it left running (unchecked), then close."""
        if self.connected:
            with anyio.move_on_after(self.config.timeout):
                for transaction_id in list(self.open_transactions):
                    try:
                        await self.cp.call(
                            StopTransactionRequest(
                                meter_stop=self.meter,
                                timestamp=datetime.now(UTC),
                                transaction_id=transaction_id,
                                reason=Reason.LOCAL,
                            )
                        )
                    except (CallErrorReceived, CallTimeout, ConnectionLost):
                        break
                    self.open_transactions.pop(transaction_id, None)
        # Not shielded: the connection's task group was entered outside any scope of ours.
        await self.disconnect()

    # -- validations -------------------------------------------------------------------------

    def check(
        self, step: Step, message: str, expectation: str, passed: bool, observed: object = ""
    ) -> None:
        """Record a validation; a failed one ends the case (:class:`ValidationFailed`)."""
        if not passed:
            self.fail(step, message, expectation, observed)
        self.validations.append(
            Validation(step=_label(step), message=message, expectation=expectation, passed=True)
        )

    def fail(self, step: Step, message: str, expectation: str, observed: object) -> NoReturn:
        """Record a failed validation and end the case."""
        raise self._failure(step, message, expectation, observed)

    def _failure(
        self, step: Step, message: str, expectation: str, observed: object
    ) -> ValidationFailed:
        validation = Validation(
            step=_label(step),
            message=message,
            expectation=expectation,
            passed=False,
            observed=str(observed),
        )
        self.validations.append(validation)
        return ValidationFailed(validation)

    def check_equal(
        self, step: Step, message: str, field: str, observed: object, expected: object
    ) -> None:
        """Validation "``field`` is ``expected``"."""
        self.check(step, message, f"{field} is {expected}", observed == expected, observed)

    # -- the charge point's messages -------------------------------------------------------------

    async def call(self, step: Step, request: Request[_Res]) -> _Res:
        """Send ``request``; ``step`` is the central system's answer step, whose validation
        "The Central System responds with a ….conf" fails on a CALLERROR, no answer, or a
        closed connection."""
        message = f"{request.action}.conf"
        expectation = f"The Central System responds with {_a(message)}"
        try:
            return await self.cp.call(request)
        except CallErrorReceived as error:
            observed: object = f"CALLERROR {error.code}: {error.description}"
        except CallTimeout:
            observed = f"no answer within {self.config.timeout:g} s"
        except ConnectionLost:
            observed = "the connection closed"
        raise self._failure(step, message, expectation, observed)

    async def status(
        self,
        step: Step,
        connector_id: int,
        status: ChargePointStatus,
        error_code: ChargePointErrorCode = ChargePointErrorCode.NO_ERROR,
    ) -> None:
        """Send a StatusNotification (§4.9)."""
        await self.call(
            step,
            StatusNotificationRequest(
                connector_id=connector_id,
                error_code=error_code,
                status=status,
                timestamp=datetime.now(UTC),
            ),
        )

    async def boot(self, step: Step) -> BootNotificationResponse:
        """Send a BootNotification and check "status is Accepted" at ``step``."""
        answer = await self.call(
            step,
            BootNotificationRequest(
                charge_point_vendor=self.config.vendor, charge_point_model=self.config.model
            ),
        )
        self.check_equal(
            step, "BootNotification.conf", "status", answer.status, RegistrationStatus.ACCEPTED
        )
        return answer

    async def statuses(
        self,
        step: Step,
        status: ChargePointStatus = ChargePointStatus.AVAILABLE,
        *,
        overrides: dict[int, ChargePointStatus] | None = None,
    ) -> None:
        """A StatusNotification for connector 0 and each connector."""
        for connector in range(self.config.number_of_connectors + 1):
            await self.status(step, connector, (overrides or {}).get(connector, status))

    async def authorize(self, step: Step, id_tag: str) -> AuthorizeResponse:
        """Send an Authorize (§4.1)."""
        return await self.call(step, AuthorizeRequest(id_tag=id_tag))

    async def start_transaction(
        self,
        step: Step,
        *,
        id_tag: str | None = None,
        connector_id: int | None = None,
        reservation_id: int | None = None,
        timestamp: datetime | None = None,
    ) -> StartTransactionResponse:
        """Send a StartTransaction (§4.8); the transaction is stopped at the end of the case
        unless the case stops it."""
        connector = self.config.connector_id if connector_id is None else connector_id
        answer = await self.call(
            step,
            StartTransactionRequest(
                connector_id=connector,
                id_tag=id_tag or self.config.valid_id_tag,
                meter_start=self.meter,
                timestamp=timestamp or datetime.now(UTC),
                reservation_id=reservation_id,
            ),
        )
        self.open_transactions[answer.transaction_id] = connector
        return answer

    async def stop_transaction(
        self,
        step: Step,
        transaction_id: int,
        reason: Reason,
        *,
        id_tag: str | None = None,
        timestamp: datetime | None = None,
    ) -> StopTransactionResponse:
        """Send a StopTransaction (§4.10) with ``reason``."""
        self.meter += 1000
        answer = await self.call(
            step,
            StopTransactionRequest(
                meter_stop=self.meter,
                timestamp=timestamp or datetime.now(UTC),
                transaction_id=transaction_id,
                reason=reason,
                id_tag=id_tag,
            ),
        )
        self.open_transactions.pop(transaction_id, None)
        return answer

    # -- reusable states (OCTT §3.22) ------------------------------------------------------------

    async def booted(self) -> BootNotificationResponse:
        """Reusable state Booted: BootNotification (Accepted), then Available for connector 0
        and every connector."""
        answer = await self.boot("Reusable state Booted, step 2")
        await self.statuses("Reusable state Booted, step 4")
        return answer

    async def authorized(self, id_tag: str | None = None) -> AuthorizeResponse:
        """Reusable state Authorized: Authorize with the valid id tag, Accepted."""
        label = "Reusable state Authorized, step 2"
        answer = await self.authorize(label, id_tag or self.config.valid_id_tag)
        self.check_equal(
            label,
            "Authorize.conf",
            "idTagInfo.status",
            answer.id_tag_info.status,
            AuthorizationStatus.ACCEPTED,
        )
        return answer

    async def charging(
        self,
        *,
        authorize: bool = True,
        id_tag: str | None = None,
        connector_id: int | None = None,
        reservation_id: int | None = None,
    ) -> int:
        """Reusable state Charging (after Authorized): Preparing, StartTransaction
        (Accepted), Charging. Returns the transaction id."""
        if authorize:
            await self.authorized(id_tag)
        connector = self.config.connector_id if connector_id is None else connector_id
        await self.status("Reusable state Charging, step 2", connector, ChargePointStatus.PREPARING)
        label = "Reusable state Charging, step 4"
        started = await self.start_transaction(
            label, id_tag=id_tag, connector_id=connector, reservation_id=reservation_id
        )
        self.check_equal(
            label,
            "StartTransaction.conf",
            "idTagInfo.status",
            started.id_tag_info.status,
            AuthorizationStatus.ACCEPTED,
        )
        await self.status("Reusable state Charging, step 6", connector, ChargePointStatus.CHARGING)
        return started.transaction_id

    # -- the central system's requests -----------------------------------------------------------

    def will_answer(
        self,
        request_type: type[_Req],
        answer: Response | Callable[[Any], Response] | None = None,
    ) -> Expectation:
        """From now on, answer ``request_type`` with ``answer`` (None: the tool's usual
        answer) and keep the first such request for :meth:`wait_for`."""
        expectation = Expectation(request_type)
        action = request_type.action
        base = self._base_answers[action].response

        def respond(request: Any) -> Any:
            expectation.record(request)
            chosen = base if answer is None else answer
            return chosen(request) if callable(chosen) else chosen

        self.cp.answer(action, respond)
        return expectation

    async def expect(
        self,
        step: Step,
        request_type: type[_Req],
        action: OperatorAction | None,
        answer: Response | Callable[[Any], Response] | None = None,
    ) -> _Req:
        """Have the operator do ``action`` (None: the central system acts by itself) and wait
        for the ``request_type`` it causes, answered with ``answer``; returns the request."""
        return await self.wait_for(step, self.will_answer(request_type, answer), action)  # type: ignore[no-any-return]

    async def wait_for(
        self, step: Step, expectation: Expectation, action: OperatorAction | None = None
    ) -> Any:
        """Wait for the request of ``expectation``, running ``action`` meanwhile.

        Raises :class:`NeedsOperator` when the operator cannot act; fails the validation
        "The Central System sends a ….req" when the operator fails or nothing arrives.
        """
        config = self.config
        timeout = (config.operator_timeout or config.timeout) if action else config.timeout
        done = anyio.Event()
        failures: list[Exception] = []

        async def run() -> None:
            try:
                if action is not None:
                    await action(self.operator)
            except Exception as error:
                failures.append(error)
            finally:
                done.set()

        async with anyio.create_task_group() as group:
            group.start_soon(run)
            with anyio.move_on_after(timeout):
                while not expectation.arrived.is_set():
                    await _either(expectation.arrived, done)
                    if done.is_set() and not expectation.arrived.is_set():
                        if failures:
                            break
                        await expectation.arrived.wait()
            if expectation.arrived.is_set():
                # Let the operation finish: the central system has our answer then.
                with anyio.move_on_after(timeout):
                    await done.wait()
            group.cancel_scope.cancel()
        name = f"{expectation.request_type.action}.req"
        self.cp.answers[expectation.request_type.action] = self._base_answers[
            expectation.request_type.action
        ]
        if failures and isinstance(failures[0], NeedsOperator):
            raise failures[0]
        if not expectation.arrived.is_set():
            observed = (
                f"the operation failed: {type(failures[0]).__name__}: {failures[0]}"
                if failures
                else f"nothing within {timeout:g} s"
            )
            self.fail(step, name, f"The Central System sends {_a(name)}", observed)
        self.check(step, name, f"The Central System sends {_a(name)}", True)
        if failures:
            self.fail(
                step,
                name,
                "The central system's operation completes with the answer",
                f"{type(failures[0]).__name__}: {failures[0]}",
            )
        return expectation.request

    def expiry_date(self) -> datetime:
        """A reservation expiry date: now plus the configured offset."""
        return datetime.now(UTC) + self.config.reservation_expiry

    # -- the tool's own answers ------------------------------------------------------------------

    def _get_configuration(self, request: GetConfigurationRequest) -> Response:
        configuration = self.cp.configuration
        keys = request.key or tuple(configuration)
        known = tuple(
            KeyValue(key=key, value=configuration[key][0], readonly=configuration[key][1])
            for key in keys
            if key in configuration
        )
        unknown = tuple(key for key in keys if key not in configuration)
        return GetConfigurationResponse(
            configuration_key=known or None, unknown_key=unknown or None
        )

    def _install_certificate(self, request: InstallCertificateRequest) -> Response:
        self.installed_certificates.setdefault(request.certificate_type, []).append(
            request.certificate
        )
        return InstallCertificateResponse(status=CertificateStatus.ACCEPTED)

    def certificate_hash_data(self, certificate_pem: str) -> CertificateHashData:
        """The hash data the tool reports for one of its (root) certificates."""
        return hash_data(certificate_facts(certificate_pem), None, self.config.hash_algorithm)

    def _installed_certificate_ids(self, request: GetInstalledCertificateIdsRequest) -> Response:
        installed = self.installed_certificates.get(request.certificate_type, [])
        if not installed:
            return GetInstalledCertificateIdsResponse(
                status=GetInstalledCertificateStatus.NOT_FOUND
            )
        return GetInstalledCertificateIdsResponse(
            status=GetInstalledCertificateStatus.ACCEPTED,
            certificate_hash_data=tuple(self.certificate_hash_data(pem) for pem in installed),
        )

    def _delete_certificate(self, request: DeleteCertificateRequest) -> Response:
        for kind, pems in self.installed_certificates.items():
            for pem in pems:
                if same_hash_data(self.certificate_hash_data(pem), request.certificate_hash_data):
                    self.installed_certificates[kind].remove(pem)
                    return DeleteCertificateResponse(status=DeleteCertificateStatus.ACCEPTED)
        return DeleteCertificateResponse(status=DeleteCertificateStatus.NOT_FOUND)


def offline_timestamp(seconds: float = 60.0) -> datetime:
    """A time in the recent past: when an offline charge point did what it now reports."""
    return datetime.now(UTC) - timedelta(seconds=seconds)
