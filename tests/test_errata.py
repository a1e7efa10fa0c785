"""The OCPP 1.6 errata sheet (v4.0) and OCPP-J errata where they touch a central system.

docs/errata.md lists every erratum, what the SDK does about it and the test that proves it;
the tests here are those that have no better home.
"""

from __future__ import annotations

import pytest

from harness import BOOT, connected, make_central_system
from ocpp16csms import InvalidRequest
from ocpp16csms.messages import (
    ExtendedTriggerMessageRequest,
    MessageTrigger,
    MessageTriggerExtended,
    RegistrationStatus,
    TriggerMessageRequest,
    TriggerMessageStatus,
)

pytestmark = pytest.mark.anyio


# -- 3.40 / 3.35: no TriggerMessage(BootNotification) once Accepted ----------------------------


async def test_errata_3_40_no_boot_trigger_to_an_accepted_charge_point() -> None:
    cs = make_central_system()
    async with connected(cs) as cp:
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
        with pytest.raises(InvalidRequest, match=r"3\.40"):
            await cs.remote_trigger.trigger_message("CP1", MessageTrigger.BOOT_NOTIFICATION)
        with pytest.raises(InvalidRequest, match=r"3\.40"):
            await cs.remote_trigger.extended_trigger_message(
                "CP1", MessageTriggerExtended.BOOT_NOTIFICATION
            )
        # The raw call meets the same check: it is a pre-send check of the feature.
        with pytest.raises(InvalidRequest, match=r"3\.40"):
            await cs.call(
                "CP1", TriggerMessageRequest(requested_message=MessageTrigger.BOOT_NOTIFICATION)
            )
        # Other triggers still go out.
        answer = await cs.remote_trigger.trigger_message("CP1", MessageTrigger.HEARTBEAT)
        assert answer.status is TriggerMessageStatus.ACCEPTED
    assert [type(r) for r in cp.received] == [TriggerMessageRequest]
    assert cp.received_of(TriggerMessageRequest)[0].requested_message is MessageTrigger.HEARTBEAT


async def test_errata_3_40_a_pending_charge_point_can_be_asked_to_boot_again() -> None:
    cs = make_central_system(charge_points=(), unknown_charge_points="pending")
    async with connected(cs) as cp:
        assert (await cp.call(BOOT)).status is RegistrationStatus.PENDING
        # The host accepts it and asks for a new BootNotification to tell it so (§4.2).
        await cs.core.accept_charge_point("CP1")
        answer = await cs.remote_trigger.trigger_message("CP1", MessageTrigger.BOOT_NOTIFICATION)
        assert answer.status is TriggerMessageStatus.ACCEPTED
        extended = await cs.remote_trigger.extended_trigger_message(
            "CP1", MessageTriggerExtended.BOOT_NOTIFICATION
        )
        assert extended.status is TriggerMessageStatus.ACCEPTED
        # Its BootNotification is now Accepted: from here on the trigger is refused.
        assert (await cp.call(BOOT)).status is RegistrationStatus.ACCEPTED
        with pytest.raises(InvalidRequest, match=r"3\.40"):
            await cs.remote_trigger.trigger_message("CP1", MessageTrigger.BOOT_NOTIFICATION)
    assert len(cp.received_of(TriggerMessageRequest)) == 1
    assert len(cp.received_of(ExtendedTriggerMessageRequest)) == 1


async def test_errata_3_40_registration_is_that_of_the_live_connection() -> None:
    cs = make_central_system(charge_points=(), unknown_charge_points="pending")
    assert cs.registration("CP1") is None
    async with connected(cs) as cp:
        assert cs.registration("CP1") is None  # unknown, no BootNotification yet
        await cp.call(BOOT)
        assert cs.registration("CP1") is RegistrationStatus.PENDING
    assert cs.registration("CP1") is None
