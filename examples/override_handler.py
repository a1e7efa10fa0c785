"""Replace one default behaviour, and watch every message without replacing anything.

    python examples/override_handler.py

Here Authorize asks an external system (a stand-in function) before falling back to the
default id tag store lookup, and an observer counts exchanges.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import anyio

from ocpp16csms import (
    CallContext,
    CentralSystem,
    ChargePointRecord,
    Exchange,
    IdTagRecord,
    memory_stores,
)
from ocpp16csms.messages import (
    AuthorizationStatus,
    AuthorizeRequest,
    AuthorizeResponse,
    IdTagInfo,
    RegistrationStatus,
)
from ocpp16csms.testing import (
    ChargePointSimulator,
    memory_connection_pair,
)


async def roaming_platform_allows(id_tag: str) -> bool:
    """Stand-in for a call to a roaming hub or billing backend."""
    return id_tag.startswith("ROAM-")


async def main() -> None:
    stores = memory_stores(
        charge_points=[
            ChargePointRecord(
                charge_point_id="CP1", registration_status=RegistrationStatus.ACCEPTED
            )
        ],
        id_tags=[IdTagRecord(id_tag="LOCAL-1")],
    )
    cs = CentralSystem(stores)
    default_authorize = cs.handler_for(AuthorizeRequest)
    assert default_authorize is not None

    @cs.on(AuthorizeRequest)
    async def authorize(request: AuthorizeRequest, ctx: CallContext) -> AuthorizeResponse:
        if await roaming_platform_allows(request.id_tag):
            return AuthorizeResponse(id_tag_info=IdTagInfo(status=AuthorizationStatus.ACCEPTED))
        answer = await default_authorize(request, ctx)
        assert isinstance(answer, AuthorizeResponse)
        return answer

    counts: Counter[str] = Counter()

    def count(event: Any) -> None:
        if isinstance(event, Exchange):
            counts[event.request.action] += 1

    cs.observe(count)
    cs_end, cp_end = memory_connection_pair()
    async with anyio.create_task_group() as group:
        group.start_soon(cs.serve, cs_end, "CP1")
        async with ChargePointSimulator("CP1", cp_end).running() as cp:
            for tag in ("ROAM-42", "LOCAL-1", "STRANGER"):
                answer = await cp.authorize(tag)
                print(f"{tag}: {answer.id_tag_info.status.value}")
    print(f"exchanges observed: {dict(counts)}")


if __name__ == "__main__":
    anyio.run(main)
