"""Per-message cost of the wire layer against the bare JSON floor (issue: speed target 5x).

For a realistic mix (BootNotification, Heartbeat, StatusNotification and MeterValues with 10
sampled values) it measures, per message:

* ours: parse the frame + validate against the schema + structure into the typed class, then
  unstructure + validate outbound + encode the frame again;
* the floor: ``json.loads`` of the same frame + ``json.dumps`` of the decoded object;
* the ``ocpp`` package from PyPI (if installed: ``pip install ocpp``), doing the same work its
  way: unpack + jsonschema validation + snake_case dataclass, then serialise + camelCase +
  validation + pack.

    python benchmarks/bench_codec.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from ocpp16csms.codec import MessageCodec
from ocpp16csms.registry import ACTIONS
from ocpp16csms.rpc import (
    Call,
    encode_frame,
    parse_frame,
)

SAMPLED = [
    {
        "value": str(1000 + i),
        "context": "Sample.Periodic",
        "measurand": measurand,
        "unit": unit,
        "location": "Outlet",
        **({"phase": "L1"} if i % 3 == 0 else {}),
    }
    for i, (measurand, unit) in enumerate(
        [
            ("Energy.Active.Import.Register", "Wh"),
            ("Power.Active.Import", "W"),
            ("Current.Import", "A"),
            ("Voltage", "V"),
            ("Temperature", "Celsius"),
            ("SoC", "Percent"),
            ("Current.Offered", "A"),
            ("Power.Offered", "W"),
            ("Frequency", "W"),
            ("Energy.Active.Import.Interval", "Wh"),
        ]
    )
]

MIX: list[tuple[str, dict[str, Any]]] = [
    (
        "BootNotification",
        {
            "chargePointVendor": "Acme",
            "chargePointModel": "Volt 22",
            "chargePointSerialNumber": "SN-0001-2222",
            "firmwareVersion": "1.4.2",
            "meterType": "EM-340",
        },
    ),
    ("Heartbeat", {}),
    (
        "StatusNotification",
        {
            "connectorId": 1,
            "errorCode": "NoError",
            "status": "Charging",
            "timestamp": "2026-11-24T10:15:00.123Z",
        },
    ),
    (
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 4711,
            "meterValue": [{"timestamp": "2026-11-24T10:15:00Z", "sampledValue": SAMPLED}],
        },
    ),
]
FRAMES = [json.dumps([2, f"id-{i}", action, payload]) for i, (action, payload) in enumerate(MIX)]


def ours() -> Callable[[str], str]:
    codec = MessageCodec()

    def run(text: str) -> str:
        frame = parse_frame(text)
        assert isinstance(frame, Call)
        message = codec.decode(ACTIONS[frame.action].request, frame.payload)
        return encode_frame(Call(frame.message_id, frame.action, codec.encode(message)))

    return run


def floor() -> Callable[[str], str]:
    def run(text: str) -> str:
        return json.dumps(json.loads(text))

    return run


def ocpp_package() -> Callable[[str], str] | None:
    try:
        from ocpp.charge_point import (
            camel_to_snake_case,
            remove_nones,
            serialize_as_dict,
            snake_to_camel_case,
        )
        from ocpp.messages import Call as OcppCall
        from ocpp.messages import _validate_payload, pack, unpack
        from ocpp.v16 import call
    except ImportError:
        return None

    def run(text: str) -> str:
        message = unpack(text)
        _validate_payload(message, "1.6")
        request = getattr(call, message.action)(**camel_to_snake_case(message.payload))
        payload = snake_to_camel_case(remove_nones(serialize_as_dict(request)))
        out = OcppCall(unique_id=message.unique_id, action=message.action, payload=payload)
        _validate_payload(out, "1.6")
        return str(pack(out))

    return run


def per_message_us(run: Callable[[str], str], seconds: float) -> float:
    """Best of 5 rounds of µs per message over the mix."""
    for text in FRAMES:  # warm caches (compiled validators, generated hooks)
        run(text)
    rounds = []
    for _ in range(5):
        n = 0
        start = time.perf_counter()
        deadline = start + seconds / 5
        while time.perf_counter() < deadline:
            for text in FRAMES:
                run(text)
            n += len(FRAMES)
        rounds.append((time.perf_counter() - start) / n * 1e6)
    return min(rounds)


def per_action_us(run: Callable[[str], str], text: str, repeat: int = 3000) -> float:
    run(text)
    best = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            run(text)
        best.append((time.perf_counter() - start) / repeat * 1e6)
    return statistics.median(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    runners = {"json floor": floor(), "ocpp16csms": ours()}
    other = ocpp_package()
    if other is not None:
        runners["ocpp (PyPI)"] = other
    print(f"{'per message, µs':<16}" + "".join(f"{name:>14}" for name in runners))
    for (action, _), text in zip(MIX, FRAMES, strict=True):
        row = "".join(f"{per_action_us(run, text):>14.1f}" for run in runners.values())
        print(f"{action:<16}{row}")
    mix = {name: per_message_us(run, args.seconds) for name, run in runners.items()}
    print(f"{'mix':<16}" + "".join(f"{us:>14.1f}" for us in mix.values()))
    base = mix["json floor"]
    print(f"{'× floor':<16}" + "".join(f"{us / base:>14.1f}" for us in mix.values()))


if __name__ == "__main__":
    main()
