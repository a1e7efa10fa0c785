"""``python -m ocpp16csms.testing.conformance``: the command line of :mod:`.cli`."""

from __future__ import annotations

from .cli import main

__all__ = ["main"]

if __name__ == "__main__":
    raise SystemExit(main())
