"""Background work of the Plug & Charge service: certificate state, signing, renewal.

:class:`CertificateState` keeps the store in step with what the charge point acknowledged;
:class:`SigningFlow` signs an accepted V2G CSR and delivers the chain with CertificateSigned,
retrying as the charge point's CertSigningWaitMinimum / CertSigningRepeatTimes say, and asks
for new CSRs ahead of expiry.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

import anyio
import attrs

from ..._logging import get_logger, message_context
from ...engine import Engine
from ...errors import CsmsError, InvalidRequest
from .configuration import PncConfiguration, PncSettings
from .datatypes import EVSE, CertificateHashData, CertificateHashDataChain
from .enums import (
    CertificateSignedStatus,
    CertificateSigningUse,
    GetCertificateIdUse,
    InstallCertificateUse,
    MessageTrigger,
    TriggerMessageStatus,
)
from .messages import CertificateSignedResponse, TriggerMessageResponse
from .seams import PncProviders
from .store import InstalledCertificate, PncCertificateStore, SigningRequest, V2GCertificateState

__all__ = ["CertificateState", "SigningFlow", "leaf_not_after", "root_hash_data"]

log = get_logger("ocpp16csms.plug_and_charge")


def leaf_not_after(chain: str) -> datetime | None:
    """When the first certificate of a PEM chain expires; None without the ``pnc`` extra or
    for text that holds no certificate."""
    try:
        from . import pki
    except ImportError:
        return None
    try:
        return pki.load_pem_certificates(chain)[0].not_valid_after_utc
    except (pki.CertificateChainError, IndexError):
        return None


def root_hash_data(certificate: str) -> CertificateHashData | None:
    """The hash data of a PEM root certificate (its own issuer); None without the ``pnc``
    extra or for text that holds no certificate."""
    try:
        from . import pki
    except ImportError:
        return None
    try:
        loaded = pki.load_pem_certificates(certificate)[0]
    except (pki.CertificateChainError, IndexError):
        return None
    return pki.certificate_hash_data(loaded, loaded)


class CertificateState:
    """The certificate store, written as the charge point acknowledges; no-ops without one."""

    def __init__(self, store: PncCertificateStore | None) -> None:
        self.store = store

    async def accept_signing_request(self, signing: SigningRequest) -> None:
        """Keep an accepted CSR; it replaces older ones of the same charge point and type."""
        if self.store is None:
            return
        for older in await self.store.signing_requests(signing.charge_point_id):
            if older.certificate_type == signing.certificate_type:
                await self.store.delete_signing_request(older.charge_point_id, older.request_id)
        await self.store.save_signing_request(signing)

    async def signing_attempted(self, signing: SigningRequest) -> None:
        """Keep the attempts made for a CSR, if it is still pending."""
        if self.store is None:
            return
        pending = await self.store.signing_requests(signing.charge_point_id)
        if any(p.request_id == signing.request_id for p in pending):
            await self.store.save_signing_request(signing)

    async def signing_done(self, signing: SigningRequest) -> None:
        """Forget a CSR: delivered, refused or given up."""
        if self.store is not None:
            await self.store.delete_signing_request(signing.charge_point_id, signing.request_id)

    async def installed_root(
        self, charge_point_id: str, kind: InstallCertificateUse, certificate: str, now: datetime
    ) -> None:
        """An InstallCertificate the charge point accepted."""
        hash_data = root_hash_data(certificate)
        if self.store is None or hash_data is None:
            return
        await self.store.put_installed(
            InstalledCertificate(
                charge_point_id=charge_point_id,
                certificate_type=GetCertificateIdUse(kind.value),
                hash_data=hash_data,
                certificate=certificate,
                updated_at=now,
            )
        )

    async def deleted(self, charge_point_id: str, hash_data: CertificateHashData) -> None:
        """A DeleteCertificate answered Accepted or NotFound."""
        if self.store is not None:
            await self.store.remove_installed(charge_point_id, hash_data)

    async def reported(
        self,
        charge_point_id: str,
        kinds: Iterable[GetCertificateIdUse],
        chains: Iterable[CertificateHashDataChain],
        now: datetime,
    ) -> None:
        """A GetInstalledCertificateIds answer: what it lists is all there is of ``kinds``."""
        if self.store is None:
            return
        known = {c.key: c for c in await self.store.installed(charge_point_id)}
        reported = []
        for chain in chains:
            certificate = InstalledCertificate(
                charge_point_id=charge_point_id,
                certificate_type=chain.certificate_type,
                hash_data=chain.certificate_hash_data,
                child_hash_data=chain.child_certificate_hash_data or (),
                updated_at=now,
            )
            # The PEM of a root we installed ourselves stays known.
            ours = known.get(certificate.key)
            if ours is not None and ours.certificate_type == certificate.certificate_type:
                certificate = attrs.evolve(certificate, certificate=ours.certificate)
            reported.append(certificate)
        await self.store.replace_installed(charge_point_id, kinds, reported)

    async def v2g_delivered(self, charge_point_id: str, chain: str, now: datetime) -> None:
        """A V2G chain the charge point accepted: its expiry is watched from now on."""
        not_after = leaf_not_after(chain)
        if self.store is None or not_after is None:
            if not_after is None:
                log.info("[%s] V2G certificate delivered; its expiry is unknown", charge_point_id)
            return
        await self.store.save_v2g_certificate(
            V2GCertificateState(
                charge_point_id=charge_point_id,
                not_after=not_after,
                installed_at=now,
                certificate_chain=chain,
            )
        )


class _Service(Protocol):
    """What the flow needs of :class:`~.service.PlugAndChargeService`."""

    providers: PncProviders
    settings: PncSettings

    @property
    def engine(self) -> Engine: ...

    async def certificate_signed(
        self,
        charge_point_id: str,
        certificate_chain: str,
        certificate_type: CertificateSigningUse | None = ...,
    ) -> CertificateSignedResponse: ...

    async def trigger_message(
        self, charge_point_id: str, requested_message: MessageTrigger, *, evse: EVSE | None = ...
    ) -> TriggerMessageResponse: ...

    async def pnc_configuration(
        self, charge_point_id: str, *, refresh: bool = ...
    ) -> PncConfiguration: ...


class SigningFlow:
    """Signs accepted V2G CSRs in the background and delivers them, with retries."""

    def __init__(self, service: _Service, state: CertificateState) -> None:
        self._service = service
        self._state = state
        # Consecutive refusals of a delivered chain, per charge point (reset on Accepted).
        self._refusals: dict[str, int] = {}

    async def retry_policy(self, charge_point_id: str) -> tuple[float, int]:
        """(CertSigningWaitMinimum, CertSigningRepeatTimes) of the charge point, as the
        configuration store has them, else the service's settings."""
        settings = self._service.settings
        try:
            known = await self._service.pnc_configuration(charge_point_id)
        except Exception:  # a failing store must not stop the delivery
            log.exception("[%s] reading the signing configuration failed", charge_point_id)
            known = PncConfiguration()
        wait = known.cert_signing_wait_minimum
        repeat = known.cert_signing_repeat_times
        return (
            float(wait) if wait is not None else settings.signing_wait_minimum,
            repeat if repeat is not None else settings.signing_repeat_times,
        )

    async def sign_and_deliver(self, signing: SigningRequest) -> None:
        """Sign the CSR and send CertificateSigned; run with ``engine.spawn`` (never raises)."""
        with message_context(signing.charge_point_id, signing.request_id):
            try:
                await self._sign_and_deliver(signing)
            except Exception:
                log.exception("[%s] signing the V2G CSR failed", signing.charge_point_id)

    async def _sign_and_deliver(self, signing: SigningRequest) -> None:
        cp = signing.charge_point_id
        signer = self._service.providers.v2g_signer
        chain: str | None = None
        if signer is None:
            log.warning("[%s] CSR accepted, but the V2G signer was removed", cp)
        else:
            try:
                chain = await signer.sign(cp, signing.csr, signing.certificate_type)
            except Exception:
                log.exception("[%s] the V2G certificate signer failed", cp)
            else:
                if chain is None:
                    log.warning("[%s] the V2G certificate signer refused the CSR", cp)
        if chain is None:
            await self._state.signing_done(signing)
            return
        wait, repeat = await self.retry_policy(cp)
        for attempt in range(repeat + 1):
            try:
                response = await self._service.certificate_signed(
                    cp, chain, signing.certificate_type
                )
            except InvalidRequest as invalid:
                log.error("[%s] the signer's chain cannot be sent: %s", cp, invalid)
                await self._state.signing_done(signing)
                return
            except CsmsError as error:  # not connected, timeout, CallError, not Accepted …
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status is CertificateSignedStatus.ACCEPTED:
                    log.info("[%s] V2G certificate delivered", cp)
                    self._refusals.pop(cp, None)
                    await self._state.signing_done(signing)
                    return
                await self._refused(signing, wait, repeat)
                return
            signing = attrs.evolve(signing, attempts=signing.attempts + 1, last_error=problem)
            await self._state.signing_attempted(signing)
            log.warning("[%s] CertificateSigned attempt %d failed: %s", cp, attempt + 1, problem)
            if attempt < repeat:
                await anyio.sleep(wait * 2**attempt)
        log.warning("[%s] CertificateSigned given up after %d attempts", cp, repeat + 1)
        await self._state.signing_done(signing)

    async def _refused(self, signing: SigningRequest, wait: float, repeat: int) -> None:
        # The charge point refused this chain: sending it again cannot help; after the wait
        # it is asked for a new CSR, at most CertSigningRepeatTimes times in a row.
        cp = signing.charge_point_id
        await self._state.signing_done(signing)
        refusals = self._refusals.get(cp, 0) + 1
        if refusals > repeat:
            self._refusals.pop(cp, None)
            log.warning("[%s] the charge point refused %d signed chains; given up", cp, refusals)
            return
        self._refusals[cp] = refusals
        log.warning("[%s] the charge point refused the signed chain; a new CSR follows", cp)
        await anyio.sleep(wait * 2 ** (refusals - 1))
        try:
            await self._service.trigger_message(cp, MessageTrigger.SIGN_V2G_CERTIFICATE)
        except CsmsError as error:
            log.warning("[%s] asking for a new CSR failed: %s", cp, error)

    async def renew_expiring(self) -> list[str]:
        """One renewal pass (see ``PlugAndChargeService.renew_expiring_certificates``)."""
        store = self._state.store
        if store is None:
            return []
        engine, settings = self._service.engine, self._service.settings
        now = engine.clock()
        asked: list[str] = []
        for state in await store.v2g_expiring(now + settings.renew_before):
            cp = state.charge_point_id
            last = state.renewal_requested_at
            if not engine.is_connected(cp) or (
                last is not None and now - last < settings.renewal_retry
            ):
                continue
            # Marked before asking: the renewal's new certificate may be stored before the
            # trigger's answer is back, and must not be overwritten by this older state.
            await store.save_v2g_certificate(attrs.evolve(state, renewal_requested_at=now))
            try:
                response = await self._service.trigger_message(
                    cp, MessageTrigger.SIGN_V2G_CERTIFICATE
                )
            except CsmsError as error:
                log.warning("[%s] renewal of the V2G certificate: %s", cp, error)
                continue
            if response.status is TriggerMessageStatus.ACCEPTED:
                log.info("[%s] V2G certificate expires %s; renewal asked", cp, state.not_after)
                asked.append(cp)
            else:
                log.warning("[%s] renewal trigger answered %s", cp, response.status.value)
        return asked
