"""Submitting a 50 MB jar: bytes sent on resubmission, and submit-to-RUNNING latency, hook vs `flink run -d`.

Run inside `./dev shell` with the stack up: ``python bench/flink_submit.py [--runs 5]``.

- bytes: every byte the hook sends to the JobManager goes through a counting TCP relay; the
  first submission uploads the jar, a resubmission of the unchanged jar finds it by checksum.
- latency: from the start of a submission until the JobManager reports the job RUNNING, through
  the hook (jar already on the cluster) and through Flink's CLI (`flink run -d`, which starts a
  JVM, builds the job graph and ships the jar with every run), alternating, on the same cluster.
Every job started here is cancelled; the uploaded jar is deleted.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings, JobState  # noqa: E402
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook  # noqa: E402
from bench._results import write_results  # noqa: E402
from tests.integration.test_stack_flink import smoke_jar  # noqa: E402
from tests.stack import flink_home, flink_rest_url, host, port, stack_env  # noqa: E402

PAD_BYTES = 50 * 2**20
T = TypeVar("T")
JOB_ARGS = ["--rate", "10"]


def padded_jar(cache: Path) -> Path:
    """The smoke job's jar plus 50 MB of random (incompressible) bytes, built once and reused."""
    src = smoke_jar()
    out = cache / f"{src.stem}-padded-50mb.jar"
    if out.exists() and out.stat().st_mtime >= src.stat().st_mtime:
        return out
    cache.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item, zin.read(item.filename))
        zout.writestr(zipfile.ZipInfo("rtp-bench/padding.bin"), os.urandom(PAD_BYTES), zipfile.ZIP_STORED)
    tmp.replace(out)
    return out


class CountingRelay:
    """A loopback TCP relay to the JobManager that counts the bytes clients send through it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.sent = 0
        self._lock = threading.Lock()
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, False), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                if count:
                    with self._lock:
                        self.sent += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def measure(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> tuple[T, int]:
        before = self.sent
        value = fn(*args, **kwargs)
        time.sleep(0.2)  # let the relay threads finish forwarding
        return value, self.sent - before

    def close(self) -> None:
        self._server.close()


@contextmanager
def hook_via(url: str) -> Iterator[RealtimePlatformHook]:
    conn_id = f"rtp_bench_{uuid.uuid4().hex[:6]}"
    os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps({"conn_type": "rtp", "host": url})
    hook = RealtimePlatformHook(conn_id)
    try:
        yield hook
    finally:
        hook.close()
        del os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"]


def wait_running(rest: FlinkRestClient, job_id: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while (state := rest.job_state(job_id)) is not JobState.RUNNING:
        if state.is_terminal or time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} is {state}, not RUNNING: {rest.root_cause(job_id)}")
        time.sleep(0.05)


def cancel(rest: FlinkRestClient, job_id: str) -> None:
    rest.cancel(job_id)
    rest.wait_for_state(job_id, [JobState.CANCELED], timeout=60, poll=0.2)


def submit_with_hook(hook: RealtimePlatformHook, jar: Path, name: str) -> tuple[str, bool]:
    """The operator's path: upload unless the cluster has this jar already, run it."""
    jar_id, uploaded = hook.rest.upload_jar(jar)
    job_id = hook.rest.run_jar(jar_id, args=["--name", name, *JOB_ARGS], parallelism=1)
    return job_id, uploaded


def cli_conf_dir(tmp: Path) -> Path:
    """The JobManager's own configuration (rest.address/port of the stack), copied so the CLI logs here."""
    src = Path(stack_env()["RTP_STATE"]) / "conf" / "flink"
    dst = tmp / "flink-conf"
    shutil.copytree(src, dst)
    return dst


