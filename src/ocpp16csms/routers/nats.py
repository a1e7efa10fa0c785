"""Route every call to the process holding the charge point, over NATS (extra ``nats``).

:class:`NatsRouter` is a :class:`~ocpp16csms.CallRouter`: each central-system process subscribes
for the charge points it serves, and a call made in any process for a charge point it does not
serve travels by NATS request/reply to the one that does, and comes back typed as a local call
(docs/scaling.md). It also answers presence for the whole cluster and publishes every
connection event and exchange on per-charge-point subjects.

nats-py runs on asyncio only, so this router needs the central system to run on asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import anyio.abc
import attrs
from nats import errors as nats_errors
from nats.aio.client import Client

from .._logging import get_logger
from ..codec import MessageCodec
from ..converter import datetime_to_wire, make_converter
from ..engine import ChargePointConnected, ChargePointDisconnected
from ..errors import (
    ChargePointNotConnected,
    ConnectionLost,
    CsmsError,
    InvalidRequest,
)
from ..messages.base import Request, Response
from ._presence import Gathering, NodeTable, presence_chunks
from .calls import answer_routed_call, in_routed_call, structure_response
from .envelope import (
    ClusterUnavailable,
    RoutedCallFailed,
    decode_reply,
    dumps,
    encode_call,
    encode_error,
    event_body,
)
from .subjects import Subjects

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.aio.subscription import Subscription

    from ..central_system import CentralSystem

__all__ = ["NatsRouter"]

log = get_logger("ocpp16csms.routers.nats")

_Res = TypeVar("_Res", bound=Response)

# Room left in a reply for the envelope around the answer (bytes).
_ENVELOPE_ROOM = 512
# Seconds a calling process waits for a reply beyond the routed call's own deadline.
_REPLY_MARGIN = 2.0


def _positive(_: object, attribute: attrs.Attribute[float], value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6:
        raise ValueError(f"{attribute.name} must be a positive number of seconds, got {value!r}")


@attrs.define
class _Held:
    """A charge point this process serves: since when (wall clock), and its subscription."""

    since: float
    subscription: Subscription | None = None


@attrs.frozen(kw_only=True)
class _Settings:
    request_timeout: float = attrs.field(default=60.0, validator=_positive)
    heartbeat_interval: float = attrs.field(default=1.0, validator=_positive)
    gather_timeout: float = attrs.field(default=2.0, validator=_positive)
    probe_timeout: float = attrs.field(default=1.0, validator=_positive)
    connect_timeout: float = attrs.field(default=10.0, validator=_positive)
    drain_timeout: float = attrs.field(default=5.0, validator=_positive)


def _default_node_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def _now_wire() -> str:
    return datetime_to_wire(datetime.now(UTC))


class NatsRouter:
    """A :class:`~ocpp16csms.CallRouter` over NATS; ``async with`` it (docs/scaling.md).

    ``servers``: the NATS URL(s). ``node``: this process's name, unique in the cluster (default
    host name and process id); a second running process of the same name is refused at start.
    ``prefix``: the subjects' first tokens (:class:`~ocpp16csms.routers.Subjects`).
    ``request_timeout``: seconds a routed call may take in all, at the holder included;
    ``heartbeat_interval``: seconds between heartbeats (a process missing three is counted
    gone); ``gather_timeout``: the most seconds a cluster-wide presence query waits;
    ``connect_options``: more keyword arguments for ``nats.connect`` (TLS, credentials, …).

    Without :meth:`attach` the router is a client of the cluster: it calls charge points and
    asks presence, and serves none (the ``call`` and ``list`` commands of examples/cluster.py).
    """

    def __init__(
        self,
        servers: str | Sequence[str] = "nats://127.0.0.1:4222",
        *,
        node: str | None = None,
        prefix: str = "ocpp16",
        request_timeout: float = 60.0,
        heartbeat_interval: float = 1.0,
        gather_timeout: float = 2.0,
        probe_timeout: float = 1.0,
        connect_timeout: float = 10.0,
        drain_timeout: float = 5.0,
        connect_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.servers = [servers] if isinstance(servers, str) else list(servers)
        #: This process's name in the cluster.
        self.node = node if node is not None else _default_node_name()
        self.subjects = Subjects(prefix)
        self.subjects.node(self.node)  # refuses an empty name now rather than at start
        self._settings = _Settings(
            request_timeout=request_timeout,
            heartbeat_interval=heartbeat_interval,
            gather_timeout=gather_timeout,
            probe_timeout=probe_timeout,
            connect_timeout=connect_timeout,
            drain_timeout=drain_timeout,
        )
        self._connect_options = dict(connect_options or {})
        self._codec = MessageCodec()
        self._lenient = make_converter(lenient=True)
        self._cs: CentralSystem | None = None
        self._nc: Client | None = None
        self._group: anyio.abc.TaskGroup | None = None
        self._held: dict[str, _Held] = {}
        self._nodes = NodeTable()
        self._service_subscriptions: list[Subscription] = []
        self._serving = False
        self._listening_since = 0.0
        self._reconnects = 0
        self._in_flight = 0

    @property
    def request_timeout(self) -> float:
        """Seconds a routed call may take in all."""
        return self._settings.request_timeout

    # -- wiring -----------------------------------------------------------------------------

    def attach(self, central_system: CentralSystem) -> None:
        """Serve ``central_system``'s charge points to the cluster and route its calls.

        Sets ``central_system.router`` to this router and observes its connections; call it
        once, before entering the router (charge points already connected are taken then).
        """
        if self._cs is not None:
            raise RuntimeError(f"router {self.node!r} already serves a central system")
        if self._nc is not None:
            raise RuntimeError("attach the central system before entering the router")
        self._cs = central_system
        self._codec = central_system.codec
        central_system.router = self
        central_system.observe(self._observe)

    async def __aenter__(self) -> NatsRouter:
        """Connect to NATS; with a central system attached, start serving its charge points."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            raise RuntimeError(
                "NatsRouter needs asyncio (nats-py is asyncio-only): run the central system "
                "with anyio.run(..., backend='asyncio')"
            ) from None
        if self._nc is not None:
            raise RuntimeError(f"router {self.node!r} is already running")
        nc = await self._connect()
        group = anyio.create_task_group()
        await group.__aenter__()
        self._nc, self._group = nc, group
        self._listening_since = anyio.current_time()
        self._service_subscriptions.append(
            await nc.subscribe(self.subjects.heartbeat, cb=self._on_heartbeat)
        )
        group.start_soon(self._heartbeat_loop)
        if self._cs is not None:
            try:
                await self._start_serving()
            except BaseException:
                await self.__aexit__(None, None, None)
                raise
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        """Leave the cluster: stop taking calls, let those in flight answer, drain NATS."""
        nc, group = self._nc, self._group
        if nc is None or group is None:
            return
        serving, self._serving = self._serving, False
        still_connected = [cp for cp in self._held if self._local(cp)]
        if still_connected:
            log.warning(
                "router %s leaves the cluster while %d charge points are still connected here; "
                "other processes can no longer reach them",
                self.node,
                len(still_connected),
            )
        with anyio.CancelScope(shield=True):
            for held in self._held.values():
                await self._unsubscribe(held.subscription)
            self._held.clear()
            if serving:
                await self._publish_json(self.subjects.heartbeat, self._heartbeat("leaving"))
            with anyio.move_on_after(self._settings.drain_timeout):
                while self._in_flight:
                    await anyio.sleep(0.01)
        group.cancel_scope.cancel()
        await group.__aexit__(None, None, None)
        self._group = None
        with anyio.CancelScope(shield=True):
            try:
                with anyio.move_on_after(self._settings.drain_timeout):
                    await nc.drain()
            except nats_errors.Error as error:
                log.warning("router %s: draining NATS failed (%s); closing", self.node, error)
            if not nc.is_closed:
                await nc.close()
        self._nc = None
        self._service_subscriptions.clear()

    async def _connect(self) -> Client:
        async def on_error(error: Exception) -> None:
            log.warning("router %s: NATS error: %s", self.node, error)

        async def on_disconnected() -> None:
            if self._group is not None:  # not when leaving on purpose
                log.warning("router %s: disconnected from NATS, reconnecting", self.node)

        async def on_reconnected() -> None:
            log.info("router %s: reconnected to NATS", self.node)
            # Heartbeats missed meanwhile: presence answers wait for the table to fill again.
            self._listening_since = anyio.current_time()

        options: dict[str, Any] = {
            "name": f"ocpp16csms {self.node}",
            "allow_reconnect": True,
            "max_reconnect_attempts": -1,
            "reconnect_time_wait": 1,
            "error_cb": on_error,
            "disconnected_cb": on_disconnected,
            "reconnected_cb": on_reconnected,
            **self._connect_options,
        }
        nc = Client()
        try:
            with anyio.fail_after(self._settings.connect_timeout):
                await nc.connect(self.servers, **options)
        except TimeoutError:
            await nc.close()
            raise ConnectionError(
                f"router {self.node!r} could not connect to NATS at {', '.join(self.servers)} "
                f"within {self._settings.connect_timeout:g} s"
            ) from None
        return nc

    async def _start_serving(self) -> None:
        nc, cs = self._nc, self._cs
        assert nc is not None
        assert cs is not None
        try:
            await nc.request(
                self.subjects.node(self.node), b"", timeout=self._settings.probe_timeout
            )
        except nats_errors.NoRespondersError:
            pass
        except nats_errors.TimeoutError:
            raise RuntimeError(
                f"node name {self.node!r} is taken by an unresponsive process"
            ) from None
        else:
            raise RuntimeError(f"node name {self.node!r} is used by another running process")
        for subject, handler in (
            (self.subjects.node(self.node), self._on_node_info),
            (self.subjects.query, self._on_query),
        ):
            self._service_subscriptions.append(await nc.subscribe(subject, cb=handler))
        self._serving = True
        for charge_point_id in cs.connected_charge_points:
            await self._hold(charge_point_id)
        await self._flush()

    # -- the charge points this process holds ---------------------------------------------------

    def _local(self, charge_point_id: str) -> bool:
        return self._cs is not None and self._cs.is_connected(charge_point_id)

    async def _observe(self, event: object) -> None:
        if not self._serving:
            return
        if isinstance(event, ChargePointConnected):
            await self._hold(event.charge_point_id)
        elif isinstance(event, ChargePointDisconnected):
            await self._release(event.charge_point_id)
        await self._publish_event(event)
        if isinstance(event, ChargePointConnected):
            await self._flush()

    async def _hold(self, charge_point_id: str) -> None:
        """Take calls for the charge point, and tell an older holder elsewhere to let it go."""
        nc = self._nc
        assert nc is not None
        since = time.time()
        held = self._held.get(charge_point_id)
        if held is not None:
            held.since = since  # a newer connection in this process replaced the old one
        else:
            held = self._held[charge_point_id] = _Held(since)
            try:
                held.subscription = await nc.subscribe(
                    self.subjects.charge_point(charge_point_id), cb=self._on_charge_point
                )
            except nats_errors.Error as error:
                log.error(
                    "[%s] cannot take routed calls: %s",
                    charge_point_id,
                    error,
                    extra={"charge_point_id": charge_point_id},
                )
        await self._claim(charge_point_id, held.since)

    async def _release(self, charge_point_id: str) -> None:
        if self._local(charge_point_id):
            return  # a newer connection in this process still holds it
        held = self._held.pop(charge_point_id, None)
        if held is not None:
            await self._unsubscribe(held.subscription)

    async def _claim(self, charge_point_id: str, since: float) -> None:
        await self._publish_json(
            self.subjects.takeover(charge_point_id), {"v": 1, "node": self.node, "since": since}
        )

    async def _on_charge_point(self, msg: Msg) -> None:
        parsed = self.subjects.parse_charge_point(msg.subject)
        if parsed is None:
            return
        charge_point_id, verb = parsed
        if verb == "call":
            group = self._group
            if group is None or not self._serving:
                await self._reply(msg, encode_error(ChargePointNotConnected(charge_point_id)))
            else:
                group.start_soon(self._serve_call, charge_point_id, msg)
                self._in_flight += 1
        elif verb == "holder":
            held = self._held.get(charge_point_id)
            if held is not None and msg.reply:
                await self._reply(msg, dumps({"v": 1, "node": self.node, "since": held.since}))
        elif verb == "takeover":
            await self._on_claim(charge_point_id, msg.data)

    async def _on_claim(self, charge_point_id: str, data: bytes) -> None:
        try:
            claim = json.loads(data)
            node, since = str(claim["node"]), float(claim["since"])
        except (ValueError, TypeError, KeyError):
            log.warning("[%s] unreadable takeover message ignored", charge_point_id)
            return
        held = self._held.get(charge_point_id)
        if node == self.node or held is None:
            return
        if (since, node) < (held.since, self.node):
            # Our connection is the newer one: say so, and the other process lets go.
            await self._claim(charge_point_id, held.since)
            return
        del self._held[charge_point_id]
        await self._unsubscribe(held.subscription)
        log.info(
            "[%s] a newer connection on %s replaces the one here",
            charge_point_id,
            node,
            extra={"charge_point_id": charge_point_id},
        )
        if self._group is not None:
            self._group.start_soon(self._drop_replaced, charge_point_id)

    async def _drop_replaced(self, charge_point_id: str) -> None:
        if charge_point_id in self._held or self._cs is None:
            return  # it connected here again meanwhile: that connection is the newest
        try:
            await self._cs.disconnect(
                charge_point_id, "replaced by a connection to another process", replaced=True
            )
        except Exception:
            log.exception(
                "[%s] closing the replaced connection failed",
                charge_point_id,
                extra={"charge_point_id": charge_point_id},
            )

    # -- calls from other processes --------------------------------------------------------------

    async def _serve_call(self, charge_point_id: str, msg: Msg) -> None:
        try:
            reply = await answer_routed_call(self._cs, self._codec, charge_point_id, msg.data)
            if len(reply) > self._max_payload():
                reply = encode_error(
                    RoutedCallFailed(
                        charge_point_id,
                        f"the answer is {len(reply)} bytes, over the NATS max_payload of "
                        f"{self._max_payload()}",
                    )
                )
        except Exception:  # one call must never take the router down
            log.exception(
                "[%s] routed call failed",
                charge_point_id,
                extra={"charge_point_id": charge_point_id},
            )
            reply = encode_error(RoutedCallFailed(charge_point_id, "the holder failed"))
        try:
            await self._reply(msg, reply)
        finally:
            self._in_flight -= 1

    # -- calls to other processes ----------------------------------------------------------------

    async def call(self, charge_point_id: str, request: Request[_Res]) -> _Res:
        """Send ``request`` to the process holding the charge point; typed as a local call.

        Raises what :meth:`CentralSystem.call <ocpp16csms.CentralSystem.call>` raises: no process
        holds the charge point: :class:`~ocpp16csms.ChargePointNotConnected` at once;
        not connected to NATS: :class:`~ocpp16csms.routers.ClusterUnavailable` (one of those);
        the holder did not reply within ``request_timeout`` (it died, say):
        :class:`~ocpp16csms.ConnectionLost`; a request over NATS ``max_payload``:
        :class:`~ocpp16csms.InvalidRequest`, nothing sent; an outcome that could not come back:
        :class:`~ocpp16csms.routers.RoutedCallFailed`.
        """
        if in_routed_call():
            raise ChargePointNotConnected(charge_point_id)
        nc = self._nc
        if nc is None:
            raise ClusterUnavailable(charge_point_id, f"router {self.node!r} is not running")
        if not nc.is_connected:
            raise ClusterUnavailable(charge_point_id, "not connected to NATS")
        action = request.action
        timeout = self._settings.request_timeout
        data = encode_call(action, self._codec.encode(request), timeout, self.node)
        if len(data) > nc.max_payload:
            raise InvalidRequest(
                f"routed {action} is {len(data)} bytes, over the NATS max_payload of "
                f"{nc.max_payload}"
            )
        try:
            msg = await nc.request(
                self.subjects.call(charge_point_id), data, timeout=timeout + _REPLY_MARGIN
            )
        except nats_errors.NoRespondersError:
            raise ChargePointNotConnected(charge_point_id) from None
        except nats_errors.TimeoutError:
            raise ConnectionLost(charge_point_id, action) from None
        except (
            nats_errors.ConnectionClosedError,
            nats_errors.ConnectionDrainingError,
            nats_errors.OutboundBufferLimitError,
        ) as error:
            raise ClusterUnavailable(charge_point_id, type(error).__name__) from None
        outcome = decode_reply(msg.data, charge_point_id)
        if isinstance(outcome, CsmsError):
            raise outcome
        response_type: type[_Res] = request.response_type  # type: ignore[assignment]
        return structure_response(self._codec, response_type, outcome, charge_point_id)

    # -- presence -------------------------------------------------------------------------------

    async def holder_of(self, charge_point_id: str) -> str | None:
        """The name of the process holding the charge point, or None (one round trip)."""
        if charge_point_id in self._held and self._local(charge_point_id):
            return self.node
        nc = self._require_connection(charge_point_id)
        try:
            msg = await nc.request(
                self.subjects.holder(charge_point_id), b"", timeout=self._settings.probe_timeout
            )
        except nats_errors.NoRespondersError:
            return None
        except nats_errors.TimeoutError:
            log.warning("[%s] its holder does not answer", charge_point_id)
            return None
        try:
            node = json.loads(msg.data)["node"]
        except (ValueError, TypeError, KeyError):
            return None
        return node if isinstance(node, str) else None

    async def is_connected(self, charge_point_id: str) -> bool:
        """Whether any process of the cluster holds the charge point."""
        return await self.holder_of(charge_point_id) is not None

    async def holders(self) -> dict[str, str]:
        """Every charge point connected to the cluster, with the process holding it.

        Asks every process (scatter/gather); returns once each process known from the heartbeats
        answered, at most ``gather_timeout`` seconds later. A process that died is not asked.
        """
        nc = self._require_connection("*")
        inbox = nc.new_inbox()
        subscription = await nc.subscribe(inbox)
        gathering = Gathering()
        try:
            await nc.publish(self.subjects.query, b"{}", reply=inbox)
            deadline = anyio.current_time() + self._settings.gather_timeout
            # Until a heartbeat of every process could have come, the table may miss some.
            heartbeat = self._nodes.slowest_interval(self._settings.heartbeat_interval)
            warm = self._listening_since + 1.5 * heartbeat
            while True:
                now = anyio.current_time()
                if now >= warm and gathering.complete >= set(self._nodes.live(now)):
                    break
                wait = (deadline if now >= warm else min(warm, deadline)) - now
                if wait <= 0:
                    break
                try:
                    msg = await subscription.next_msg(timeout=wait)
                except nats_errors.TimeoutError:
                    continue
                gathering.add(msg.data)
        finally:
            await self._unsubscribe(subscription)
        return gathering.holders()

    async def connected_charge_points(self) -> frozenset[str]:
        """The charge points connected to any process of the cluster (see :meth:`holders`)."""
        return frozenset(await self.holders())

    def nodes(self) -> dict[str, int]:
        """The processes heard from lately (heartbeats), with the charge points each holds."""
        return self._nodes.live(anyio.current_time())

    async def _on_query(self, msg: Msg) -> None:
        if not msg.reply or not self._serving:
            return
        held = {cp: h.since for cp, h in self._held.items()}
        for body in presence_chunks(self.node, held, self._max_payload() - _ENVELOPE_ROOM):
            await self._publish_json(msg.reply, body)

    async def _on_node_info(self, msg: Msg) -> None:
        if msg.reply:
            body = {"v": 1, "node": self.node, "charge_points": len(self._held)}
            await self._reply(msg, dumps(body))

    async def _on_heartbeat(self, msg: Msg) -> None:
        self._nodes.record(msg.data, anyio.current_time())

    def _heartbeat(self, state: str) -> dict[str, Any]:
        return {
            "v": 1,
            "node": self.node,
            "state": state,
            "interval": self._settings.heartbeat_interval,
            "charge_points": len(self._held),
            "at": _now_wire(),
        }

    async def _heartbeat_loop(self) -> None:
        nc = self._nc
        assert nc is not None
        while True:
            if self._serving:
                await self._publish_json(self.subjects.heartbeat, self._heartbeat("up"))
                reconnects = nc.stats["reconnects"]
                if reconnects != self._reconnects:
                    # Calls taken while NATS was away may have left another holder: the newer
                    # connection wins again, cluster-wide.
                    self._reconnects = reconnects
                    for charge_point_id, held in list(self._held.items()):
                        await self._claim(charge_point_id, held.since)
            await anyio.sleep(self._settings.heartbeat_interval)

    # -- events ---------------------------------------------------------------------------------

    async def _publish_event(self, event: object) -> None:
        cs = self._cs
        at = datetime_to_wire(cs.clock()) if cs is not None else _now_wire()
        described = event_body(event, self.node, at, self._lenient.unstructure)
        if described is None:
            return
        name, body = described
        charge_point_id = body["charge_point_id"]
        subject = self.subjects.event(charge_point_id, name)
        try:
            data = dumps(body)
        except ValueError:
            data = b""
        if not data or len(data) > self._max_payload():
            body.update(request=None, response=None, truncated=True)
            data = dumps(body)
        await self._publish(subject, data)

    # -- NATS plumbing --------------------------------------------------------------------------

    def _require_connection(self, charge_point_id: str) -> Client:
        nc = self._nc
        if nc is None:
            raise ClusterUnavailable(charge_point_id, f"router {self.node!r} is not running")
        if not nc.is_connected:
            raise ClusterUnavailable(charge_point_id, "not connected to NATS")
        return nc

    def _max_payload(self) -> int:
        return self._nc.max_payload if self._nc is not None else 1 << 20

    async def _publish_json(self, subject: str, body: Mapping[str, Any]) -> None:
        await self._publish(subject, dumps(body))

    async def _publish(self, subject: str, data: bytes) -> None:
        nc = self._nc
        if nc is None:
            return
        try:
            await nc.publish(subject, data)
        except nats_errors.Error as error:
            # Events and claims are at most once; while NATS is away they are buffered up
            # to the client's pending size, then dropped here.
            log.warning("router %s: not published on %s: %r", self.node, subject, error)

    async def _reply(self, msg: Msg, data: bytes) -> None:
        try:
            await msg.respond(data)
        except nats_errors.Error as error:
            log.warning("router %s: reply on %s lost: %r", self.node, msg.subject, error)

    async def _flush(self) -> None:
        nc = self._nc
        if nc is None or not nc.is_connected:
            return
        try:
            # Once the server has our subscriptions, a call from anywhere finds this process.
            await nc.flush(timeout=1)
        except nats_errors.Error as error:
            log.warning("router %s: NATS flush failed: %r", self.node, error)

    async def _unsubscribe(self, subscription: Subscription | None) -> None:
        if subscription is None:
            return
        # A failure means the connection is closing: the server forgets it anyway.
        with contextlib.suppress(nats_errors.Error):
            await subscription.unsubscribe()
