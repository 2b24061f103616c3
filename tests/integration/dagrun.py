"""Real task runs for integration tests: `airflow dags test` in a subprocess, XCom read back."""

from __future__ import annotations

import atexit
import fcntl
import hashlib
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
    """Write the folder's DAGs to the metadata DB once per test session (once per test process
    in a serial run), before parallel runs would all insert them. Test processes running side by
    side take turns (a file lock); the first leaves a mark for the session's others."""
    with _REGISTER_LOCK:
        if folder in _REGISTERED:
            return
        home = Path(os.environ.get("AIRFLOW_HOME", "/tmp"))
        session = os.environ.get("PYTEST_XDIST_TESTRUNUID")
        digest = hashlib.sha1(str(folder).encode()).hexdigest()[:12]
        mark = home / f"registered-dags-{session}-{digest}" if session else None
        with (home / "register-dags.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if mark is None or not mark.exists():
                out = subprocess.run(
                    [AIRFLOW, "dags", "reserialize"],
                    env=_env(folder),
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert out.returncode == 0, (out.stdout + out.stderr)[-3000:]
                if mark is not None:
                    for old in home.glob(f"registered-dags-*-{digest}"):
                        old.unlink(missing_ok=True)
                    mark.touch()
        _REGISTERED.add(folder)


class _Runner:
    """A ``tests.integration.dag_runner`` process: `airflow dags test` without restarting Airflow."""

    READY_TIMEOUT = 180

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.dag_runner"],
            env=env,
            cwd=Path(__file__).parents[2],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        # Airflow imported: from here a run starts its tasks within seconds.
        if not json.loads(self._answer(self.READY_TIMEOUT, "starting") or "{}").get("ready"):
            raise RuntimeError(f"the DAG runner exited with {self.proc.wait()} before it was ready")

    def _answer(self, timeout: float, what: str) -> str:
        assert self.proc.stdout is not None
        answer: list[str] = []
        reader = threading.Thread(target=lambda: answer.append(self.proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self.proc.kill()
            raise subprocess.TimeoutExpired(what, timeout)
        return answer[0] if answer else ""

    def run(self, request: dict, timeout: float) -> int:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        answer = self._answer(timeout, request["dag_id"])
        if not answer:
            raise RuntimeError(f"the DAG runner exited with {self.proc.wait()} (log: {request['log']})")
        return int(json.loads(answer)["exit"])

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


def _config(env: dict[str, str]) -> frozenset[tuple[str, str]]:
    return frozenset((k, v) for k, v in env.items() if k.startswith("AIRFLOW__"))


def _take_runner(env: dict[str, str]) -> _Runner:
    with _IDLE_LOCK:
        idle = _IDLE.setdefault(_config(env), [])
        while idle:
            runner = idle.pop()
            if runner.proc.poll() is None:
                return runner
    return _Runner(env)


def _give_back(runner: _Runner, env: dict[str, str]) -> None:
    with _IDLE_LOCK:
        _IDLE.setdefault(_config(env), []).append(runner)


def warm_runners(dag_file: Path, count: int) -> None:
    """Have ``count`` runners ready (Airflow imported) for runs of ``dag_file``'s folder: a test
    that places windows a few seconds ahead calls this first, so no run starts Airflow late."""
    register_dags(dag_file.parent)
    env = _env(dag_file.parent)
    runners = [_take_runner(env) for _ in range(count)]
    for runner in runners:
        _give_back(runner, env)


class StartedRun:
    """A run started in the background on a runner (see start_dag): ``wait``, ``poll``, ``kill``."""

    def __init__(self, request: dict, env: dict[str, str], timeout: float) -> None:
        self._code: int | None = None
        self._error: BaseException | None = None
        self._runner = _take_runner(env)
        self._env = env
        self._thread = threading.Thread(target=self._run, args=(request, timeout), daemon=True)
        self._thread.start()

    def _run(self, request: dict, timeout: float) -> None:
        try:
            self._code = self._runner.run(request, timeout)
        except BaseException as exc:  # re-raised by wait()
            self._error = exc
        else:
            _give_back(self._runner, self._env)

    def poll(self) -> int | None:
        return None if self._thread.is_alive() else self.wait(0)

    def wait(self, timeout: float | None = None) -> int:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise subprocess.TimeoutExpired("dags test", timeout or 0)
        if self._error is not None:
            raise self._error
        assert self._code is not None
        return self._code

    def kill(self) -> None:
        self._runner.proc.kill()


def start_dag(dag_file: Path, dag_id: str, conf: dict, log_path: Path, *, timeout: float = 400) -> StartedRun:
    """Start a run in the background, as `airflow dags test` does; its output goes to ``log_path``.

    The run goes to an idle runner of this test process (a new one is started, and waited for
    until Airflow is imported, when all are busy)."""
    register_dags(dag_file.parent)
    env = _env(dag_file.parent)  # now: a connection a test sets later is not this run's
    request = {"dag_id": dag_id, "dag_file": str(dag_file), "conf": conf, "log": str(log_path), "env": env}
    log_path.write_text("")
    return StartedRun(request, env, timeout)


def run_dag(
    dag_file: Path, dag_id: str, conf: dict, *, timeout: float = 400, logical_date: str | None = None
) -> tuple[bool, str]:
    """Run the DAG to its end, as `airflow dags test` does: (succeeded, log).

    Runs go to an idle runner process of this test process (one more is started when all
    are busy), so Airflow starts once per process rather than once per run.
    """
    register_dags(dag_file.parent)
    env = _env(dag_file.parent)
    runner = _take_runner(env)
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
    _give_back(runner, env)
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
