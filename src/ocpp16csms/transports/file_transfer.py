"""File transfers of a central system: per-request URLs, the operations, and upload views.

:class:`FileTransfers` binds a :class:`~ocpp16csms.CentralSystem` to the file-transfer
receiver (:mod:`ocpp16csms.transfers`): it makes the signed, expiring URL of each request,
sends GetDiagnostics, GetLog, UpdateFirmware or SignedUpdateFirmware with it, and ties what
was uploaded to the status notification that reports it (:class:`UploadView`). Its
:meth:`~FileTransfers.app` is the ASGI application to serve at ``base_url``. See
docs/fleet-operations.md.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import attrs

from .._logging import get_logger
from ..central_system import CentralSystem
from ..datatypes import Firmware, LogParameters
from ..engine import CallContext
from ..enums import DiagnosticsStatus, LogType, UploadLogStatus
from ..errors import InvalidRequest
from ..messages import (
    DiagnosticsStatusNotificationRequest,
    GetDiagnosticsResponse,
    GetLogResponse,
    LogStatusNotificationRequest,
    SignedUpdateFirmwareResponse,
    UpdateFirmwareResponse,
)
from ..stores.device_state import TransferKind, TransferRequest, TransferStatus
from ..transfers import (
    DEFAULT_MAX_UPLOAD_BYTES,
    FileTransferApp,
    FirmwareSource,
    GrantError,
    GrantSigner,
    StoredUpload,
    TransferGrant,
    UploadStorage,
    read_firmware,
)

__all__ = ["FileTransfers", "UploadView", "UploadViewListener"]

log = get_logger("ocpp16csms.transfers")


@attrs.frozen(kw_only=True)
class UploadView:
    """A diagnostics or log upload as the central system knows it: what was asked
    (``request``, from the device-state store), the newest status the charge point reported
    (``status``), and the files received under that request's URL (``uploads``)."""

    charge_point_id: str
    kind: TransferKind
    request_id: int | None = None
    request: TransferRequest | None = None
    status: TransferStatus | None = None
    uploads: tuple[StoredUpload, ...] = ()

    @property
    def complete(self) -> bool:
        """The charge point reported Uploaded and a file was received."""
        reported = getattr(self.status, "status", None)
        uploaded = (DiagnosticsStatus.UPLOADED, UploadLogStatus.UPLOADED)
        return reported in uploaded and bool(self.uploads)


UploadViewListener = Callable[[UploadView], Awaitable[None] | None]
"""Called with the :class:`UploadView` each time a charge point reports the status of an
upload (DiagnosticsStatusNotification, LogStatusNotification)."""


