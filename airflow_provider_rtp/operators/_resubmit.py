"""What a job is made of (a jar or SQL), so resume and rescale can submit it again.

The submission itself is the hook's (``RealtimePlatformHook.submit_jar`` / ``submit_sql``), the
same code the submit operators run, so uploads, jar cleanup and SQL Gateway session handling
behave exactly as there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_rtp.exceptions import FlinkError, InvalidInputError
from airflow_provider_rtp.flink.job_wait import JobWaitCriteria
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook
from airflow_provider_rtp.links.flink import FlinkJobLink

DEFINITION_FIELDS: tuple[str, ...] = ("jar", "entry_class", "args", "insert_sql", "setup_sql")


class FlinkJobDefinitionOperator(BaseOperator):
    """Base of operators that may submit a job by name again. Give ``jar`` or ``insert_sql``, not both.

    :param job_name: the job's identity.
    :param jar: local path of the jar (with ``entry_class`` and ``args``) for a JAR job.
    :param insert_sql: the INSERT statement(s) of a SQL job, after ``setup_sql`` in one session.
    :param session_properties: SQL session configuration.
    :param flink_configuration: per-job Flink configuration of the new submission.
    :param allow_non_restored_state: let the new job skip state no operator claims.
    :param timeout: seconds to wait for each step (savepoint, stop, RUNNING).
    :param poll_interval: seconds between two looks at a job being waited for.
    """

    operator_extra_links = (FlinkJobLink(),)
    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        job_name: str,
        jar: str | None = None,
        entry_class: str | None = None,
        args: Sequence[str] = (),
        insert_sql: str | Sequence[str] | None = None,
        setup_sql: Sequence[str] = (),
        session_properties: Mapping[str, str] | None = None,
        flink_configuration: Mapping[str, str] | None = None,
        allow_non_restored_state: bool = False,
        timeout: float = 300.0,
        poll_interval: float = 2.0,
        rtp_conn_id: str = RealtimePlatformHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if jar and insert_sql:
            raise InvalidInputError("give either jar (a JAR job) or insert_sql (a SQL job), not both")
        if timeout <= 0:
            raise InvalidInputError(f"timeout must be > 0 seconds, got {timeout}")
        if poll_interval <= 0:
            raise InvalidInputError(f"poll_interval must be > 0 seconds, got {poll_interval}")
        self.job_name = job_name
        self.jar = jar
        self.entry_class = entry_class
        self.args = list(args)
        self.insert_sql = insert_sql
        self.setup_sql = list(setup_sql)
        self.session_properties = dict(session_properties or {})
        self.flink_configuration = dict(flink_configuration or {})
        self.allow_non_restored_state = allow_non_restored_state
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.rtp_conn_id = rtp_conn_id

    @cached_property
    def hook(self) -> RealtimePlatformHook:
        return RealtimePlatformHook(self.rtp_conn_id)

    @property
    def has_definition(self) -> bool:
        return bool(self.jar or self.insert_sql)

    def check_job_name(self) -> None:
        if not self.job_name or not self.job_name.strip():
            raise InvalidInputError("job_name must not be empty: it is the job's identity")

    def resubmit(self, restore_from: str | None, parallelism: int | None = None) -> dict[str, Any]:
        """Submit the job from ``restore_from`` and wait until it is RUNNING; returns job id (and jar id)."""
        if not self.has_definition:
            raise InvalidInputError(
                f"to submit {self.job_name!r} again the task needs its definition: jar= (with "
                "entry_class/args) or insert_sql= (with setup_sql)"
            )
        submitted: dict[str, Any]
        if self.jar:
            submitted = self.hook.submit_jar(
                self.job_name,
                self.jar,
                entry_class=self.entry_class,
                args=self.args,
                parallelism=parallelism,
                savepoint_path=restore_from,
                allow_non_restored_state=self.allow_non_restored_state,
                flink_configuration=self.flink_configuration,
            )
        else:
            submitted = self.hook.submit_sql(
                self.job_name,
                self.insert_sql or (),
                setup_sql=self.setup_sql,
                session_properties=self.session_properties,
                parallelism=parallelism,
                savepoint_path=restore_from,
                allow_non_restored_state=self.allow_non_restored_state,
                flink_configuration=self.flink_configuration,
            )
        job_id = str(submitted["job_id"])
        verdict = self.wait_for(job_id, JobWaitCriteria.of(["RUNNING"]))
        if verdict["job_name"] != self.job_name:
            raise FlinkError(f"job {job_id} runs as {verdict['job_name']!r}, not {self.job_name!r}")
        return submitted

    def wait_for(self, job_id: str, criteria: JobWaitCriteria) -> dict[str, Any]:
        """Wait for the job as the sensor and trigger do (fails at once if it fails); its result."""
        verdict = self.hook.rest.wait_for_job(
            criteria, job_id=job_id, timeout=self.timeout, poll_interval=self.poll_interval
        )
        return dict(verdict.result)
