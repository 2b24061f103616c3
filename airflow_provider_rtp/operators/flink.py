"""Submit Flink JAR and SQL jobs, idempotently by job name."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from airflow.sdk import BaseOperator, conf

from airflow_provider_rtp.exceptions import FlinkError, InvalidInputError
from airflow_provider_rtp.flink.job_wait import JobWaitCriteria
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook
from airflow_provider_rtp.links.flink import FlinkJobLink, persist_job_link
from airflow_provider_rtp.triggers.flink import FlinkJobTrigger, job_event_result

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

__all__ = ["FlinkJarJobOperator", "FlinkSqlJobOperator"]

IfRunning = Literal["skip", "fail", "upgrade"]
WaitFor = Literal["none", "running", "checkpoint"]
_STATE_KEY = "flink_job_id"
_SUBMISSION_KEY = "flink_submission"


class _FlinkSubmitOperator(BaseOperator):
    """Shared flow: reattach or act on a live job of the same name, submit, wait, report."""

    operator_extra_links = (FlinkJobLink(),)
    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        job_name: str,
        if_running: IfRunning = "skip",
        wait_for: WaitFor = "running",
        wait_timeout: float = 300.0,
        poll_interval: float = 2.0,
        savepoint_path: str | None = None,
        savepoint_directory: str | None = None,
        allow_non_restored_state: bool = False,
        flink_configuration: Mapping[str, str] | None = None,
        rtp_conn_id: str = RealtimePlatformHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_running not in ("skip", "fail", "upgrade"):
            raise InvalidInputError(f"if_running must be skip, fail or upgrade, got {if_running!r}")
        if wait_for not in ("none", "running", "checkpoint"):
            raise InvalidInputError(f"wait_for must be none, running or checkpoint, got {wait_for!r}")
        if poll_interval <= 0:
            raise InvalidInputError(f"poll_interval must be > 0 seconds, got {poll_interval}")
        self.job_name = job_name
        self.if_running = if_running
        self.wait_for = wait_for
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.savepoint_path = savepoint_path
        self.savepoint_directory = savepoint_directory
        self.allow_non_restored_state = allow_non_restored_state
        self.flink_configuration = dict(flink_configuration or {})
        self.rtp_conn_id = rtp_conn_id
        self.deferrable = deferrable

    @cached_property
    def hook(self) -> RealtimePlatformHook:
        return RealtimePlatformHook(self.rtp_conn_id)

    def _submit(self, savepoint_path: str | None) -> dict[str, Any]:
        raise NotImplementedError

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: a job declared as a pipeline's ingestion job (``[rtp] pipelines_file``)
        reads its topics and writes its table; other jobs name no datasets."""
        from airflow_provider_rtp.hooks.lineage import declared_pipeline, operator_lineage, pipeline_lineage

        pipeline = declared_pipeline(self.job_name)
        return operator_lineage(*pipeline_lineage(pipeline)) if pipeline else operator_lineage([], [])

    def execute(self, context: Any) -> dict[str, Any]:
        if not self.job_name or not self.job_name.strip():
            raise InvalidInputError("job_name must not be empty: it is the job's identity")
        rest = self.hook.rest
        try:
            store = context.get("task_state_store")
            stored = store.get(_STATE_KEY) if store is not None else None
            if stored:
                try:
                    state = rest.job_state(str(stored))
                except FlinkError:
                    state = None
                if state is not None and not state.is_terminal:
                    self.log.info("Reattaching to job %s (%s) submitted by an earlier try", stored, state)
                    return self._finish(context, str(stored), action="reattached", restored_from=None)

            restored_from = self.savepoint_path
            existing = rest.find_running_job(self.job_name)
            if existing is not None:
                if self.if_running == "skip":
                    self.log.info(
                        "Job %r is already %s as %s: nothing to submit",
                        self.job_name,
                        existing.state,
                        existing.job_id,
                    )
                    return self._finish(
                        context, existing.job_id, action="skipped", restored_from=None, wait=False
                    )
                if self.if_running == "fail":
                    raise FlinkError(
                        f"a job named {self.job_name!r} is already {existing.state} as "
                        f"{existing.job_id} and if_running='fail'"
                    )
                self.log.info("Upgrading job %r: stop %s with a savepoint", self.job_name, existing.job_id)
                restored_from = self.hook.stop_with_savepoint(
                    existing.job_id,
                    target_directory=self.savepoint_directory,
                    timeout=self.wait_timeout,
                    poll_interval=self.poll_interval,
                )

            submitted = self._submit(restored_from)
            job_id = submitted["job_id"]
            if store is not None:
                store.set(_STATE_KEY, job_id)
            return self._finish(
                context,
                job_id,
                action="upgraded" if existing else "submitted",
                restored_from=restored_from,
                extra=submitted,
            )
        finally:
            self.hook.close()

    def _finish(
        self,
        context: Any,
        job_id: str,
        *,
        action: str,
        restored_from: str | None,
        extra: Mapping[str, Any] | None = None,
        wait: bool = True,
    ) -> dict[str, Any]:
        persist_job_link(context, self.hook.job_url(job_id))
        if wait and self.wait_for != "none":
            if self.deferrable:
                # Kept in XCom, not in defer kwargs: `dag.test` resumes a task with the event alone.
                context["ti"].xcom_push(
                    key=_SUBMISSION_KEY,
                    value={"action": action, "restored_from": restored_from, "extra": dict(extra or {})},
                )
                self.defer(
                    trigger=FlinkJobTrigger(
                        job_id=job_id,
                        wait_for_checkpoint=self.wait_for == "checkpoint",
                        poll_interval=self.poll_interval,
                        rtp_conn_id=self.rtp_conn_id,
                    ),
                    method_name="execute_complete",
                    timeout=timedelta(seconds=self.wait_timeout),
                )
            # The trigger's wait, driven here: a job that fails fails the task at the next look.
            self.hook.rest.wait_for_job(
                JobWaitCriteria.of(["RUNNING"], wait_for_checkpoint=self.wait_for == "checkpoint"),
                job_id=job_id,
                timeout=self.wait_timeout,
                poll_interval=self.poll_interval,
            )
        return self._result(job_id, action=action, restored_from=restored_from, extra=extra)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Resumed from the triggerer: the job is RUNNING (and checkpointed, if asked)."""
        job_id = job_event_result(event)["job_id"]
        submission = context["ti"].xcom_pull(task_ids=self.task_id, key=_SUBMISSION_KEY) or {}
        try:
            return self._result(
                job_id,
                action=submission.get("action", "submitted"),
                restored_from=submission.get("restored_from"),
                extra=submission.get("extra"),
            )
        finally:
            self.hook.close()

    def _result(
        self, job_id: str, *, action: str, restored_from: str | None, extra: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        details = self.hook.rest.job_details(job_id)
        if details.get("name") != self.job_name:
            raise FlinkError(
                f"job {job_id} runs as {details.get('name')!r}, not {self.job_name!r}: the "
                "program must not override pipeline.name (call execute() without a name)"
            )
        result: dict[str, Any] = {
            "job_id": job_id,
            "job_name": self.job_name,
            "action": action,
            "restored_from": restored_from,
        }
        result.update({k: v for k, v in (extra or {}).items() if k != "job_id"})
        self.log.info("Flink job %r: %s (%s)", self.job_name, job_id, action)
        return result


class FlinkJarJobOperator(_FlinkSubmitOperator):
    """Run a JAR on a Flink session cluster, once per job name.

    The jar is uploaded only if the cluster has no jar with the same content
    (checksum). A jar this task uploaded is deleted after submission unless
    ``keep_jar``; a reused one is left to the submitter that uploaded it (which
    may still be about to run it). If that submitter deletes it before this
    task's run, the task uploads its own copy and runs that.

    :param job_name: the job's identity; set as ``pipeline.name``.
    :param jar: local path of the jar file.
    :param entry_class: main class, if the jar's manifest names none.
    :param args: program arguments.
    :param parallelism: default parallelism of the job.
    :param if_running: ``skip`` (return the live job), ``fail``, or ``upgrade`` (stop with savepoint and
        submit this version from it).
    :param wait_for: ``none``, ``running`` or ``checkpoint`` (the first completed checkpoint).
    :param deferrable: do that waiting in the triggerer; default from ``[operators] default_deferrable``.
        Either way a job that fails while waited for fails the task at the next look, with Flink's
        root cause.
    :param poll_interval: seconds between two looks at the job while waiting.
    :param savepoint_path: start from this savepoint (ignored on upgrade, which uses its own).
    :param flink_configuration: per-job Flink configuration.
    """

    template_fields: Sequence[str] = (
        "job_name",
        "jar",
        "entry_class",
        "args",
        "savepoint_path",
        "flink_configuration",
    )

    def __init__(
        self,
        *,
        jar: str,
        entry_class: str | None = None,
        args: Sequence[str] = (),
        parallelism: int | None = None,
        restore_mode: str | None = None,
        keep_jar: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if parallelism is not None and parallelism < 1:
            raise InvalidInputError(f"parallelism must be >= 1, got {parallelism}")
        self.jar = jar
        self.entry_class = entry_class
        self.args = list(args)
        self.parallelism = parallelism
        self.restore_mode = restore_mode
        self.keep_jar = keep_jar

    def _submit(self, savepoint_path: str | None) -> dict[str, Any]:
        return self.hook.submit_jar(
            self.job_name,
            self.jar,
            entry_class=self.entry_class,
            args=self.args,
            parallelism=self.parallelism,
            savepoint_path=savepoint_path,
            allow_non_restored_state=self.allow_non_restored_state,
            restore_mode=self.restore_mode,
            flink_configuration=self.flink_configuration,
            keep_jar=self.keep_jar,
        )


class FlinkSqlJobOperator(_FlinkSubmitOperator):
    """Run Flink SQL through the SQL Gateway, once per job name.

    ``setup_sql`` (catalogs, tables, SET statements) runs first in a fresh
    session; ``insert_sql`` becomes the job — several INSERTs run as one
    statement set. The session is always closed.

    :param job_name: the job's identity; set as ``pipeline.name`` for the job statement only.
    :param insert_sql: one INSERT statement, or several for a statement set.
    :param setup_sql: statements run before, in the same session.
    :param session_properties: session configuration (e.g. checkpoint interval).
    """

    template_fields: Sequence[str] = (
        "job_name",
        "insert_sql",
        "setup_sql",
        "savepoint_path",
        "flink_configuration",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"insert_sql": "sql", "setup_sql": "sql"}

    def __init__(
        self,
        *,
        insert_sql: str | Sequence[str],
        setup_sql: Sequence[str] = (),
        session_properties: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.insert_sql = insert_sql
        self.setup_sql = list(setup_sql)
        self.session_properties = dict(session_properties or {})

    def _submit(self, savepoint_path: str | None) -> dict[str, Any]:
        return self.hook.submit_sql(
            self.job_name,
            self.insert_sql,
            setup_sql=self.setup_sql,
            session_properties=self.session_properties,
            savepoint_path=savepoint_path,
            allow_non_restored_state=self.allow_non_restored_state,
            flink_configuration=self.flink_configuration,
        )
