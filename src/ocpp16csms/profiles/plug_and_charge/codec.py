"""Plug & Charge messages in and out of OCPP 1.6 DataTransfer (OCA application note, §2).

A DataTransfer.req carries ``vendorId`` ``org.openchargealliance.iso15118pnc``, the 2.0.1 action
as ``messageId`` and the JSON text of the 2.0.1 request as ``data``; its DataTransfer.conf carries
the JSON text of the 2.0.1 response as ``data``. The earlier vendorId ``iso15118`` is accepted on
what comes in. Every payload is checked against our 2.0.1 schemas both ways.

What a DataTransfer.conf carries when a request cannot be decoded (see :mod:`.errors`):

============================================  ===================  ======
failure                                       status               data
============================================  ===================  ======
vendorId not a Plug & Charge one              ``UnknownVendorId``  absent
messageId absent, unknown, or not ours        ``UnknownMessageId`` absent
``data`` absent, not JSON, not an object      ``Rejected``         absent
schema violation, or a value out of model     ``Rejected``         absent
============================================  ===================  ======

Never ``Accepted`` and never a CallError: the 1.6 DataTransfer itself was well formed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any, Protocol, TypeVar, cast

import attrs
import cattrs

from ...converter import make_converter, wire_name
from ...enums import DataTransferStatus
from ...validation import PayloadValidator
from . import datatypes
from .datatypes import WIRE_NAME, CustomData
from .errors import (
    PncCallRejected,
    PncDataNotJson,
    PncDataNotObject,
    PncDataTransferResult,
    PncDecodeError,
    PncEncodeError,
    PncInvalidValue,
    PncMissingData,
    PncSchemaViolation,
    PncUnknownMessageId,
    PncUnknownVendorId,
)
from .messages import PNC_MESSAGES, PNC_REQUESTS, PncMessage, PncRequest, PncResponse, Sender

__all__ = [
    "LEGACY_PNC_VENDOR_ID",
    "PNC_VENDOR_ID",
    "DataTransferLike",
    "DataTransferResultLike",
    "PncCodec",
    "PncDataTransfer",
    "pnc_converter",
    "pnc_schema",
    "pnc_schema_names",
    "pnc_validator",
    "pnc_wire_name",
]

PNC_VENDOR_ID = "org.openchargealliance.iso15118pnc"
"""The vendorId of the application note; what we send."""
LEGACY_PNC_VENDOR_ID = "iso15118"
"""A vendorId used by early implementations of the note; accepted on what comes in."""

_M = TypeVar("_M", bound=PncMessage)
_R = TypeVar("_R", bound=PncResponse)


# --- schemas -------------------------------------------------------------------------------


def _schema_dir() -> Any:
    return resources.files(__package__).joinpath("schemas")


def pnc_schema_names() -> tuple[str, ...]:
    """The stems of the 2.0.1 schemas we ship, sorted (``"AuthorizeRequest"``, …)."""
    return tuple(
        sorted(
            entry.name.removesuffix(".json")
            for entry in _schema_dir().iterdir()
            if entry.name.endswith(".json")
        )
    )


@cache
def pnc_schema(name: str) -> Mapping[str, Any]:
    """The schema ``schemas/<name>.json``; ``KeyError`` if we ship none of that name."""
    if name not in pnc_schema_names():
        raise KeyError(name)
    loaded: dict[str, Any] = json.loads(
        _schema_dir().joinpath(f"{name}.json").read_text(encoding="utf-8")
    )
    return loaded


@cache
def pnc_validator(name: str) -> PayloadValidator:
    """The compiled validator of schema ``name``, built once."""
    return PayloadValidator(pnc_schema(name), label=f"pnc {name}")


# --- converter -----------------------------------------------------------------------------


def pnc_wire_name(field: attrs.Attribute[Any]) -> str:
    """The wire name of a field: its ``wire_name`` metadata, else the camelCase of its name."""
    named: str | None = field.metadata.get(WIRE_NAME)
    return named if named is not None else wire_name(field.name)


def _structure_custom_data(value: Any, _: Any = None) -> CustomData:
    if type(value) is not dict or type(value.get("vendorId")) is not str:
        raise TypeError(f"customData must be an object with a vendorId, got {value!r}")
    extra = {k: v for k, v in value.items() if k != "vendorId"}
    return CustomData(vendor_id=value["vendorId"], extra=extra)


def _unstructure_custom_data(value: CustomData) -> dict[str, Any]:
    return {"vendorId": value.vendor_id, **value.extra}


def _register_renames(converter: cattrs.Converter, cls: type) -> None:
    # The shared converter names fields by camelCase alone; wrap its generated hooks for the
    # few 2.0.1 names that are not (``responderURL``).
    renames = {
        wire_name(f.name): pnc_wire_name(f)
        for f in attrs.fields(cls)
        if pnc_wire_name(f) != wire_name(f.name)
    }
    if not renames:
        return
    generated_in = converter.get_structure_hook(cls)
    generated_out = converter.get_unstructure_hook(cls)
    back = {theirs: ours for ours, theirs in renames.items()}

    def structure(value: Any, _: Any = None) -> Any:
        if type(value) is not dict:
            raise TypeError(f"expected an object, got {value!r}")
        return generated_in({back.get(k, k): v for k, v in value.items()}, cls)

    def unstructure(value: Any) -> Any:
        return {renames.get(k, k): v for k, v in generated_out(value).items()}

    converter.register_structure_hook(cls, structure)
    converter.register_unstructure_hook(cls, unstructure)


def pnc_converter() -> cattrs.Converter:
    """A converter for the Plug & Charge classes: the project's, plus customData and renames."""
    converter = make_converter()
    # Registered before any other hook is generated: generated hooks capture nested ones.
    converter.register_structure_hook(CustomData, _structure_custom_data)
    converter.register_unstructure_hook(CustomData, _unstructure_custom_data)
    for name in datatypes.__all__:
        cls = getattr(datatypes, name)
        if isinstance(cls, type) and attrs.has(cls):
            _register_renames(converter, cls)
    for message in PNC_MESSAGES:
        _register_renames(converter, message)
    return converter


