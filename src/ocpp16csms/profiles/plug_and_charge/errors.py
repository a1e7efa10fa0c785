"""Errors of the Plug & Charge package; :class:`PncError` is their root.

As in h11, an error about what the peer sent carries a hint of what to answer: every
:class:`PncDecodeError` knows the DataTransfer.conf status it earns (:meth:`PncDecodeError.reply`).
"""

from __future__ import annotations

from typing import ClassVar

import attrs

from ...enums import DataTransferStatus
from ...errors import CsmsError

__all__ = [
    "PncCallRejected",
    "PncDataNotJson",
    "PncDataNotObject",
    "PncDataTransferResult",
    "PncDecodeError",
    "PncEncodeError",
    "PncError",
    "PncInvalidValue",
    "PncMissingData",
    "PncSchemaViolation",
    "PncUnknownMessageId",
    "PncUnknownVendorId",
]


@attrs.frozen(kw_only=True)
class PncDataTransferResult:
    """The fields of a DataTransfer.conf (OCPP 1.6 §6.17) that answers a Plug & Charge request.

    Build the 1.6 ``DataTransferResponse`` from it field by field.
    """

    status: DataTransferStatus
    data: str | None = None


class PncError(CsmsError):
    """Root of every error raised by :mod:`ocpp16csms.profiles.plug_and_charge`; a
    :class:`~ocpp16csms.errors.CsmsError`, so the library keeps one exception root."""


class PncDecodeError(PncError, ValueError):
    """A DataTransfer (or its reply) did not carry a valid Plug & Charge message.

    ``reply_status`` is the DataTransfer.conf status to answer with when the DataTransfer was a
    request from the peer; the answer never carries ``data`` (there is no 2.0.1 payload that
    reports a malformed 2.0.1 payload).
    """

    reply_status: ClassVar[DataTransferStatus] = DataTransferStatus.REJECTED

    def __init__(
        self,
        description: str,
        *,
        vendor_id: str | None = None,
        message_id: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.vendor_id = vendor_id
        self.message_id = message_id
        #: JSON path of the offending value inside ``data`` (``"$.idToken.type"``), if any.
        self.path = path

    def reply(self) -> PncDataTransferResult:
        """The DataTransfer.conf to send when this error came from decoding a request."""
        return PncDataTransferResult(status=self.reply_status)


class PncUnknownVendorId(PncDecodeError):
    """The vendorId is not one the Plug & Charge codec handles."""

    reply_status = DataTransferStatus.UNKNOWN_VENDOR_ID


class PncUnknownMessageId(PncDecodeError):
    """The messageId is absent, or not a 2.0.1 action that this side may receive."""

    reply_status = DataTransferStatus.UNKNOWN_MESSAGE_ID


class PncMissingData(PncDecodeError):
    """The DataTransfer has no ``data``, so no 2.0.1 payload."""


class PncDataNotJson(PncDecodeError):
    """``data`` is not JSON text (or holds NaN, an infinity, or nesting too deep to read)."""


class PncDataNotObject(PncDecodeError):
    """``data`` is JSON, but not a JSON object."""


class PncSchemaViolation(PncDecodeError):
    """The 2.0.1 payload breaks its schema; ``keyword`` names the JSON-schema rule."""

    def __init__(
        self,
        description: str,
        *,
        keyword: str,
        vendor_id: str | None = None,
        message_id: str | None = None,
        path: str | None = None,
    ) -> None:
        super().__init__(description, vendor_id=vendor_id, message_id=message_id, path=path)
        self.keyword = keyword


class PncInvalidValue(PncDecodeError):
    """The payload passed its schema but holds a value the typed message cannot take."""


class PncEncodeError(PncError, ValueError):
    """A message we are about to send breaks its schema or cannot be written as JSON."""


class PncCallRejected(PncError):
    """The peer answered our Plug & Charge DataTransfer with a status other than Accepted."""

    def __init__(self, status: str, *, message_id: str, data: str | None = None) -> None:
        super().__init__(f"the charge point answered {message_id} with DataTransfer {status}")
        self.status = status
        self.message_id = message_id
        self.data = data
