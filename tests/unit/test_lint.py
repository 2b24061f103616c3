"""The code base stays ruff clean (lint and format) and type-checks, checked with the test suite."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    found = Path(sys.executable).parent / name
    if found.exists():
        return str(found)
    which = shutil.which(name)
    if not which:
        pytest.fail(f"{name} is not installed: pip install -e '.[test]'")
    return which


def _passes(*command: str, timeout: float = 120) -> None:
    out = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]


@pytest.mark.parametrize("args", [["check", "."], ["format", "--check", "."]], ids=["check", "format"])
def test_ruff(args: list[str]) -> None:
    _passes(_tool("ruff"), *args)


def test_mypy_on_the_package() -> None:
    _passes(_tool("mypy"), timeout=300)  # [tool.mypy] in pyproject.toml names the package


def test_mypy_strict_on_the_decision_core() -> None:
    _passes(_tool("mypy"), "--strict", "airflow_provider_rtp/completeness", timeout=300)