class FileTransfers:
    """The file transfers of ``central_system`` at ``base_url`` (where :meth:`app` is served).

    ``signer`` signs the grants (give every process the same key); uploads go to
    ``storage``, firmware comes from ``firmware``. Upload URLs are valid for
    ``upload_valid_for`` seconds, firmware URLs for ``download_valid_for``.
    """

    def __init__(
        self,
        central_system: CentralSystem,
        *,
        signer: GrantSigner,
        base_url: str,
        storage: UploadStorage | None = None,
        firmware: FirmwareSource | None = None,
        upload_valid_for: float = 24 * 3600.0,
        download_valid_for: float = 24 * 3600.0,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"base_url must be an http(s) URL with a host, got {base_url!r}")
        for name, value in (("upload", upload_valid_for), ("download", download_valid_for)):
            if not value > 0:
                raise ValueError(f"{name}_valid_for must be positive, got {value!r}")
        self.central_system = central_system
        self.signer = signer
        self.base_url = base_url.rstrip("/")
        self.storage = storage
        self.firmware = firmware
        self.upload_valid_for = upload_valid_for
        self.download_valid_for = download_valid_for
        self._listeners: list[UploadViewListener] = []
        self._app = FileTransferApp(
            signer,
            storage=storage,
            firmware=firmware,
            max_upload_bytes=max_upload_bytes,
            clock=central_system.clock,
            on_upload=[self._uploaded],
        )
        central_system.after(DiagnosticsStatusNotificationRequest)(self._reported)
        central_system.after(LogStatusNotificationRequest)(self._reported)

    def app(self) -> FileTransferApp:
        """The ASGI application that receives the uploads and serves the firmware."""
        return self._app

    def subscribe(self, listener: UploadViewListener) -> UploadViewListener:
        """Call ``listener`` with an :class:`UploadView` whenever a charge point reports an
        upload's status (usable as a decorator)."""
        self._listeners.append(listener)
        return listener

    # -- locations ------------------------------------------------------------------------------

    def upload_location(
        self, charge_point_id: str, kind: TransferKind, request_id: int | None = None
    ) -> str:
        """A new upload URL (a directory: the charge point may append its file name)."""
        if kind not in (TransferKind.DIAGNOSTICS, TransferKind.LOG):
            raise ValueError(f"uploads are Diagnostics or Log, not {kind}")
        grant = self.signer.grant(
            kind,
            charge_point_id,
            now=self.central_system.clock(),
            valid_for=self.upload_valid_for,
            request_id=request_id,
        )
        return f"{self.base_url}/upload/{self.signer.token(grant)}/"

    def firmware_location(
        self,
        charge_point_id: str,
        file_name: str,
        *,
        kind: TransferKind = TransferKind.FIRMWARE,
        request_id: int | None = None,
    ) -> str:
        """A new URL from which the charge point may download ``file_name``."""
        if kind not in (TransferKind.FIRMWARE, TransferKind.SIGNED_FIRMWARE):
            raise ValueError(f"downloads are Firmware or SignedFirmware, not {kind}")
        grant = self.signer.grant(
            kind,
            charge_point_id,
            now=self.central_system.clock(),
            valid_for=self.download_valid_for,
            request_id=request_id,
            file_name=file_name,
        )
        return f"{self.base_url}/firmware/{self.signer.token(grant)}/{quote(file_name, safe='')}"

    def grant_of(self, location: str) -> TransferGrant | None:
        """The grant in a URL this object made (expired or not), or None."""
        parts = urlsplit(location)
        prefix = urlsplit(self.base_url).path.rstrip("/")
        path = parts.path[len(prefix) :] if parts.path.startswith(prefix) else parts.path
        segments = path.strip("/").split("/")
        if len(segments) < 2 or segments[0] not in ("upload", "firmware"):
            return None
        try:
            return self.signer.verify(segments[1], now=None)
        except GrantError:
            return None

    async def firmware_content(self, location: str) -> bytes | None:
        """The bytes of the firmware file a firmware URL of ours names (None: not ours, or no
        such file); what :class:`~ocpp16csms.profiles.security.FirmwareVerifier` reads."""
        grant = self.grant_of(location)
        if grant is None or not grant.is_download or self.firmware is None:
            return None
        return await read_firmware(self.firmware, grant.file_name or "")

    # -- operations ---------------------------------------------------------------------------

    async def get_diagnostics(
        self,
        charge_point_id: str,
        *,
        retries: int | None = None,
        retry_interval: int | None = None,
        start_time: datetime | None = None,
        stop_time: datetime | None = None,
    ) -> GetDiagnosticsResponse:
        """GetDiagnostics (§5.9) to a new upload URL (``cs.firmware.get_diagnostics``)."""
        return await self.central_system.firmware.get_diagnostics(
            charge_point_id,
            self.upload_location(charge_point_id, TransferKind.DIAGNOSTICS),
            retries=retries,
            retry_interval=retry_interval,
            start_time=start_time,
            stop_time=stop_time,
        )

    async def get_log(
        self,
        charge_point_id: str,
        *,
        log_type: LogType,
        request_id: int,
        oldest_timestamp: datetime | None = None,
        latest_timestamp: datetime | None = None,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> GetLogResponse:
        """GetLog (whitepaper §5.9) to a new upload URL (``cs.security.get_log``)."""
        location = self.upload_location(charge_point_id, TransferKind.LOG, request_id)
        return await self.central_system.security.get_log(
            charge_point_id,
            log_type=log_type,
            request_id=request_id,
            log=LogParameters(
                remote_location=location,
                oldest_timestamp=oldest_timestamp,
                latest_timestamp=latest_timestamp,
            ),
            retries=retries,
            retry_interval=retry_interval,
        )

    async def update_firmware(
        self,
        charge_point_id: str,
        file_name: str,
        retrieve_date: datetime | None = None,
        *,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> UpdateFirmwareResponse:
        """UpdateFirmware (§5.19) from a new URL of ``file_name`` (``retrieve_date``: now)."""
        await self._check_file(file_name)
        return await self.central_system.firmware.update_firmware(
            charge_point_id,
            self.firmware_location(charge_point_id, file_name),
            self.central_system.clock() if retrieve_date is None else retrieve_date,
            retries=retries,
            retry_interval=retry_interval,
        )

    async def signed_update_firmware(
        self,
        charge_point_id: str,
        file_name: str,
        *,
        request_id: int,
        signing_certificate: str,
        signature: str,
        retrieve_date: datetime | None = None,
        install_date: datetime | None = None,
        retries: int | None = None,
        retry_interval: int | None = None,
    ) -> SignedUpdateFirmwareResponse:
        """SignedUpdateFirmware (whitepaper §5.21) from a new URL of ``file_name``."""
        await self._check_file(file_name)
        location = self.firmware_location(
            charge_point_id, file_name, kind=TransferKind.SIGNED_FIRMWARE, request_id=request_id
        )
        firmware = Firmware(
            location=location,
            retrieve_date_time=self.central_system.clock()
            if retrieve_date is None
            else retrieve_date,
            install_date_time=install_date,
            signing_certificate=signing_certificate,
            signature=signature,
        )
        return await self.central_system.security.signed_update_firmware(
            charge_point_id,
            request_id=request_id,
            firmware=firmware,
            retries=retries,
            retry_interval=retry_interval,
        )

    async def _check_file(self, file_name: str) -> None:
        if self.firmware is None or await self.firmware.stat(file_name) is None:
            raise InvalidRequest(f"no firmware file {file_name!r} to serve")

    # -- uploads ------------------------------------------------------------------------------

    async def upload(
        self, charge_point_id: str, kind: TransferKind, request_id: int | None = None
    ) -> UploadView:
        """What is known of the charge point's upload: GetDiagnostics' (``request_id`` None)
        or a GetLog's."""
        device_state = self.central_system.stores.device_state
        request = status = None
        if device_state is not None:
            request = await device_state.request(charge_point_id, kind, request_id)
            status = await device_state.status(charge_point_id, kind, request_id)
        uploads: tuple[StoredUpload, ...] = ()
        grant = None if request is None else self.grant_of(request.location)
        if self.storage is not None and grant is not None:
            uploads = tuple(
                u
                for u in await self.storage.uploads(charge_point_id, kind=kind)
                if u.transfer_id == grant.transfer_hex
            )
        return UploadView(
            charge_point_id=charge_point_id,
            kind=kind,
            request_id=request_id,
            request=request,
            status=status,
            uploads=uploads,
        )

    async def _uploaded(self, upload: StoredUpload) -> None:
        # The file name the upload came under goes into the request's record, when it had none
        # (GetDiagnostics answers may leave it out) and the URL is the request's own.
        device_state = self.central_system.stores.device_state
        if device_state is None:
            return
        request = await device_state.request(upload.charge_point_id, upload.kind, upload.request_id)
        grant = None if request is None else self.grant_of(request.location)
        if (
            request is not None
            and request.file_name is None
            and grant is not None
            and grant.transfer_hex == upload.transfer_id
        ):
            await device_state.record_request(attrs.evolve(request, file_name=upload.file_name))

    async def _reported(self, request: Any, response: Any, context: CallContext) -> None:
        if isinstance(request, DiagnosticsStatusNotificationRequest):
            view = await self.upload(context.charge_point_id, TransferKind.DIAGNOSTICS)
        else:
            view = await self.upload(context.charge_point_id, TransferKind.LOG, request.request_id)
        if view.request is None:
            return
        for listener in self._listeners:
            try:
                result = listener(view)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("[%s] upload listener %r failed", context.charge_point_id, listener)
