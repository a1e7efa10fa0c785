"""Time the compiled schema validator against the jsonschema reference.

Run with the package importable (``pip install -e .`` or ``PYTHONPATH=src``)::

    python benchmarks/bench_validation.py

Prints microseconds per validation for a MeterValues payload with 10 sampled values and a
BootNotification, valid and with one fault.
"""

from __future__ import annotations

import timeit
from collections.abc import Callable
from functools import partial
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import jsonschema.validators  # type: ignore[import-untyped]

from ocpp16csms.validation import (
    ValidationPolicy,
    reference_violations,
    validator_for,
)

METER_VALUES: dict[str, Any] = {
    "connectorId": 1,
    "transactionId": 4711,
    "meterValue": [
        {
            "timestamp": "2024-05-01T12:00:00.123Z",
            "sampledValue": [
                {
                    "value": f"{1000 + i}.5",
                    "context": "Sample.Periodic",
                    "format": "Raw",
                    "measurand": "Energy.Active.Import.Register",
                    "phase": "L1",
                    "location": "Outlet",
                    "unit": "Wh",
                }
                for i in range(10)
            ],
        }
    ],
}
BOOT_NOTIFICATION: dict[str, Any] = {
    "chargePointVendor": "VendorX",
    "chargePointModel": "ModelY",
    "chargePointSerialNumber": "SN-000123",
    "firmwareVersion": "1.2.3",
    "meterType": "DC meter",
}


def _faulty(payload: dict[str, Any]) -> dict[str, Any]:
    return {**payload, "vendorExtension": True}


def _per_call_us(fn: Callable[[], object]) -> float:
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    best = min(timer.repeat(repeat=5, number=number))
    return best / number * 1e6


def main() -> None:
    """Print the timings as a small table."""
    policy = ValidationPolicy.strict()
    print(f"{'payload':<26} {'check':<34} {'µs/validation':>14}")
    for name, payload in (("MeterValues", METER_VALUES), ("BootNotification", BOOT_NOTIFICATION)):
        compiled = validator_for(name)
        # Baseline: jsonschema as shipped (float multipleOf, no date-time check, no mapping).
        plain = jsonschema.validators.validator_for(compiled.schema)(compiled.schema)
        reference_violations(name, payload)  # build the cached jsonschema validator first
        for label, sample in (("valid", payload), ("one fault", _faulty(payload))):
            cases: list[tuple[str, Callable[[], object]]] = [
                ("compiled is_valid", partial(compiled.is_valid, sample)),
                ("compiled violations", partial(compiled.violations, sample)),
                ("policy.check (strict)", partial(policy.check, name, sample, action=name)),
                ("reference (jsonschema)", partial(reference_violations, name, sample)),
                ("plain jsonschema is_valid", partial(plain.is_valid, sample)),
            ]
            results = {what: _per_call_us(fn) for what, fn in cases}
            for what, micros in results.items():
                print(f"{name + ' ' + label:<26} {what:<34} {micros:>14.2f}")
            ratio = results["reference (jsonschema)"] / results["compiled violations"]
            print(f"{'':<26} {'speed-up, violations vs reference':<34} {ratio:>13.0f}x")


if __name__ == "__main__":
    main()
