from __future__ import annotations

import importlib
import json
from pathlib import Path

import airflow
import jsonschema
import pytest

from airflow_provider_rtp.get_provider_info import get_provider_info

SCHEMA = Path(airflow.__file__).parent / "provider.yaml.schema.json"


def _modules(info: dict) -> list[str]:
    mods: list[str] = []
    for section in ("hooks", "operators", "sensors", "triggers"):
        for entry in info.get(section, []):
            mods.extend(entry["python-modules"])
    return mods


def test_provider_info_matches_airflow_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    # The schema describes provider.yaml; the runtime dict is the same shape minus build-only keys.
    schema["required"] = [k for k in schema.get("required", []) if k in get_provider_info()]
    jsonschema.validate(get_provider_info(), schema)


@pytest.mark.parametrize("module", _modules(get_provider_info()))
def test_every_listed_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_connection_hooks_resolve_and_match_conn_type() -> None:
    for conn in get_provider_info()["connection-types"]:
        module, _, name = conn["hook-class-name"].rpartition(".")
        hook = getattr(importlib.import_module(module), name)
        assert hook.conn_type == conn["connection-type"]
        assert hook.hook_name == conn["hook-name"]


def test_secret_fields_are_password_format() -> None:
    for conn in get_provider_info()["connection-types"]:
        for field, spec in conn.get("conn-fields", {}).items():
            if any(word in field for word in ("password", "secret", "token", "key")):
                assert spec["schema"].get("format") == "password", field


def test_entry_point_is_registered() -> None:
    from importlib.metadata import entry_points

    eps = [
        ep
        for ep in entry_points(group="apache_airflow_provider")
        if ep.value.startswith("airflow_provider_rtp")
    ]
    assert len(eps) == 1
    assert eps[0].load()()["package-name"] == "airflow-provider-rtp"


def test_get_provider_info_imports_nothing_of_the_provider() -> None:
    source = (Path(__file__).parents[2] / "airflow_provider_rtp" / "get_provider_info.py").read_text()
    assert "import airflow" not in source and "from airflow" not in source


def test_extra_links_resolve() -> None:
    from airflow.sdk import BaseOperatorLink

    for path in get_provider_info().get("extra-links", []):
        module, _, name = path.rpartition(".")
        assert issubclass(getattr(importlib.import_module(module), name), BaseOperatorLink)


def test_operators_have_templated_fields_that_exist() -> None:
    from airflow_provider_rtp.operators.flink import FlinkJarJobOperator, FlinkSqlJobOperator

    jar = FlinkJarJobOperator(task_id="j", job_name="n", jar="/x.jar")
    sql = FlinkSqlJobOperator(task_id="s", job_name="n", insert_sql="INSERT INTO a SELECT 1")
    for op in (jar, sql):
        for field in op.template_fields:
            assert hasattr(op, field), field
