from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _needs_stack(stack: None) -> None:
    """Every integration test needs the local stack (see tests/conftest.py)."""
