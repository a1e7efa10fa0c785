"""Whatever a charge point puts in a Plug & Charge DataTransfer, the service answers with a
DataTransfer.conf: Accepted only for a payload that decodes (and then with a valid 2.0.1
response), never a CallError, never a crash (hypothesis, asyncio and trio)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocpp16csms import CallContext, memory_stores
from ocpp16csms.engine import CentralSystemOptions
from ocpp16csms.enums import DataTransferStatus
from ocpp16csms.messages import DataTransferRequest
from ocpp16csms.profiles.plug_and_charge import (
    PNC_REQUESTS,
    PNC_VENDOR_ID,
    AuthorizeRequest,
    Get15118EVCertificateRequest,
    GetCertificateStatusRequest,
    PlugAndChargeService,
    PncCodec,
    Sender,
    SignCertificateRequest,
)
from ocpp16csms.profiles.plug_and_charge.codec import pnc_converter
from ocpp16csms.testing.pnc import json_values, pnc_instances

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
CODEC = PncCodec()
CONVERTER = pnc_converter()
CP_REQUESTS = [c for c in PNC_REQUESTS.values() if c.sender is Sender.CHARGE_POINT]


class _Engine:
    """The parts of the Engine protocol the service touches while answering."""

    options = CentralSystemOptions()
    is_running = False

    def clock(self) -> datetime:
        return NOW

    def after(self, request_type: object) -> Callable[[Any], Any]:
        return lambda hook: hook

    def add_periodic(self, interval: float, job: object) -> None:
        pass


def _handler() -> Any:
    routes: dict[str, Any] = {}
    stores = memory_stores()
    PlugAndChargeService(
        _Engine(),  # type: ignore[arg-type]
        route_data_transfer=lambda vendor, message, handler: routes.setdefault(vendor, handler),
        id_tags=stores.id_tags,
        configuration=stores.configuration,
        certificates=stores.pnc_certificates,
    )
    return routes[PNC_VENDOR_ID]


HANDLER = _handler()


def _answer(backend: str, message_id: str | None, data: str | None) -> Any:
    context = CallContext("CP1", "m-1", None, NOW, None)  # type: ignore[arg-type]
    request = DataTransferRequest(vendor_id=PNC_VENDOR_ID, message_id=message_id, data=data)
    return anyio.run(HANDLER, request, context, backend=backend)


def _decodes(message_id: str | None, data: str | None) -> bool:
    try:
        CODEC.decode_request(
            DataTransferRequest(vendor_id=PNC_VENDOR_ID, message_id=message_id, data=data)
        )
    except ValueError:
        return False
    return True


message_ids = st.sampled_from([c.action for c in CP_REQUESTS]) | st.none() | st.text(max_size=12)
texts = st.text(max_size=80) | json_values().map(json.dumps)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@given(message_id=message_ids, data=st.none() | texts)
def test_any_data_gets_a_data_transfer_answer(
    backend: str, message_id: str | None, data: str | None
) -> None:
    answer = _answer(backend, message_id, data)
    if answer.status is DataTransferStatus.ACCEPTED:
        assert _decodes(message_id, data)
        cls = PNC_REQUESTS[message_id or ""].response_type
        CODEC.from_json(cls, answer.data)
    else:
        assert not _decodes(message_id, data)
        assert answer.data is None


_valid = st.one_of(
    *(
        pnc_instances(cls)
        for cls in (
            AuthorizeRequest,
            GetCertificateStatusRequest,
            SignCertificateRequest,
            Get15118EVCertificateRequest,
        )
    )
)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
@given(request=_valid)
def test_every_valid_request_is_accepted_with_a_valid_response(backend: str, request: Any) -> None:
    answer = _answer(backend, request.action, CODEC.to_json(request))
    assert answer.status is DataTransferStatus.ACCEPTED
    response = CODEC.from_json(type(request).response_type, answer.data)
    assert type(response) is type(request).response_type
