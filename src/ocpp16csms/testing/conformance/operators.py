"""The operator protocol: how the suite makes the central system act ("Manual Action").

Where the OCTT document has the central system send a request (RemoteStartTransaction,
ReserveNow, SetChargingProfile, …) or hold a memory state (an id tag Blocked or Expired), the
suite asks an :class:`Operator`. It only has to make the central system send the request:
the suite plays the charge point, answers it and checks what arrived. Each method returns
once the central system has sent the request and got the answer (or at once, if it only
starts the action); what it returns is ignored.

- :class:`~ocpp16csms.testing.conformance.in_process.InProcessOperator` drives our own
  ``CentralSystem`` through its typed operations.
- :class:`NoOperator` refuses everything with :class:`NeedsOperator`; the cases that need an
  operator are then reported as "needs operator". Subclass it and override what your central
  system's API offers to drive another CSMS.
- :class:`PromptingOperator` prints each instruction for a person at the central system's
  console (``--interactive``); the suite then waits for the request to arrive.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol, TextIO, runtime_checkable

import anyio.to_thread

from ...datatypes import CertificateHashData, ChargingProfile
from ...enums import (
    AuthorizationStatus,
    AvailabilityType,
    CertificateUse,
    ChargingProfilePurposeType,
    ChargingRateUnitType,
    LogType,
    MessageTrigger,
    MessageTriggerExtended,
    ResetType,
    UpdateType,
)
from .model import NeedsOperator

__all__ = ["NoOperator", "Operator", "PromptingOperator"]


@runtime_checkable
class Operator(Protocol):
    """Makes the central system under test act on command (the document's manual actions)."""

    async def set_id_tag_status(
        self, id_tag: str, status: AuthorizationStatus, *, parent_id_tag: str | None = None
    ) -> object:
        """Memory state: the central system knows ``id_tag`` with ``status`` (and parent)."""
        ...

    async def remote_start(
        self,
        charge_point_id: str,
        *,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: ChargingProfile | None = None,
    ) -> object:
        """Send RemoteStartTransaction (§5.11)."""
        ...

    async def remote_stop(self, charge_point_id: str, *, transaction_id: int) -> object:
        """Send RemoteStopTransaction (§5.12)."""
        ...

    async def reset(self, charge_point_id: str, *, reset_type: ResetType) -> object:
        """Send Reset (§5.14)."""
        ...

    async def unlock_connector(self, charge_point_id: str, *, connector_id: int) -> object:
        """Send UnlockConnector (§5.18)."""
        ...

    async def clear_cache(self, charge_point_id: str) -> object:
        """Send ClearCache (§5.4)."""
        ...

    async def get_configuration(
        self, charge_point_id: str, *, keys: Sequence[str] | None = None
    ) -> object:
        """Send GetConfiguration for ``keys`` (None: every key) (§5.8)."""
        ...

    async def change_configuration(self, charge_point_id: str, *, key: str, value: str) -> object:
        """Send ChangeConfiguration (§5.3)."""
        ...

    async def change_availability(
        self, charge_point_id: str, *, connector_id: int, availability: AvailabilityType
    ) -> object:
        """Send ChangeAvailability (§5.2)."""
        ...

    async def get_local_list_version(self, charge_point_id: str) -> object:
        """Send GetLocalListVersion (§5.10)."""
        ...

    async def send_local_list(
        self, charge_point_id: str, *, update_type: UpdateType, id_tags: Sequence[str]
    ) -> object:
        """Send SendLocalList of ``update_type`` holding ``id_tags``, each with its
        IdTagInfo; the central system chooses the version (§5.15)."""
        ...

    async def update_firmware(
        self, charge_point_id: str, *, location: str, retrieve_date: datetime
    ) -> object:
        """Send UpdateFirmware (§5.19)."""
        ...

    async def get_diagnostics(self, charge_point_id: str, *, location: str) -> object:
        """Send GetDiagnostics (§5.9)."""
        ...

    async def reserve_now(
        self,
        charge_point_id: str,
        *,
        connector_id: int,
        id_tag: str,
        expiry_date: datetime,
        parent_id_tag: str | None = None,
    ) -> object:
        """Send ReserveNow; the central system chooses the reservation id (§5.13)."""
        ...

    async def cancel_reservation(self, charge_point_id: str, *, reservation_id: int) -> object:
        """Send CancelReservation (§5.1)."""
        ...

    async def trigger_message(
        self,
        charge_point_id: str,
        *,
        requested_message: MessageTrigger,
        connector_id: int | None = None,
    ) -> object:
        """Send TriggerMessage (§5.17)."""
        ...

    async def set_charging_profile(
        self, charge_point_id: str, *, connector_id: int, profile: ChargingProfile
    ) -> object:
        """Send SetChargingProfile with ``profile`` (§5.16)."""
        ...

    async def clear_charging_profile(
        self,
        charge_point_id: str,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: ChargingProfilePurposeType | None = None,
        stack_level: int | None = None,
    ) -> object:
        """Send ClearChargingProfile with the given criteria only (§5.5)."""
        ...

    async def get_composite_schedule(
        self,
        charge_point_id: str,
        *,
        connector_id: int,
        duration: int,
        charging_rate_unit: ChargingRateUnitType | None = None,
    ) -> object:
        """Send GetCompositeSchedule (§5.7)."""
        ...

    async def change_authorization_key(self, charge_point_id: str) -> object:
        """Give the charge point a new HTTP Basic password of the central system's choosing:
        ChangeConfiguration ``AuthorizationKey`` (whitepaper §2.2)."""
        ...

    async def extended_trigger_message(
        self,
        charge_point_id: str,
        *,
        requested_message: MessageTriggerExtended,
        connector_id: int | None = None,
    ) -> object:
        """Send ExtendedTriggerMessage (whitepaper §5.5)."""
        ...

    async def install_certificate(
        self, charge_point_id: str, *, certificate_type: CertificateUse, certificate_pem: str
    ) -> object:
        """Send InstallCertificate (whitepaper §5.11)."""
        ...

    async def get_installed_certificate_ids(
        self, charge_point_id: str, *, certificate_type: CertificateUse
    ) -> object:
        """Send GetInstalledCertificateIds (whitepaper §5.7)."""
        ...

    async def delete_certificate(
        self, charge_point_id: str, *, certificate_hash_data: CertificateHashData
    ) -> object:
        """Send DeleteCertificate for a certificate the charge point reported (§5.3)."""
        ...

    async def get_log(self, charge_point_id: str, *, log_type: LogType, location: str) -> object:
        """Send GetLog (whitepaper §5.9)."""
        ...

    async def signed_update_firmware(
        self,
        charge_point_id: str,
        *,
        location: str,
        retrieve_date: datetime,
        signing_certificate_pem: str,
        signature: str,
    ) -> object:
        """Send SignedUpdateFirmware (whitepaper §5.21)."""
        ...


class NoOperator:
    """An operator that can do nothing: every method raises :class:`NeedsOperator`.

    Subclass it and override the methods your central system's API offers; the cases whose
    steps need the others are reported as "needs operator".
    """

    def _cannot(self, what: str) -> NeedsOperator:
        return NeedsOperator(f"no operator driver to make the central system {what}")

    async def set_id_tag_status(
        self, id_tag: str, status: AuthorizationStatus, *, parent_id_tag: str | None = None
    ) -> object:
        raise self._cannot(f"hold id tag {id_tag} as {status.value}")

    async def remote_start(
        self,
        charge_point_id: str,
        *,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: ChargingProfile | None = None,
    ) -> object:
        raise self._cannot("send RemoteStartTransaction")

    async def remote_stop(self, charge_point_id: str, *, transaction_id: int) -> object:
        raise self._cannot("send RemoteStopTransaction")

    async def reset(self, charge_point_id: str, *, reset_type: ResetType) -> object:
        raise self._cannot("send Reset")

    async def unlock_connector(self, charge_point_id: str, *, connector_id: int) -> object:
        raise self._cannot("send UnlockConnector")

    async def clear_cache(self, charge_point_id: str) -> object:
        raise self._cannot("send ClearCache")

    async def get_configuration(
        self, charge_point_id: str, *, keys: Sequence[str] | None = None
    ) -> object:
        raise self._cannot("send GetConfiguration")

    async def change_configuration(self, charge_point_id: str, *, key: str, value: str) -> object:
        raise self._cannot("send ChangeConfiguration")

    async def change_availability(
        self, charge_point_id: str, *, connector_id: int, availability: AvailabilityType
    ) -> object:
        raise self._cannot("send ChangeAvailability")

    async def get_local_list_version(self, charge_point_id: str) -> object:
        raise self._cannot("send GetLocalListVersion")

    async def send_local_list(
        self, charge_point_id: str, *, update_type: UpdateType, id_tags: Sequence[str]
    ) -> object:
        raise self._cannot("send SendLocalList")

    async def update_firmware(
        self, charge_point_id: str, *, location: str, retrieve_date: datetime
    ) -> object:
        raise self._cannot("send UpdateFirmware")

    async def get_diagnostics(self, charge_point_id: str, *, location: str) -> object:
        raise self._cannot("send GetDiagnostics")

    async def reserve_now(
        self,
        charge_point_id: str,
        *,
        connector_id: int,
        id_tag: str,
        expiry_date: datetime,
        parent_id_tag: str | None = None,
    ) -> object:
        raise self._cannot("send ReserveNow")

    async def cancel_reservation(self, charge_point_id: str, *, reservation_id: int) -> object:
        raise self._cannot("send CancelReservation")

    async def trigger_message(
        self,
        charge_point_id: str,
        *,
        requested_message: MessageTrigger,
        connector_id: int | None = None,
    ) -> object:
        raise self._cannot("send TriggerMessage")

    async def set_charging_profile(
        self, charge_point_id: str, *, connector_id: int, profile: ChargingProfile
    ) -> object:
        raise self._cannot("send SetChargingProfile")

    async def clear_charging_profile(
        self,
        charge_point_id: str,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: ChargingProfilePurposeType | None = None,
        stack_level: int | None = None,
    ) -> object:
        raise self._cannot("send ClearChargingProfile")

    async def get_composite_schedule(
        self,
        charge_point_id: str,
        *,
        connector_id: int,
        duration: int,
        charging_rate_unit: ChargingRateUnitType | None = None,
    ) -> object:
        raise self._cannot("send GetCompositeSchedule")

    async def change_authorization_key(self, charge_point_id: str) -> object:
        raise self._cannot("change the Basic auth password (AuthorizationKey)")

    async def extended_trigger_message(
        self,
        charge_point_id: str,
        *,
        requested_message: MessageTriggerExtended,
        connector_id: int | None = None,
    ) -> object:
        raise self._cannot("send ExtendedTriggerMessage")

    async def install_certificate(
        self, charge_point_id: str, *, certificate_type: CertificateUse, certificate_pem: str
    ) -> object:
        raise self._cannot("send InstallCertificate")

    async def get_installed_certificate_ids(
        self, charge_point_id: str, *, certificate_type: CertificateUse
    ) -> object:
        raise self._cannot("send GetInstalledCertificateIds")

    async def delete_certificate(
        self, charge_point_id: str, *, certificate_hash_data: CertificateHashData
    ) -> object:
        raise self._cannot("send DeleteCertificate")

    async def get_log(self, charge_point_id: str, *, log_type: LogType, location: str) -> object:
        raise self._cannot("send GetLog")

    async def signed_update_firmware(
        self,
        charge_point_id: str,
        *,
        location: str,
        retrieve_date: datetime,
        signing_certificate_pem: str,
        signature: str,
    ) -> object:
        raise self._cannot("send SignedUpdateFirmware")


class PromptingOperator(NoOperator):
    """An operator that is a person: each step is printed as an instruction to carry out in
    the central system's console; the suite then waits (``SuiteConfig.operator_timeout``)
    for the request. A memory state is confirmed by pressing Enter."""

    def __init__(self, output: TextIO | None = None) -> None:
        self.output = output or sys.stderr

    def _say(self, charge_point_id: str, text: str) -> None:
        print(f">>> [{charge_point_id}] {text}", file=self.output, flush=True)

    async def set_id_tag_status(
        self, id_tag: str, status: AuthorizationStatus, *, parent_id_tag: str | None = None
    ) -> object:
        parent = f" with parent id tag {parent_id_tag}" if parent_id_tag else ""
        print(
            f">>> Make the central system know id tag {id_tag} as {status.value}{parent}, "
            "then press Enter",
            file=self.output,
            flush=True,
        )
        # Abandoned if the case ends first (its timeout): the thread still waits for a line.
        return await anyio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)

    async def remote_start(
        self,
        charge_point_id: str,
        *,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: ChargingProfile | None = None,
    ) -> object:
        profile = " with a TxProfile (Relative, startPeriod 0)" if charging_profile else ""
        self._say(
            charge_point_id,
            f"Start a transaction remotely for id tag {id_tag} on connector {connector_id}"
            f"{profile}",
        )
        return None

    async def remote_stop(self, charge_point_id: str, *, transaction_id: int) -> object:
        self._say(charge_point_id, f"Stop transaction {transaction_id} remotely")
        return None

    async def reset(self, charge_point_id: str, *, reset_type: ResetType) -> object:
        self._say(charge_point_id, f"Reset the charge point ({reset_type.value})")
        return None

    async def unlock_connector(self, charge_point_id: str, *, connector_id: int) -> object:
        self._say(charge_point_id, f"Unlock connector {connector_id}")
        return None

    async def clear_cache(self, charge_point_id: str) -> object:
        self._say(charge_point_id, "Clear the authorization cache")
        return None

    async def get_configuration(
        self, charge_point_id: str, *, keys: Sequence[str] | None = None
    ) -> object:
        what = ", ".join(keys) if keys else "every configuration key"
        self._say(charge_point_id, f"Read the configuration: {what}")
        return None

    async def change_configuration(self, charge_point_id: str, *, key: str, value: str) -> object:
        self._say(charge_point_id, f"Set configuration key {key} to {value!r}")
        return None

    async def change_availability(
        self, charge_point_id: str, *, connector_id: int, availability: AvailabilityType
    ) -> object:
        self._say(charge_point_id, f"Make connector {connector_id} {availability.value}")
        return None

    async def get_local_list_version(self, charge_point_id: str) -> object:
        self._say(charge_point_id, "Ask for the local authorization list version")
        return None

    async def send_local_list(
        self, charge_point_id: str, *, update_type: UpdateType, id_tags: Sequence[str]
    ) -> object:
        self._say(
            charge_point_id,
            f"Send a {update_type.value} local list holding {', '.join(id_tags)}",
        )
        return None

    async def update_firmware(
        self, charge_point_id: str, *, location: str, retrieve_date: datetime
    ) -> object:
        self._say(charge_point_id, f"Update the firmware from {location}")
        return None

    async def get_diagnostics(self, charge_point_id: str, *, location: str) -> object:
        self._say(charge_point_id, f"Get diagnostics, uploaded to {location}")
        return None

    async def reserve_now(
        self,
        charge_point_id: str,
        *,
        connector_id: int,
        id_tag: str,
        expiry_date: datetime,
        parent_id_tag: str | None = None,
    ) -> object:
        parent = f" (parent id tag {parent_id_tag})" if parent_id_tag else ""
        self._say(
            charge_point_id,
            f"Reserve connector {connector_id} for id tag {id_tag}{parent} until "
            f"{expiry_date.isoformat()}",
        )
        return None

    async def cancel_reservation(self, charge_point_id: str, *, reservation_id: int) -> object:
        self._say(charge_point_id, f"Cancel reservation {reservation_id}")
        return None

    async def trigger_message(
        self,
        charge_point_id: str,
        *,
        requested_message: MessageTrigger,
        connector_id: int | None = None,
    ) -> object:
        where = f" for connector {connector_id}" if connector_id is not None else ""
        self._say(charge_point_id, f"Trigger a {requested_message.value} message{where}")
        return None

    async def set_charging_profile(
        self, charge_point_id: str, *, connector_id: int, profile: ChargingProfile
    ) -> object:
        self._say(
            charge_point_id,
            f"Set a {profile.charging_profile_purpose.value} charging profile on connector "
            f"{connector_id}: {profile}",
        )
        return None

    async def clear_charging_profile(
        self,
        charge_point_id: str,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: ChargingProfilePurposeType | None = None,
        stack_level: int | None = None,
    ) -> object:
        criteria = {
            "id": profile_id,
            "connector": connector_id,
            "purpose": purpose.value if purpose else None,
            "stack level": stack_level,
        }
        given = ", ".join(f"{k} {v}" for k, v in criteria.items() if v is not None)
        self._say(charge_point_id, f"Clear charging profiles: {given or 'all of them'}")
        return None

    async def get_composite_schedule(
        self,
        charge_point_id: str,
        *,
        connector_id: int,
        duration: int,
        charging_rate_unit: ChargingRateUnitType | None = None,
    ) -> object:
        unit = f" in {charging_rate_unit.value}" if charging_rate_unit else ""
        self._say(
            charge_point_id,
            f"Get the composite schedule of connector {connector_id} for {duration} s{unit}",
        )
        return None

    async def change_authorization_key(self, charge_point_id: str) -> object:
        self._say(charge_point_id, "Change the Basic auth password (AuthorizationKey)")
        return None

    async def extended_trigger_message(
        self,
        charge_point_id: str,
        *,
        requested_message: MessageTriggerExtended,
        connector_id: int | None = None,
    ) -> object:
        self._say(charge_point_id, f"Trigger (extended) a {requested_message.value} message")
        return None

    async def install_certificate(
        self, charge_point_id: str, *, certificate_type: CertificateUse, certificate_pem: str
    ) -> object:
        self._say(
            charge_point_id,
            f"Install this {certificate_type.value}:\n{certificate_pem.strip()}",
        )
        return None

    async def get_installed_certificate_ids(
        self, charge_point_id: str, *, certificate_type: CertificateUse
    ) -> object:
        self._say(charge_point_id, f"List the installed {certificate_type.value}s")
        return None

    async def delete_certificate(
        self, charge_point_id: str, *, certificate_hash_data: CertificateHashData
    ) -> object:
        self._say(
            charge_point_id,
            f"Delete the certificate with serial number {certificate_hash_data.serial_number}",
        )
        return None

    async def get_log(self, charge_point_id: str, *, log_type: LogType, location: str) -> object:
        self._say(charge_point_id, f"Get the {log_type.value}, uploaded to {location}")
        return None

    async def signed_update_firmware(
        self,
        charge_point_id: str,
        *,
        location: str,
        retrieve_date: datetime,
        signing_certificate_pem: str,
        signature: str,
    ) -> object:
        self._say(
            charge_point_id,
            f"Update the firmware securely from {location}, signature {signature}, signing "
            f"certificate:\n{signing_certificate_pem.strip()}",
        )
        return None