def submit_with_cli(jar: Path, name: str, conf_dir: Path, log_dir: Path) -> str:
    out = subprocess.run(
        [str(flink_home() / "bin" / "flink"), "run", "-d", "-p", "1", str(jar), "--name", name, *JOB_ARGS],
        env={**os.environ, "FLINK_CONF_DIR": str(conf_dir), "FLINK_LOG_DIR": str(log_dir)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    found = re.search(r"JobID ([0-9a-f]{32})", out.stdout + out.stderr)
    if out.returncode != 0 or not found:
        raise RuntimeError(
            f"flink run failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
        )
    return found.group(1)


def flink_version(rest: FlinkRestClient) -> str:
    return str(rest.overview().get("flink-version"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="submissions per client (median reported)")
    args = parser.parse_args()

    cache = Path(stack_env()["RTP_CACHE"]) / "bench"
    jar = padded_jar(cache)
    rest = FlinkRestClient(HttpSettings(flink_rest_url()))
    relay = CountingRelay((host(), port("FLINK_REST_PORT")))
    tag = uuid.uuid4().hex[:6]
    started: list[str] = []
    try:
        with hook_via(f"http://127.0.0.1:{relay.port}") as hook, tempfile.TemporaryDirectory() as tmp:
            # 1. Bytes: the first submission uploads the jar, a resubmission sends none of it.
            sent: dict[str, int] = {}
            uploaded: dict[str, bool] = {}
            for label in ("first", "again"):
                (jar_id, uploaded[label]), sent[f"{label}_upload"] = relay.measure(hook.rest.upload_jar, jar)
                name_args = ["--name", f"bench-submit-{tag}-{label}", *JOB_ARGS]
                job_id, sent[f"{label}_run"] = relay.measure(
                    hook.rest.run_jar, jar_id, args=name_args, parallelism=1
                )
                started.append(job_id)
                wait_running(rest, job_id)
                cancel(rest, job_id)

            # 2. Latency, alternating hook and CLI so both see the same cluster load.
            conf_dir = cli_conf_dir(Path(tmp))
            hook_s: list[float] = []
            cli_s: list[float] = []
            for i in range(args.runs):
                t0 = time.monotonic()
                job_id, _ = submit_with_hook(hook, jar, f"bench-submit-{tag}-hook-{i}")
                started.append(job_id)
                wait_running(rest, job_id)
                hook_s.append(time.monotonic() - t0)
                cancel(rest, job_id)

                t0 = time.monotonic()
                job_id = submit_with_cli(jar, f"bench-submit-{tag}-cli-{i}", conf_dir, Path(tmp))
                started.append(job_id)
                wait_running(rest, job_id)
                cli_s.append(time.monotonic() - t0)
                cancel(rest, job_id)
                print(f"run {i + 1}/{args.runs}: hook {hook_s[-1]:.2f} s, flink run -d {cli_s[-1]:.2f} s")
    finally:
        jar_ids = {j["id"] for j in rest.list_jars() if str(j.get("name", "")).endswith(f"-{jar.name}")}
        for job_id in started:
            if not rest.job_state(job_id).is_terminal:
                cancel(rest, job_id)
        for jar_id in jar_ids:
            rest.delete_jar(jar_id)
        relay.close()

    hook_median = statistics.median(hook_s)
    cli_median = statistics.median(cli_s)
    figures = {
        "jar_bytes": jar.stat().st_size,
        "first_submit_uploaded_jar": uploaded["first"],
        "first_submit_jar_step_bytes_sent": sent["first_upload"],
        "first_submit_run_request_bytes_sent": sent["first_run"],
        "resubmit_uploaded_jar": uploaded["again"],
        "resubmit_jar_step_bytes_sent": sent["again_upload"],
        "resubmit_run_request_bytes_sent": sent["again_run"],
        "runs": args.runs,
        "hook_submit_to_running_s": [round(s, 3) for s in hook_s],
        "cli_submit_to_running_s": [round(s, 3) for s in cli_s],
        "hook_submit_to_running_median_s": round(hook_median, 3),
        "cli_submit_to_running_median_s": round(cli_median, 3),
        "cli_over_hook": round(cli_median / hook_median, 2),
    }
    versions = {"flink": flink_version(rest), "java": java_version()}
    rest.close()
    path = write_results(__file__, figures, versions)

    mib = 2**20
    print(f"jar: {jar.stat().st_size / mib:.1f} MiB ({jar})")
    print(
        f"bytes sent by the jar step, first submission: {sent['first_upload']:,} "
        f"(uploaded: {uploaded['first']})"
    )
    print(
        f"bytes sent by the jar step, resubmission of the unchanged jar: {sent['again_upload']:,} "
        f"(uploaded: {uploaded['again']}; the checksum lookup GET /jars only)"
    )
    print(
        f"submit-to-RUNNING, median of {args.runs}: hook {hook_median:.2f} s, "
        f"flink run -d {cli_median:.2f} s ({cli_median / hook_median:.1f}x)"
    )
    print(f"written to {path.relative_to(REPO)}")


def java_version() -> str:
    out = subprocess.run(["java", "-version"], capture_output=True, text=True)
    line = (out.stderr or out.stdout).splitlines()[0] if (out.stderr or out.stdout) else ""
    return line.strip()


if __name__ == "__main__":
    main()
