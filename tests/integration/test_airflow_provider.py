"""Airflow itself discovers the provider."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def _airflow(*args: str) -> str:
    exe = Path(sys.executable).parent / "airflow"
    out = subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout


def test_airflow_providers_list_shows_the_provider() -> None:
    assert "airflow-provider-rtp" in _airflow("providers", "list", "--output", "plain")


def test_airflow_providers_get_describes_it() -> None:
    out = _airflow("providers", "get", "airflow-provider-rtp", "--full", "--output", "yaml")
    assert "Real-time Platform" in out and "connection-types" in out
