"""The core stays pure: stdlib only, an explicit public surface."""

from __future__ import annotations

import importlib
import json
import pkgutil
import subprocess
import sys

import pytest

import airflow_provider_rtp.completeness as core

MODULES = sorted(m.name for m in pkgutil.iter_modules(core.__path__, core.__name__ + "."))


def test_core_imports_only_the_standard_library() -> None:
    script = (
        "import sys, json; import airflow_provider_rtp.completeness; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", script], check=True, capture_output=True, text=True).stdout
    top_level = set(json.loads(out)) - {"airflow_provider_rtp"}
    foreign = sorted(m for m in top_level if m not in sys.stdlib_module_names and not m.startswith("_"))
    assert foreign == []


@pytest.mark.parametrize("module", MODULES)
def test_every_module_declares_an_existing_public_surface(module: str) -> None:
    mod = importlib.import_module(module)
    assert hasattr(mod, "__all__"), module
    for name in mod.__all__:
        assert hasattr(mod, name), f"{module}.{name}"


def test_package_reexports_exist() -> None:
    for name in core.__all__:
        assert hasattr(core, name), name


def test_modules_stay_small() -> None:
    for module in MODULES:
        source = importlib.import_module(module).__file__
        assert source is not None
        with open(source, encoding="utf-8") as fh:
            assert sum(1 for _ in fh) < 400, module


def test_job_states_match_the_flink_client() -> None:
    pytest.importorskip("requests")
    from airflow_provider_rtp.flink.models import JobState as FlinkJobState

    assert {s.value for s in FlinkJobState} == {s.value for s in core.JobState}
