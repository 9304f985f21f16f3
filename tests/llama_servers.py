"""Waiting for a real ``llama_cpp.server`` subprocess, shared by the tests that start one."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import httpx
import pytest


def wait_until_serving(proc: subprocess.Popen[bytes], url: str, log: Path, timeout: float) -> None:
    """Return once ``url`` answers ``GET /v1/models``; fail the test (with the log's tail) otherwise."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2.0, trust_env=False) as probe:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
            try:
                if probe.get(f"{url}/v1/models").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready after {timeout:.0f} s:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
