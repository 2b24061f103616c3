"""A pipeline's sink in its declaration: Iceberg by default, or a ClickHouse table."""

from __future__ import annotations

from pathlib import Path

import pytest

from airflow_provider_rtp.completeness import InvalidPipelineError, Pipeline, load_pipelines


def _clickhouse(**kw: object) -> Pipeline:
    fields: dict[str, object] = {
        "table": "ch.orders",
        "topics": ("shop.orders",),
        "group": "g",
        "ingestion_job": "orders-clickhouse",
        "sink": "clickhouse",
        "clickhouse_table": "shop.orders_local",
    }
    return Pipeline(**(fields | kw))  # type: ignore[arg-type]


def test_the_default_sink_is_iceberg_and_its_key_is_unchanged() -> None:
    pipeline = Pipeline("ods.orders", ("shop.orders",), "g", "job")
    assert (pipeline.sink, pipeline.clickhouse_table, pipeline.commit_target) == (
        "iceberg",
        None,
        "ods.orders",
    )
    # Decisions stored before pipelines had a sink keep matching their pipeline.
    assert pipeline.key() == '["ods.orders",["shop.orders"],"g","job",null,null]'


def test_a_clickhouse_pipeline_names_its_table_and_keys_apart() -> None:
    pipeline = _clickhouse()
    assert pipeline.commit_target == "shop.orders_local"
    iceberg = Pipeline("ch.orders", ("shop.orders",), "g", "orders-clickhouse")
    assert pipeline.key() != iceberg.key()
    assert '"clickhouse","shop.orders_local"' in pipeline.key()
    assert Pipeline.from_dict(pipeline.to_dict()) == pipeline


@pytest.mark.parametrize("sink", ["clickhose", "ClickHouse", "", None, "kafka"])
def test_an_unknown_sink_is_named_with_the_allowed_ones(sink: object) -> None:
    with pytest.raises(InvalidPipelineError, match=r"unknown sink .*allowed: iceberg, clickhouse"):
        _clickhouse(sink=sink)


@pytest.mark.parametrize("name", [None, "", "orders", "a.b.c", "shop.", ".orders", "sh op.orders", "`s`.o"])
def test_a_clickhouse_sink_needs_a_database_table_name(name: object) -> None:
    with pytest.raises(InvalidPipelineError, match=r"ch.orders: sink clickhouse needs clickhouse_table"):
        _clickhouse(clickhouse_table=name)


def test_a_clickhouse_table_on_an_iceberg_pipeline_is_refused() -> None:
    with pytest.raises(InvalidPipelineError, match=r"only read with sink: clickhouse"):
        _clickhouse(sink="iceberg")


def test_the_yaml_declares_the_sink(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.yaml"
    path.write_text(
        "pipelines:\n"
        "  ods.orders:\n    topics: [shop.orders]\n    group: g1\n    ingestion_job: j1\n"
        "  ch.orders:\n    topics: [shop.orders]\n    group: g2\n    ingestion_job: j2\n"
        "    sink: clickhouse\n    clickhouse_table: shop.orders_local\n"
    )
    pipelines = load_pipelines(path)
    assert pipelines["ods.orders"].sink == "iceberg"
    assert (pipelines["ch.orders"].sink, pipelines["ch.orders"].commit_target) == (
        "clickhouse",
        "shop.orders_local",
    )


def test_the_yaml_names_a_bad_sink_and_its_pipeline(tmp_path: Path) -> None:
    path = tmp_path / "pipelines.yaml"
    path.write_text(
        "pipelines:\n  ch.orders:\n    topics: [t]\n    group: g\n    ingestion_job: j\n    sink: clikhouse\n"
    )
    with pytest.raises(InvalidPipelineError, match=r"ch.orders: unknown sink 'clikhouse'"):
        load_pipelines(path)
    path.write_text(
        "pipelines:\n  ch.orders:\n    topics: [t]\n    group: g\n    ingestion_job: j\n"
        "    sink: clickhouse\n"
    )
    with pytest.raises(InvalidPipelineError, match=r"needs clickhouse_table 'database.table'.*got None"):
        load_pipelines(path)
