"""File transfer over HTTP for charge points: diagnostics and log uploads, firmware downloads.

The pieces a host needs to receive what GetDiagnostics and GetLog make charge points upload,
and to serve the files UpdateFirmware and SignedUpdateFirmware make them fetch, at URLs that
carry a signed, expiring grant: :class:`GrantSigner` (:mod:`.grants`), the storage protocols
and their filesystem implementations (:mod:`.storage`), and the ASGI application
:class:`FileTransferApp` (:mod:`.app`). :class:`~ocpp16csms.transports.file_transfer.FileTransfers`
ties them to a central system. FTP is out of scope. See docs/fleet-operations.md.
"""

from .app import DEFAULT_MAX_UPLOAD_BYTES, FileTransferApp, UploadListener
from .grants import GrantError, GrantExpired, GrantSigner, TransferGrant
from .http import (
    ByteRange,
    MultipartError,
    MultipartReader,
    RangeNotSatisfiable,
    disposition_file_name,
    multipart_boundary,
    parse_ranges,
)
from .storage import (
    FilesystemUploadStorage,
    FirmwareDirectory,
    FirmwareFile,
    FirmwareSource,
    StoredUpload,
    UploadStorage,
    read_firmware,
    safe_file_name,
)

__all__ = [
    "DEFAULT_MAX_UPLOAD_BYTES",
    "ByteRange",
    "FileTransferApp",
    "FilesystemUploadStorage",
    "FirmwareDirectory",
    "FirmwareFile",
    "FirmwareSource",
    "GrantError",
    "GrantExpired",
    "GrantSigner",
    "MultipartError",
    "MultipartReader",
    "RangeNotSatisfiable",
    "StoredUpload",
    "TransferGrant",
    "UploadListener",
    "UploadStorage",
    "disposition_file_name",
    "multipart_boundary",
    "parse_ranges",
    "read_firmware",
    "safe_file_name",
]
