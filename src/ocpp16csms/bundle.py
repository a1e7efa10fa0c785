"""The :class:`Stores` bundle a :class:`~ocpp16csms.CentralSystem` is built from.

It sits above the feature packages (it names their store protocols) and below the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from .profiles.local_auth_list.store import LocalListStore, MemoryLocalListStore
from .profiles.plug_and_charge.store import MemoryPncCertificateStore, PncCertificateStore
from .profiles.reservation.store import MemoryReservationStore, ReservationStore
from .profiles.smart_charging.store import ChargingProfileStore, MemoryChargingProfileStore
from .stores.device_state import DeviceStateStore, MemoryDeviceStateStore
from .stores.memory import (
    MemoryChargePointStore,
    MemoryConfigurationStore,
    MemoryIdTagStore,
    MemoryTransactionStore,
)
from .stores.records import (
    ChargePointRecord,
    ChargePointStore,
    ConfigurationStore,
    IdTagRecord,
    IdTagStore,
    StoreError,
    TransactionStore,
)

__all__ = ["Stores", "memory_stores"]


def _required(_: object, attribute: attrs.Attribute[Any], value: Any) -> None:
    """attrs validator: a Core store must be given (a host's partial fake is fine)."""
    if value is None:
        raise TypeError(f"Stores.{attribute.name} is required (a Core store), got None")


@attrs.frozen(kw_only=True)
class Stores:
    """The stores a :class:`~ocpp16csms.CentralSystem` works with.

    The first four are needed by the Core profile. The others serve one feature each; an
    operation of a feature whose store is None raises :class:`StoreError` naming it.
    """

    charge_points: ChargePointStore = attrs.field(validator=_required)
    id_tags: IdTagStore = attrs.field(validator=_required)
    transactions: TransactionStore = attrs.field(validator=_required)
    configuration: ConfigurationStore = attrs.field(validator=_required)
    local_lists: LocalListStore | None = None
    reservations: ReservationStore | None = None
    charging_profiles: ChargingProfileStore | None = None
    device_state: DeviceStateStore | None = None
    """Firmware, diagnostics and log transfers and security events (kept durably when given)."""
    pnc_certificates: PncCertificateStore | None = None
    """Plug & Charge certificate state; without it the service keeps none (no renewal)."""

    def require(self, name: str) -> Any:
        """The store called ``name``; raise :class:`StoreError` when the host gave none."""
        store = getattr(self, name)
        if store is None:
            raise StoreError(f"this central system was built without a {name} store")
        return store


def memory_stores(
    *,
    charge_points: Iterable[ChargePointRecord] = (),
    id_tags: Iterable[IdTagRecord] = (),
) -> Stores:
    """A complete set of in-memory stores, optionally seeded."""
    return Stores(
        charge_points=MemoryChargePointStore(charge_points),
        id_tags=MemoryIdTagStore(id_tags),
        transactions=MemoryTransactionStore(),
        configuration=MemoryConfigurationStore(),
        local_lists=MemoryLocalListStore(),
        reservations=MemoryReservationStore(),
        charging_profiles=MemoryChargingProfileStore(),
        device_state=MemoryDeviceStateStore(),
        pnc_certificates=MemoryPncCertificateStore(),
    )