# --- DataTransfer shapes -------------------------------------------------------------------


class DataTransferLike(Protocol):
    """The fields of a DataTransfer.req; the 1.6 ``DataTransferRequest`` class has them."""

    @property
    def vendor_id(self) -> str: ...
    @property
    def message_id(self) -> str | None: ...
    @property
    def data(self) -> str | None: ...


class DataTransferResultLike(Protocol):
    """The fields of a DataTransfer.conf; the 1.6 ``DataTransferResponse`` class has them."""

    @property
    def status(self) -> str: ...
    @property
    def data(self) -> str | None: ...


@attrs.frozen(kw_only=True)
class PncDataTransfer:
    """The fields of a DataTransfer.req carrying a Plug & Charge request (OCPP 1.6 §6.16).

    Build the 1.6 ``DataTransferRequest`` from it field by field.
    """

    vendor_id: str
    message_id: str
    data: str


# --- JSON text -----------------------------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"{text} does not fit a double")
    return value


def _dumps(payload: Any) -> str:
    # ASCII only: the text travels inside another JSON string, and a lone surrogate kept raw
    # here would make the outer frame unencodable as UTF-8.
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True, allow_nan=False)


class PncCodec:
    """Decodes and encodes the Plug & Charge messages of one side; stateless and reusable.

    ``vendor_id`` is what goes out; ``accepted_vendor_ids`` what is taken in.
    """

    def __init__(
        self,
        *,
        vendor_id: str = PNC_VENDOR_ID,
        accepted_vendor_ids: frozenset[str] = frozenset({PNC_VENDOR_ID, LEGACY_PNC_VENDOR_ID}),
    ) -> None:
        self.vendor_id = vendor_id
        self.accepted_vendor_ids = accepted_vendor_ids | {vendor_id}
        self._converter = pnc_converter()

    def is_pnc(self, vendor_id: str | None) -> bool:
        """Whether a DataTransfer with this vendorId is meant for this codec."""
        return vendor_id in self.accepted_vendor_ids

    # --- payloads ----------------------------------------------------------------------

    def to_json(self, message: PncMessage) -> str:
        """The checked JSON text of ``message``; :class:`PncEncodeError` if it breaks its schema."""
        try:
            payload = self._converter.unstructure(message)
        except (TypeError, ValueError, AttributeError) as error:
            raise PncEncodeError(f"{type(message).__name__} cannot be encoded: {error}") from None
        violation = pnc_validator(message.schema_name).first_violation(payload)
        if violation is not None:
            raise PncEncodeError(f"{message.schema_name}: {violation.message}")
        try:
            return _dumps(payload)
        except (TypeError, ValueError) as error:
            raise PncEncodeError(f"{message.schema_name}: {error}") from None

    def from_json(
        self,
        cls: type[_M],
        data: str | None,
        *,
        vendor_id: str | None = None,
        message_id: str | None = None,
    ) -> _M:
        """Parse, check and structure the JSON text ``data`` as ``cls``; raise a PncDecodeError."""
        where = {"vendor_id": vendor_id, "message_id": message_id or cls.action}
        if data is None:
            raise PncMissingData(f"{cls.action}: the DataTransfer carries no data", **where)
        try:
            payload = json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
        except (ValueError, RecursionError):
            raise PncDataNotJson(f"{cls.action}: data is not JSON text", **where) from None
        if not isinstance(payload, dict):
            raise PncDataNotObject(f"{cls.action}: data is JSON but not an object", **where)
        violation = pnc_validator(cls.schema_name).first_violation(payload)
        if violation is not None:
            raise PncSchemaViolation(
                f"{cls.schema_name}: {violation.message}",
                keyword=violation.keyword,
                path=violation.path,
                **where,
            )
        try:
            return self._converter.structure(payload, cls)
        except (ValueError, TypeError, KeyError) as error:
            raise PncInvalidValue(f"{cls.schema_name}: {error}", **where) from None

    # --- a request from the peer, and our answer ----------------------------------------

    def decode_request(
        self, transfer: DataTransferLike, *, sender: Sender = Sender.CHARGE_POINT
    ) -> PncRequest[Any]:
        """The typed 2.0.1 request inside a DataTransfer.req sent by ``sender``.

        Raises a :class:`PncDecodeError` whose :meth:`~PncDecodeError.reply` is the answer.
        """
        vendor_id, message_id = transfer.vendor_id, transfer.message_id
        if not self.is_pnc(vendor_id):
            raise PncUnknownVendorId(
                f"vendorId {vendor_id!r} is not Plug & Charge",
                vendor_id=vendor_id,
                message_id=message_id,
            )
        cls = PNC_REQUESTS.get(message_id) if message_id is not None else None
        if cls is None or cls.sender is not sender:
            raise PncUnknownMessageId(
                f"messageId {message_id!r} is not a Plug & Charge request the {sender} sends",
                vendor_id=vendor_id,
                message_id=message_id,
            )
        return self.from_json(cls, transfer.data, vendor_id=vendor_id, message_id=message_id)

    def encode_result(self, response: PncResponse) -> PncDataTransferResult:
        """The DataTransfer.conf answering a request with ``response`` (status Accepted)."""
        return PncDataTransferResult(
            status=DataTransferStatus.ACCEPTED, data=self.to_json(response)
        )

    @staticmethod
    def error_result(error: PncDecodeError) -> PncDataTransferResult:
        """The DataTransfer.conf answering a request that could not be decoded."""
        return error.reply()

    # --- our request to the peer, and its answer -----------------------------------------

    def encode_request(self, request: PncRequest[Any]) -> PncDataTransfer:
        """The DataTransfer.req that carries ``request``."""
        return PncDataTransfer(
            vendor_id=self.vendor_id, message_id=request.action, data=self.to_json(request)
        )

    def decode_result(
        self, request: PncRequest[_R] | type[PncRequest[_R]], result: DataTransferResultLike
    ) -> _R:
        """The typed 2.0.1 response inside the DataTransfer.conf answering ``request``.

        Raises :class:`PncCallRejected` when the status is not Accepted, and a
        :class:`PncDecodeError` when its ``data`` is not a valid response.
        """
        # ``response_type`` is typed for all responses; ``PncRequest[_R]`` says which one.
        response_type = cast("type[_R]", request.response_type)
        if result.status != DataTransferStatus.ACCEPTED:
            raise PncCallRejected(str(result.status), message_id=request.action, data=result.data)
        return self.from_json(
            response_type, result.data, vendor_id=self.vendor_id, message_id=request.action
        )
