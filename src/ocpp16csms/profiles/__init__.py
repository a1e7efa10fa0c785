"""One package per OCPP 1.6 feature profile: ``core``, ``remote_trigger``, ``smart_charging``,
``firmware``, ``local_auth_list``, ``reservation``, ``security``.

Each holds its messages (re-exported from :mod:`ocpp16csms.messages`), its pure logic, its
store protocol with the in-memory store, and its service, built over the
:class:`~ocpp16csms.engine.Engine` protocol. Features never import one another.
"""

__all__: list[str] = []
