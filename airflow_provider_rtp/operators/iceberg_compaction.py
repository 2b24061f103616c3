"""Compact an Iceberg table on Flink, beside its live Flink writer."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperator, conf

from airflow_provider_rtp.exceptions import FlinkError, InvalidInputError
from airflow_provider_rtp.flink.job_wait import JobWaitCriteria
from airflow_provider_rtp.hooks.iceberg import IcebergHook
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook
from airflow_provider_rtp.iceberg.compaction import (
    COMPACTION_ENTRY_CLASS,
    FLINK_JOB_KEY,
    CompactionRequest,
    compaction_job_name,
    find_compaction,
    is_commit_conflict,
    partition_selection,
)
from airflow_provider_rtp.links.flink import FlinkJobLink, persist_job_link
from airflow_provider_rtp.triggers.flink import FlinkJobTrigger, job_event_result

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

__all__ = ["IcebergCompactOperator"]

_STATE_KEY = "compaction_job_id"
_WAIT_KEY = "compaction_wait"


class IcebergCompactOperator(BaseOperator):
    """Rewrite the chosen partitions of ``table`` into few large files, with their deletes applied.

    The work runs on Flink as the provider's maintenance job (``jar``), not on the Airflow
    worker. One compaction per table at a time: a live one of the same table is waited for
    and its result returned. A commit that loses a race with another writer's commit is run
    again on a new starting snapshot, at most ``max_conflict_retries`` times; its files are
    deleted by the job, so nothing is left behind.

    :param table: ``namespace.table`` (templated).
    :param partitions: ``"all"``, one partition path or a list of them, as Iceberg writes them
        (``change_hour=2026-12-05-10``; ``""`` for an unpartitioned table) (templated).
    :param target_file_size_bytes: size of the files written (default: the table's
        ``write.target-file-size-bytes``).
    :param jar: the maintenance job jar on this worker (default ``[rtp] maintenance_jar``).
    :param deferrable: wait for the job in the triggerer.
    :return: the commit (``snapshot_id``, ``sequence_number``, replaced/added file counts,
        ``partitions``) plus ``job_id`` and ``attempts``; ``snapshot_id`` is None when the chosen
        partitions held no files.
    """

    template_fields: Sequence[str] = ("table", "partitions", "jar")
    operator_extra_links = (FlinkJobLink(),)
    ui_color = "#e8f0e4"

    def __init__(
        self,
        *,
        table: str,
        partitions: str | Sequence[str] = "all",
        target_file_size_bytes: int | None = None,
        parallelism: int = 1,
        jar: str | None = None,
        max_conflict_retries: int = 3,
        timeout: float = 3600.0,
        poll_interval: float = 2.0,
        iceberg_conn_id: str = IcebergHook.default_conn_name,
        rtp_conn_id: str = RealtimePlatformHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if max_conflict_retries < 0:
            raise InvalidInputError(f"max_conflict_retries must be >= 0, got {max_conflict_retries}")
        if timeout <= 0 or poll_interval <= 0:
            raise InvalidInputError("timeout and poll_interval must be > 0 seconds")
        self.table = table
        self.partitions = partitions
        self.target_file_size_bytes = target_file_size_bytes
        self.parallelism = parallelism
        self.jar = jar
        self.max_conflict_retries = max_conflict_retries
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.iceberg_conn_id = iceberg_conn_id
        self.rtp_conn_id = rtp_conn_id
        self.deferrable = deferrable

    @cached_property
    def platform(self) -> RealtimePlatformHook:
        return RealtimePlatformHook(self.rtp_conn_id)

    @cached_property
    def iceberg(self) -> IcebergHook:
        return IcebergHook(self.iceberg_conn_id)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: the table, read and rewritten (see hooks/lineage.py)."""
        from airflow_provider_rtp.hooks.lineage import table_lineage

        return table_lineage(self.table, self.iceberg_conn_id)

    def _request(self) -> CompactionRequest:
        return CompactionRequest(
            table=self.table,
            partitions=partition_selection(self.partitions),
            target_file_size_bytes=self.target_file_size_bytes,
            parallelism=self.parallelism,
        )

    def _jar(self) -> str:
        jar = self.jar or conf.get("rtp", "maintenance_jar", fallback=None)
        if not jar:
            raise InvalidInputError("no maintenance job jar: pass jar= or set [rtp] maintenance_jar")
        return jar

    @property
    def _job_name(self) -> str:
        return compaction_job_name(self.iceberg.flink_catalog_name(), self.table)

    def execute(self, context: Any) -> dict[str, Any]:
        request = self._request()
        self.iceberg.load_table(self.table)  # an unknown table fails here, before Flink is asked
        try:
            job_id = self._live_job(context)
            attempt = 1
            if job_id is None:
                job_id = self._submit(context, request)
            return self._wait(context, job_id, attempt)
        finally:
            self.platform.close()

    def _live_job(self, context: Any) -> str | None:
        """A compaction of this table already under way (an earlier try's, or anyone's)."""
        store = context.get("task_state_store")
        stored = store.get(_STATE_KEY) if store is not None else None
        rest = self.platform.rest
        if stored:
            try:
                if not rest.job_state(str(stored)).is_terminal:
                    self.log.info("Reattaching to compaction job %s submitted by an earlier try", stored)
                    return str(stored)
            except FlinkError:
                pass
        live = rest.find_running_job(self._job_name)
        if live is not None:
            self.log.info(
                "A compaction of %s is already %s as %s: waiting for it", self.table, live.state, live.job_id
            )
            return live.job_id
        return None

    def _submit(self, context: Any, request: CompactionRequest) -> str:
        run_id = uuid.uuid4().hex
        args = request.job_arguments(
            run_id, self.iceberg.flink_catalog_name(), self.iceberg.flink_catalog_properties()
        )
        partitions = (
            "every partition" if request.partitions is None else ", ".join(request.partitions) or "''"
        )
        self.log.info("Submitting %r (run %s): %s", self._job_name, run_id, partitions)
        job_id = str(
            self.platform.submit_jar(
                self._job_name, self._jar(), entry_class=COMPACTION_ENTRY_CLASS, args=args
            )["job_id"]
        )
        store = context.get("task_state_store")
        if store is not None:
            store.set(_STATE_KEY, job_id)
        persist_job_link(context, self.platform.job_url(job_id))
        return job_id

    def _wait(self, context: Any, job_id: str, attempt: int) -> dict[str, Any]:
        while True:
            if self.deferrable:
                # Kept in XCom, not in defer kwargs: `dag.test` resumes a task with the event alone.
                context["ti"].xcom_push(key=_WAIT_KEY, value={"job_id": job_id, "attempt": attempt})
                self.defer(
                    trigger=FlinkJobTrigger(
                        job_id=job_id,
                        target_states=("FINISHED",),
                        poll_interval=self.poll_interval,
                        rtp_conn_id=self.rtp_conn_id,
                    ),
                    method_name="execute_complete",
                    timeout=timedelta(seconds=self.timeout),
                )
            try:
                self.platform.rest.wait_for_job(
                    JobWaitCriteria.of(["FINISHED"]),
                    job_id=job_id,
                    timeout=self.timeout,
                    poll_interval=self.poll_interval,
                )
            except FlinkError as exc:
                job_id = self._retry_or_raise(context, exc, attempt)
                attempt += 1
                continue
            return self._result(job_id, attempt)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resumed from the triggerer: the job finished, or failed (maybe a conflict to run again)."""
        waited = context["ti"].xcom_pull(task_ids=self.task_id, key=_WAIT_KEY) or {}
        job_id, attempt = str(waited.get("job_id", "")), int(waited.get("attempt", 1))
        try:
            try:
                job_event_result(event)
            except FlinkError as exc:
                new_job = self._retry_or_raise(context, exc, attempt)
                return self._wait(context, new_job, attempt + 1)
            return self._result(job_id, attempt)
        finally:
            self.platform.close()

    def _retry_or_raise(self, context: Any, exc: FlinkError, attempt: int) -> str:
        if not is_commit_conflict(str(exc)) or attempt > self.max_conflict_retries:
            raise exc
        self.log.warning(
            "Compaction of %s lost a commit race (attempt %d of %d); running it again on a new "
            "starting snapshot: %s",
            self.table,
            attempt,
            self.max_conflict_retries + 1,
            str(exc).splitlines()[0][:300],
        )
        return self._submit(context, self._request())

    def _result(self, job_id: str, attempt: int) -> dict[str, Any]:
        table = self.iceberg.load_table(self.table)
        # Newest first: the commit is near the head.
        snapshots = sorted(table.metadata.snapshots, key=lambda s: -s.timestamp_ms)
        found = find_compaction(snapshots, job_id, key=FLINK_JOB_KEY)
        result: dict[str, Any] = {"table": self.table, "job_id": job_id, "attempts": attempt}
        if found is None:
            self.log.info(
                "Compaction job %s finished without a commit: the chosen partitions held no files", job_id
            )
            result.update(snapshot_id=None, partitions=[], replaced_data_files=0, replaced_delete_files=0)
            return result
        result.update(found.to_dict())
        self.log.info(
            "Compacted %s in snapshot %s: %d data files and %d delete files replaced by %d data files "
            "(%d rows) in %s",
            self.table,
            found.snapshot_id,
            found.replaced_data_files,
            found.replaced_delete_files,
            found.added_data_files,
            found.rewritten_records,
            ", ".join(found.partitions) or "the table",
        )
        return result
