"""The examples run as documented (the quickstart is the README's "run it" command)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quickstart_completes_a_charging_session() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "quickstart.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CP → BootNotification" in out
    assert '"status":"Accepted"' in out
    assert "CS → RemoteStopTransaction" in out
    assert "meter values stored: 3" in out
    assert "the session completed." in out
