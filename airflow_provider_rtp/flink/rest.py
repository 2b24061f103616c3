"""Client of the Flink JobManager REST API (the endpoints of ``/v1``)."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from airflow_provider_rtp.exceptions import (
    FlinkError,
    FlinkJobAmbiguous,
    FlinkJobNotFound,
    FlinkOperationTimeout,
)
from airflow_provider_rtp.flink._http import HttpSettings, JsonHttpClient
from airflow_provider_rtp.flink.models import CheckpointStats, JobState, JobSummary, SavepointResult

__all__ = ["FlinkRestClient", "jar_checksum"]

# Uploaded jars are stored as "<uuid>_<name>"; we name them "<sha256[:16]>-<name>"
# so an identical jar already on the cluster is found and reused.
_CHECKSUM_LEN = 16


def jar_checksum(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()[:_CHECKSUM_LEN]


class FlinkRestClient:
    """Talks to one JobManager. Pure I/O wrapper: no Airflow imports."""

    def __init__(self, settings: HttpSettings) -> None:
        self.http = JsonHttpClient(settings, system="Flink JobManager")

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> FlinkRestClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- cluster ---------------------------------------------------------
    def overview(self) -> dict[str, Any]:
        return self.http.request("GET", "/overview")

    def config(self) -> dict[str, Any]:
        return self.http.request("GET", "/config")

    # -- jobs --------------------------------------------------------------
    def list_jobs(self) -> list[JobSummary]:
        raw = self.http.request("GET", "/jobs/overview")
        return [JobSummary.from_overview(j) for j in raw.get("jobs", [])]

    def find_running_job(self, name: str) -> JobSummary | None:
        """The RUNNING (or about to run) job called ``name``; the name is the identity DAGs use."""
        live = (
            JobState.RUNNING,
            JobState.CREATED,
            JobState.INITIALIZING,
            JobState.RESTARTING,
            JobState.RECONCILING,
        )
        matches = [j for j in self.list_jobs() if j.name == name and j.state in live]
        if len(matches) > 1:
            ids = ", ".join(j.job_id for j in matches)
            raise FlinkJobAmbiguous(
                f"{len(matches)} live Flink jobs are named {name!r} ({ids}); "
                "cancel the extra ones so the name identifies one job"
            )
        return matches[0] if matches else None

    def get_running_job(self, name: str) -> JobSummary:
        job = self.find_running_job(name)
        if job is None:
            known = sorted({j.name for j in self.list_jobs() if j.state == JobState.RUNNING})
            raise FlinkJobNotFound(f"no RUNNING Flink job named {name!r}; running jobs: {known or 'none'}")
        return job

    def job_details(self, job_id: str) -> dict[str, Any]:
        try:
            return self.http.request("GET", f"/jobs/{job_id}")
        except FlinkError as exc:
            if exc.status == 404:
                raise FlinkJobNotFound(f"Flink job {job_id} does not exist: {exc}") from exc
            raise

    def job_state(self, job_id: str) -> JobState:
        return JobState.parse(self.job_details(job_id)["state"])

    def checkpoints(self, job_id: str) -> CheckpointStats:
        return CheckpointStats.from_rest(self.http.request("GET", f"/jobs/{job_id}/checkpoints"))

    def exceptions(self, job_id: str) -> dict[str, Any]:
        return self.http.request("GET", f"/jobs/{job_id}/exceptions")

    def cancel(self, job_id: str) -> None:
        self.http.request("PATCH", f"/jobs/{job_id}", params={"mode": "cancel"})

    def wait_for_state(
        self, job_id: str, states: Sequence[JobState], timeout: float, poll: float = 1.0
    ) -> JobState:
        deadline = time.monotonic() + timeout
        while True:
            state = self.job_state(job_id)
            if state in states:
                return state
            if state.is_terminal:
                raise FlinkError(
                    f"Flink job {job_id} reached {state} while waiting for "
                    f"{'/'.join(states)}; root cause: {self.root_cause(job_id)}"
                )
            if time.monotonic() > deadline:
                raise FlinkOperationTimeout(
                    f"Flink job {job_id} still {state} after {timeout:.0f}s (wanted {'/'.join(states)})"
                )
            time.sleep(poll)

    def wait_for_checkpoint(
        self, job_id: str, after_id: int = 0, timeout: float = 120.0, poll: float = 1.0
    ) -> CheckpointStats:
        deadline = time.monotonic() + timeout
        while True:
            stats = self.checkpoints(job_id)
            if stats.latest_completed_id is not None and stats.latest_completed_id > after_id:
                return stats
            if time.monotonic() > deadline:
                raise FlinkOperationTimeout(
                    f"Flink job {job_id} completed no checkpoint after {after_id} within {timeout:.0f}s"
                )
            time.sleep(poll)

    def root_cause(self, job_id: str) -> str:
        try:
            raw = self.exceptions(job_id)
        except FlinkError:
            return "unknown"
        history = (raw.get("exceptionHistory") or {}).get("entries") or []
        if history:
            return str(history[0].get("stacktrace") or history[0].get("exceptionName", "unknown"))
        return str(raw.get("root-exception") or "unknown")

    # -- savepoints --------------------------------------------------------
    def trigger_savepoint(
        self, job_id: str, target_directory: str | None = None, cancel_job: bool = False
    ) -> str:
        body: dict[str, Any] = {"cancel-job": cancel_job}
        if target_directory:
            body["target-directory"] = target_directory
        return self.http.request("POST", f"/jobs/{job_id}/savepoints", json=body)["request-id"]

    def stop_with_savepoint(
        self, job_id: str, target_directory: str | None = None, drain: bool = False
    ) -> str:
        body: dict[str, Any] = {"drain": drain}
        if target_directory:
            body["targetDirectory"] = target_directory
        return self.http.request("POST", f"/jobs/{job_id}/stop", json=body)["request-id"]

    def wait_for_savepoint(
        self, job_id: str, request_id: str, timeout: float = 300.0, poll: float = 1.0
    ) -> SavepointResult:
        deadline = time.monotonic() + timeout
        while True:
            raw = self.http.request("GET", f"/jobs/{job_id}/savepoints/{request_id}")
            if (raw.get("status") or {}).get("id") == "COMPLETED":
                op = raw.get("operation") or {}
                if "failure-cause" in op:
                    cause = op["failure-cause"]
                    text = cause.get("stack-trace") or cause.get("class") or str(cause)
                    raise FlinkError(f"savepoint of Flink job {job_id} failed: {text}")
                return SavepointResult(job_id=job_id, location=str(op["location"]))
            if time.monotonic() > deadline:
                raise FlinkOperationTimeout(
                    f"savepoint {request_id} of job {job_id} not done in {timeout:.0f}s"
                )
            time.sleep(poll)

    # -- jars --------------------------------------------------------------
    def list_jars(self) -> list[dict[str, Any]]:
        return list(self.http.request("GET", "/jars").get("files", []))

    def upload_jar(self, path: Path) -> tuple[str, bool]:
        """Upload ``path`` unless a jar with the same content is already there.

        Returns ``(jar_id, uploaded)``; ``uploaded`` is False when an identical
        jar was reused and zero bytes were sent.
        """
        if not path.is_file():
            raise FileNotFoundError(f"jar file {str(path)!r} does not exist")
        stored_name = f"{jar_checksum(path)}-{path.name}"
        for jar in self.list_jars():
            if jar.get("name") == stored_name:
                return str(jar["id"]), False
        with path.open("rb") as fh:
            raw = self.http.request(
                "POST",
                "/jars/upload",
                files={"jarfile": (stored_name, fh, "application/x-java-archive")},
                timeout=600,
            )
        return Path(str(raw["filename"])).name, True

    def run_jar(
        self,
        jar_id: str,
        *,
        entry_class: str | None = None,
        args: Sequence[str] = (),
        parallelism: int | None = None,
        savepoint_path: str | None = None,
        allow_non_restored_state: bool = False,
        restore_mode: str | None = None,
        flink_configuration: Mapping[str, str] | None = None,
    ) -> str:
        body: dict[str, Any] = {
            "programArgsList": list(args),
            "allowNonRestoredState": allow_non_restored_state,
        }
        if entry_class:
            body["entryClass"] = entry_class
        if parallelism:
            body["parallelism"] = parallelism
        if savepoint_path:
            body["savepointPath"] = savepoint_path
        if restore_mode:
            body["restoreMode"] = restore_mode
        if flink_configuration:
            body["flinkConfiguration"] = dict(flink_configuration)
        return str(self.http.request("POST", f"/jars/{jar_id}/run", json=body, timeout=300)["jobid"])

    def delete_jar(self, jar_id: str) -> None:
        self.http.request("DELETE", f"/jars/{jar_id}")
