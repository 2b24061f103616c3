"""The Iceberg hook on the stack's JDBC catalog, and on tables addressed by their metadata location."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from airflow_provider_rtp.exceptions import IcebergError
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.iceberg import observe_table
from airflow_provider_rtp.iceberg.snapshot_log import read_snapshot_log
from tests.integration.test_completeness_faults import connections

pytestmark = pytest.mark.usefixtures("stack")


@pytest.fixture
def hook() -> IcebergHook:
    return IcebergHook(connection=connections()["iceberg_default"])


def test_metadata_file_and_hadoop_layout_directory_give_the_catalog_table(
    hook: IcebergHook, tmp_path
) -> None:
    table = hook.load_table("ods.orders")
    location = table.metadata_location
    by_file = hook.load_table(location)  # as Java wrote it, e.g. file:/.../00012-….metadata.json
    assert by_file.metadata.current_snapshot_id == table.metadata.current_snapshot_id

    # A Hadoop-layout copy: metadata/v7.metadata.json named by metadata/version-hint.text.
    meta = tmp_path / "orders" / "metadata"
    meta.mkdir(parents=True)
    shutil.copy(Path(location.removeprefix("file:")), meta / "v7.metadata.json")
    (meta / "version-hint.text").write_text("7\n")
    by_dir = hook.load_table(str(tmp_path / "orders"))
    assert [s.snapshot_id for s in by_dir.metadata.snapshots] == [
        s.snapshot_id for s in table.metadata.snapshots
    ]
    log = read_snapshot_log(hook, str(tmp_path / "orders"))
    assert log == observe_table(by_dir, str(tmp_path / "orders"))


def test_unknown_table_and_location_are_named(hook: IcebergHook, tmp_path) -> None:
    with pytest.raises(IcebergError, match=r"ods\.no_such_table"):
        hook.load_table("ods.no_such_table")
    with pytest.raises(IcebergError, match="version-hint"):
        hook.load_table(str(tmp_path / "nothing-here"))
