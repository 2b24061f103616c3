"""Real task runs for integration tests: `airflow dags test` in a subprocess, XCom read back."""

from __future__ import annotations

import fcntl
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

RUN_ID = re.compile(r"DagRun Finished: dag_id=\S+, logical_date=[^,]+, run_id=([^,]+),")


def _command(
    dag_file: Path, dag_id: str, conf: dict, logical_date: str | None = None
) -> tuple[list[str], dict[str, str]]:
    exe = Path(sys.executable).parent / "airflow"
    env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(dag_file.parent)}
    date = [logical_date] if logical_date else []
    return [str(exe), "dags", "test", dag_id, *date, "-f", str(dag_file), "-c", json.dumps(conf)], env


_REGISTERED: set[Path] = set()
_REGISTER_LOCK = threading.Lock()


def register_dags(folder: Path) -> None:
    """Write the folder's DAGs to the metadata DB once per test process, before parallel runs
    would all insert them. Test processes running side by side take turns (a file lock)."""
    with _REGISTER_LOCK:
        if folder in _REGISTERED:
            return
        lock_file = Path(os.environ.get("AIRFLOW_HOME", "/tmp")) / "register-dags.lock"
        with lock_file.open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            exe = Path(sys.executable).parent / "airflow"
            env = {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(folder)}
            out = subprocess.run(
                [str(exe), "dags", "reserialize"], env=env, capture_output=True, text=True, timeout=300
            )
        assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
        _REGISTERED.add(folder)


def start_dag(dag_file: Path, dag_id: str, conf: dict, log_path: Path) -> subprocess.Popen:
    """Start a run in the background; its output goes to ``log_path``."""
    register_dags(dag_file.parent)
    cmd, env = _command(dag_file, dag_id, conf)
    out = log_path.open("w")
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)


def run_dag(
    dag_file: Path, dag_id: str, conf: dict, *, timeout: float = 400, logical_date: str | None = None
) -> tuple[bool, str]:
    """Run the DAG to its end: (succeeded, log)."""
    register_dags(dag_file.parent)
    cmd, env = _command(dag_file, dag_id, conf, logical_date)
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    log = out.stdout + out.stderr
    return out.returncode == 0 and "state=success" in log, log


def returned(dag_id: str, log: str, task_id: str | None = None) -> Any:
    """What the run's task returned (its ``return_value`` XCom)."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    run_id = RUN_ID.findall(log)[-1]
    query = select(XComModel).where(
        XComModel.dag_id == dag_id, XComModel.run_id == run_id, XComModel.key == "return_value"
    )
    if task_id:
        query = query.where(XComModel.task_id == task_id)
    with create_session() as session:
        return XComModel.deserialize_value(session.execute(query).scalar_one())


def asset_events(asset_name: str, since: Any = None) -> list[dict[str, Any]]:
    """Asset events of the named asset (oldest first): extra, partition key, timestamp."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(AssetEvent).join(AssetModel, AssetEvent.asset_id == AssetModel.id)
        query = query.where(AssetModel.name == asset_name).order_by(AssetEvent.id)
        if since is not None:
            query = query.where(AssetEvent.timestamp >= since)
        return [
            {"extra": e.extra, "partition_key": e.partition_key, "timestamp": e.timestamp}
            for e in session.scalars(query)
        ]
