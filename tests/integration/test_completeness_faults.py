"""The completeness fault matrix: no success while a fault holds, success after recovery.

Each test injects one fault into a private copy of the reference pipeline
(tests/integration/private_pipeline.py) and watches one window through both of
the sensor's paths at once: ``run_check`` as the sensor calls it at every poke,
and the deferrable sensor's ``IngestionCompleteTrigger`` run loop (in its own
event loop, as a triggerer runs it). Neither may answer while the fault holds;
both must answer "complete" after recovery. Faults of the shared stack
(TaskManager, Kafka broker) are marked ``disruptive`` and run last.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from airflow.sdk import Connection
from confluent_kafka import TopicPartition
from confluent_kafka.admin import AdminClient, NewPartitions

from airflow_provider_rtp.completeness import Policy, Verdict, Window
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck, run_check
from airflow_provider_rtp.hooks.completeness import CheckClients
from tests.integration.private_pipeline import SQL_FILE, PrivatePipeline, SharedPipeline
from tests.stack import REPO, flink_rest_url, host, kafka_bootstrap, port, sql_gateway_url, stack_env

pytestmark = pytest.mark.usefixtures("stack")

POLL = 2.0


def connections() -> dict[str, Connection]:
    env = stack_env()
    return {
        "rtp_default": Connection(
            conn_id="rtp_default",
            conn_type="rtp",
            host=flink_rest_url(),
            extra=json.dumps({"sql_gateway_url": sql_gateway_url()}),
        ),
        "kafka_default": Connection(
            conn_id="kafka_default",
            conn_type="kafka",
            extra=json.dumps({"bootstrap.servers": kafka_bootstrap()}),
        ),
        "iceberg_default": Connection(
            conn_id="iceberg_default",
            conn_type="iceberg",
            host=host(),
            port=port("POSTGRES_PORT"),
            login=env["POSTGRES_USER"],
            password=env["POSTGRES_PASSWORD"],
            schema=env["POSTGRES_CATALOG_DB"],
            extra=json.dumps({"catalog_type": "sql", "catalog_name": "lake"}),
        ),
    }


class DeferredRun:
    """The deferrable sensor's trigger on one window, its run loop in a thread of its own."""

    def __init__(self, check: CompletenessCheck, window: Window) -> None:
        from airflow_provider_rtp.triggers.ingestion import IngestionCompleteTrigger

        self.trigger = IngestionCompleteTrigger(
            check=check.to_dict(), window=window.to_dict(), poke_interval=POLL
        )
        self.event: dict | None = None
        self.error: BaseException | None = None
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task | None = None
        self._thread = threading.Thread(target=self._main, name="deferred-run", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        async def first_event() -> None:
            events = self.trigger.run()
            try:
                async for event in events:
                    self.event = event.payload
                    return
            finally:
                await events.aclose()  # the trigger's own clean-up (its shared clients) runs here

        self._task = self._loop.create_task(first_event())
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:
            self.error = exc
        finally:
            self._loop.run_until_complete(self._loop.shutdown_asyncgens())
            self._loop.close()

    def check_running(self) -> None:
        assert self.error is None, f"the trigger raised {self.error!r}"

    def close(self) -> None:
        if self._task is not None:
            with contextlib.suppress(RuntimeError):  # its loop already ended: the trigger fired or failed
                self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(60)
        assert not self._thread.is_alive(), "the trigger did not stop within 60 s of being cancelled"


class Watch:
    """Evaluates one window again and again, as a sensor's pokes do, while the
    deferrable sensor's trigger watches the same window."""

    def __init__(self, pp: PrivatePipeline, window: Window, *, with_cdc: bool = True, **policy) -> None:
        policy.setdefault("idle_timeout", timedelta(seconds=10))
        self.check = CompletenessCheck(pp.pipeline(with_cdc=with_cdc), Policy(**policy))
        self.window = window
        self.clients = CheckClients(self.check, connections())
        self.results: list[CheckResult] = []
        self.deferred = DeferredRun(self.check, window)
        self.done: CheckResult | None = None

    def evaluate(self) -> CheckResult:
        result = run_check(self.check, self.window, self.clients)
        self.results.append(result)
        return result

    def never_completes(self, seconds: float) -> CheckResult:
        """Evaluate for ``seconds``: none may be complete, and the trigger may not fire."""
        deadline = time.monotonic() + seconds
        while True:
            result = self.evaluate()
            assert not result.complete, f"complete while the fault holds:\n{result.report}"
            self.deferred.check_running()
            fired = self.deferred.event
            assert fired is None, f"the trigger fired while the fault holds: {fired}"
            if time.monotonic() > deadline:
                return result
            time.sleep(POLL)

    def completes_within(self, seconds: float) -> CheckResult:
        """Both paths say complete within ``seconds``: the pokes' result is returned, the
        trigger's event is in ``self.event``."""
        deadline = time.monotonic() + seconds
        while True:
            if self.done is None:
                result = self.evaluate()
                if result.complete:
                    self.done = result
                else:
                    assert result.verdict is Verdict.WAITING, result.report
            self.deferred.check_running()
            if self.done is not None and self.event is not None:
                return self.done
            assert time.monotonic() < deadline, (
                f"not complete {seconds}s after recovery (poke path: {self.done is not None},"
                f" trigger: {self.event is not None}):\n{self.results[-1].report}"
            )
            time.sleep(POLL)

    @property
    def event(self) -> dict | None:
        """The trigger's event; only a "complete" one is expected."""
        event = self.deferred.event
        assert event is None or event.get("status") == "complete", f"the trigger ended with {event}"
        return event

    def committed_by(self) -> set[str]:
        """The ingestion job id of the covering commit, as each path saw it."""
        assert self.done is not None and self.done.record is not None and self.event is not None
        return {self.done.record.commit.job_id, self.event["result"]["record"]["job_id"]}

    def close(self) -> None:
        try:
            self.deferred.close()
        finally:
            self.clients.close()


@pytest.fixture(scope="module")
def pp() -> Iterator[PrivatePipeline]:
    pipeline = PrivatePipeline()
    try:
        yield pipeline.up()
    finally:
        pipeline.down()


def window_with_changes(
    pp: PrivatePipeline, seconds: float = 6, during: Callable[[], None] | None = None
) -> Window:
    """A window that starts now: changes are made inside it, ``during`` runs mid-window."""
    start = datetime.now(tz=UTC)
    pp.change(3)
    if during:
        during()
    pp.change(2)
    end = max(datetime.now(tz=UTC), start + timedelta(seconds=seconds)) + timedelta(milliseconds=1)
    time.sleep(max(0.0, (end - datetime.now(tz=UTC)).total_seconds()))
    return Window(start, end)


def newest_checkpoint(pp: PrivatePipeline, job_id: str) -> str:
    with pp.rest() as rest:
        path = rest.checkpoints(job_id).latest_completed_path
    assert path, f"job {job_id} has no retained checkpoint"
    return path


def _alter_empty_commits(pp: PrivatePipeline, n: int) -> None:
    from tests.integration.test_reference_pipeline import catalog

    table = catalog().load_table(pp.table)
    with table.transaction() as tx:
        tx.set_properties({"flink.max-continuous-empty-commits": str(n)})


def _stack(*args: str) -> None:
    subprocess.run([str(REPO / "stack" / "rtp-stack"), *args], check=True, capture_output=True, timeout=600)


def _pid(name: str) -> int:
    return int(Path(stack_env()["RTP_STATE"], "run", f"{name}.pid").read_text().strip())


# Each class is one unit of parallel test runs (tests/conftest.py): the test process
# running it sets up its own private pipeline.
class TestIngestionJobFaults:
    """The ingestion job stops, restarts or cannot checkpoint."""

    def test_ingestion_job_cancelled_mid_window(self, pp: PrivatePipeline) -> None:
        old = pp.ingest_job_id
        window = window_with_changes(pp, during=lambda: pp.cancel(old))
        watch = Watch(pp, window)
        try:
            waiting = watch.never_completes(15)
            assert "CANCELED" in waiting.report
            pp.start_ingest(savepoint=newest_checkpoint(pp, old))
            watch.completes_within(90)
            assert watch.committed_by() == {pp.ingest_job_id} != {old}
        finally:
            watch.close()

    def test_ingestion_restarted_from_a_savepoint_under_a_new_job_id(self, pp: PrivatePipeline) -> None:
        old = pp.ingest_job_id
        saved: list[str] = []
        window = window_with_changes(pp, during=lambda: saved.append(pp.stop_with_savepoint(old)))
        watch = Watch(pp, window)
        try:
            watch.never_completes(10)
            pp.start_ingest(savepoint=saved[0])
            watch.completes_within(90)
            # The old job's final commit (stop with savepoint) does not cover changes made after it.
            assert watch.committed_by() == {pp.ingest_job_id} != {old}
        finally:
            watch.close()

    def test_checkpoints_failing(self, pp: PrivatePipeline) -> None:
        job = pp.ingest_job_id
        job_dir = pp.checkpoint_root(SQL_FILE) / job
        aside = job_dir.with_name(job + ".aside")

        def break_checkpoints() -> None:
            # A file where the job's checkpoint directory was: no checkpoint can be written.
            job_dir.rename(aside)
            job_dir.write_text("checkpoints are broken on purpose\n")

        window = window_with_changes(pp, during=break_checkpoints)
        watch = Watch(pp, window)
        try:
            watch.never_completes(15)
        finally:
            job_dir.unlink()
            aside.rename(job_dir)
        try:
            watch.completes_within(120)
        finally:
            watch.close()

    def test_empty_checkpoints_skip_commits_until_the_limit(self, pp: PrivatePipeline) -> None:
        """With flink.max-continuous-empty-commits=10 an idle table commits every 10th checkpoint."""
        saved = pp.stop_with_savepoint(pp.ingest_job_id)
        pp.empty_commits = 10
        try:
            _alter_empty_commits(pp, 10)
            pp.start_ingest(savepoint=saved)
            start = datetime.now(tz=UTC)
            time.sleep(2)
            watch = Watch(pp, Window(start, datetime.now(tz=UTC)))
            try:
                watch.completes_within(120)
            finally:
                watch.close()
            blocked = [r for r in watch.results if r.decision and r.decision.blocking]
            assert any(r.decision.blocking.value == "iceberg" for r in blocked), "never waited for a commit"
            assert watch.committed_by() == {pp.ingest_job_id}
        finally:
            pp.empty_commits = 1
            _alter_empty_commits(pp, 1)
            pp.start_ingest(savepoint=pp.stop_with_savepoint(pp.ingest_job_id))


class TestSourceAndKafkaFaults:
    """The CDC side goes quiet or stops; Kafka holds back, retains or wraps records in transactions."""

    def test_cdc_job_stopped(self, pp: PrivatePipeline) -> None:
        old = pp.cdc_job_id
        saved = pp.stop_with_savepoint(old)
        try:
            window = window_with_changes(pp)  # changes made while nothing reads the binlog
            watch = Watch(pp, window)
            waiting = watch.never_completes(12)
            assert waiting.decision is not None and waiting.decision.blocking.value == "cdc", waiting.report
        finally:
            pp.start_cdc(savepoint=saved)
        try:
            watch.completes_within(90)
        finally:
            watch.close()

    def test_quiet_source_completes_on_heartbeats_and_waits_without_them(self, pp: PrivatePipeline) -> None:
        start = datetime.now(tz=UTC)
        time.sleep(3)
        quiet = Window(start, datetime.now(tz=UTC))  # no change at all, heartbeats only
        watch = Watch(pp, quiet)
        try:
            watch.completes_within(60)
        finally:
            watch.close()
        pp.heartbeats(False)
        try:
            start = datetime.now(tz=UTC)
            time.sleep(3)
            silent = Watch(pp, Window(start, datetime.now(tz=UTC)))
            waiting = silent.never_completes(15)
            assert waiting.decision is not None and waiting.decision.blocking.value == "cdc", waiting.report
        finally:
            pp.heartbeats(True)
        try:
            silent.completes_within(60)
        finally:
            silent.close()

    def test_one_partition_stalled(self, pp: PrivatePipeline) -> None:
        """A partition the ingestion job does not read (added after it started) holds window records."""
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
        admin.create_partitions([NewPartitions(pp.topic, 8)])[pp.topic].result(timeout=30)
        # The CDC job writes to all 8 partitions once restarted; the ingestion job still reads 4.
        pp.start_cdc(savepoint=pp.stop_with_savepoint(pp.cdc_job_id))
        start = datetime.now(tz=UTC)
        pp.change(40)  # keys spread over all 8 partitions
        time.sleep(2)
        watch = Watch(pp, Window(start, datetime.now(tz=UTC)))
        try:
            waiting = watch.never_completes(15)
            assert waiting.decision is not None and waiting.decision.blocking.value == "kafka", waiting.report
            pp.start_ingest(savepoint=pp.stop_with_savepoint(pp.ingest_job_id))  # restarted: reads all 8
            watch.completes_within(90)
        finally:
            watch.close()

    def test_transactional_topic_fully_consumed_is_complete(self, pp: PrivatePipeline) -> None:
        window = window_with_changes(pp)
        watch = Watch(pp, window)
        try:
            done = watch.completes_within(60)
        finally:
            watch.close()
        kafka = next(s for s in done.decision.stages if s.stage.value == "kafka")
        assert kafka.status.value == "ok"
        # Transaction markers sit past the committed offsets: they are not lag.
        lag = watch.clients.kafka.group_lag(pp.group, [pp.topic])
        assert any(p.end > (p.committed or 0) for p in lag.partitions if p.committed is not None)

    def test_clock_skew_margin_holds_back_the_answer(self, pp: PrivatePipeline) -> None:
        margin = timedelta(seconds=8)
        window = window_with_changes(pp, seconds=2)
        watch = Watch(pp, window, clock_skew_margin=margin)
        try:
            done = watch.completes_within(90)
        finally:
            watch.close()
        assert done.decision.decided_at >= window.end + margin
        early = [r for r in watch.results if r.decision and r.decision.decided_at < window.end + margin]
        assert early and all(not r.complete for r in early)

    def test_backfill_of_a_window_whose_offsets_retention_deleted(self, pp: PrivatePipeline) -> None:
        first = window_with_changes(pp)
        watch = Watch(pp, first)
        try:
            watch.completes_within(60)
        finally:
            watch.close()
        # What retention does to an old window, done at once: every record the group has consumed
        # is deleted (DeleteRecords moves the log start up to the committed offset). Records past it,
        # and with them the CDC job's transactional producer state, stay.
        lag = watch.clients.kafka.group_lag(pp.group, [pp.topic])
        cut = [TopicPartition(p.topic, p.partition, p.committed) for p in lag.partitions if p.committed]
        assert cut, f"group {pp.group} committed nothing"
        admin = AdminClient({"bootstrap.servers": kafka_bootstrap()})
        for fut in admin.delete_records(cut).values():
            fut.result(timeout=30)
        after = {p.key: p for p in watch.clients.kafka.group_lag(pp.group, [pp.topic]).partitions}
        assert all(after[(tp.topic, tp.partition)].log_start == tp.offset for tp in cut)
        backfill = Watch(pp, first)
        try:
            backfill.completes_within(60)
        finally:
            backfill.close()


@pytest.mark.disruptive
class TestSharedStackFaults:
    """A TaskManager or the Kafka broker of the shared stack goes down: run last, alone."""

    @pytest.fixture
    def pp(self) -> SharedPipeline:
        """Alone on the stack, the reference pipeline serves: no private one to start (~25 s)."""
        return SharedPipeline()

    def test_taskmanager_killed(self, pp: PrivatePipeline) -> None:
        window = window_with_changes(pp, during=lambda: os.kill(_pid("flink-taskmanager"), signal.SIGKILL))
        watch = Watch(pp, window)
        try:
            watch.never_completes(15)
            _stack("up")  # starts the TaskManager again; jobs restore from their checkpoints
            watch.completes_within(180)
        finally:
            watch.close()

    def test_kafka_broker_restarted(self, pp: PrivatePipeline) -> None:
        def stop_broker() -> None:
            pid = _pid("kafka")
            os.kill(pid, signal.SIGTERM)
            for _ in range(120):
                if not Path(f"/proc/{pid}").exists():
                    return
                time.sleep(0.5)

        window = window_with_changes(pp, during=stop_broker)
        watch = Watch(pp, window)
        try:
            waiting = watch.never_completes(10)
            assert waiting.verdict is Verdict.WAITING
            _stack("up")
            watch.completes_within(180)
        finally:
            watch.close()
