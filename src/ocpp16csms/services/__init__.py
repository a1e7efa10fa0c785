"""Per-profile services: mixins of :class:`~ocpp16csms.CentralSystem` with typed operations."""
