"""Real task runs for integration tests: `airflow dags test` in a subprocess, XCom read back."""

from __future__ import annotations

import atexit
import fcntl
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

RUN_ID = re.compile(r"DagRun Finished: dag_id=\S+, logical_date=[^,]+, run_id=([^,]+),")


AIRFLOW = str(Path(sys.executable).parent / "airflow")


def _env(folder: Path) -> dict[str, str]:
    """This process's environment with ``folder`` as Airflow's DAG folder."""
    return {**os.environ, "AIRFLOW__CORE__DAGS_FOLDER": str(folder)}


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
            out = subprocess.run(
                [AIRFLOW, "dags", "reserialize"],
                env=_env(folder),
                capture_output=True,
                text=True,
                timeout=300,
            )
        assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
        _REGISTERED.add(folder)


def start_dag(dag_file: Path, dag_id: str, conf: dict, log_path: Path) -> subprocess.Popen:
    """Start a run in the background; its output goes to ``log_path``."""
    register_dags(dag_file.parent)
    cmd = [AIRFLOW, "dags", "test", dag_id, "-f", str(dag_file), "-c", json.dumps(conf)]
    out = log_path.open("w")
    return subprocess.Popen(cmd, env=_env(dag_file.parent), stdout=out, stderr=subprocess.STDOUT, text=True)


class _Runner:
    """A ``tests.integration.dag_runner`` process: `airflow dags test` without restarting Airflow."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.dag_runner"],
            env=env,
            cwd=Path(__file__).parents[2],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, request: dict, timeout: float) -> int:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self.proc.kill()
            raise subprocess.TimeoutExpired(request["dag_id"], timeout)
        if not answer or not answer[0]:
            raise RuntimeError(f"the DAG runner exited with {self.proc.wait()} (log: {request['log']})")
        return int(json.loads(answer[0])["exit"])

    def close(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# Idle runners by their Airflow configuration (AIRFLOW__* variables are read when Airflow
# starts; the rest of the environment, e.g. AIRFLOW_CONN_*, is passed with each run).
_IDLE: dict[frozenset[tuple[str, str]], list[_Runner]] = {}
_IDLE_LOCK = threading.Lock()


def run_dag(
    dag_file: Path, dag_id: str, conf: dict, *, timeout: float = 400, logical_date: str | None = None
) -> tuple[bool, str]:
    """Run the DAG to its end, as `airflow dags test` does: (succeeded, log).

    Runs go to an idle runner process of this test process (one more is started when all
    are busy), so Airflow starts once per process rather than once per run.
    """
    register_dags(dag_file.parent)
    env = _env(dag_file.parent)
    config = frozenset((k, v) for k, v in env.items() if k.startswith("AIRFLOW__"))
    with _IDLE_LOCK:
        idle = _IDLE.setdefault(config, [])
        runner = idle.pop() if idle else None
    if runner is None or runner.proc.poll() is not None:
        runner = _Runner(env)
    with tempfile.NamedTemporaryFile("r", prefix=f"{dag_id}-", suffix=".log") as log_file:
        request = {
            "dag_id": dag_id,
            "dag_file": str(dag_file),
            "conf": conf,
            "logical_date": logical_date,
            "log": log_file.name,
            "env": env,
        }
        code = runner.run(request, timeout)
        log = Path(log_file.name).read_text()
    with _IDLE_LOCK:
        _IDLE[config].append(runner)
    return code == 0 and "state=success" in log, log


@atexit.register
def _close_runners() -> None:
    for runners in _IDLE.values():
        for runner in runners:
            runner.close()


def failure(log: str, *, lines: int = 80) -> str:
    """What to show of a failed run: from the first error on (a failed task's traceback is
    seldom in the last lines: later tasks keep logging), and the end of the log."""
    text = log.splitlines()
    first = next((i for i, line in enumerate(text) if "Traceback" in line or "[error" in line), None)
    head = "\n".join(text[first : first + lines]) if first is not None else "(no error line)"
    return f"{head}\n...\n{log[-2000:]}"


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
