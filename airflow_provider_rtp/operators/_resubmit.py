"""What a job is made of (a jar or SQL), so resume and rescale can submit it again.

The submission itself is the submit operators' own code: a JAR definition is handed to a
``FlinkJarJobOperator``, a SQL definition to a ``FlinkSqlJobOperator``, both sharing this task's
hook, so uploads, jar cleanup and SQL Gateway session handling behave exactly as there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_rtp.exceptions import FlinkError
from airflow_provider_rtp.flink import JobState
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook
from airflow_provider_rtp.links.flink import FlinkJobLink
from airflow_provider_rtp.operators.flink import FlinkJarJobOperator, FlinkSqlJobOperator

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
        rtp_conn_id: str = RealtimePlatformHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if jar and insert_sql:
            raise ValueError("give either jar (a JAR job) or insert_sql (a SQL job), not both")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
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
        self.rtp_conn_id = rtp_conn_id

    @cached_property
    def hook(self) -> RealtimePlatformHook:
        return RealtimePlatformHook(self.rtp_conn_id)

    @property
    def has_definition(self) -> bool:
        return bool(self.jar or self.insert_sql)

    def check_job_name(self) -> None:
        if not self.job_name or not self.job_name.strip():
            raise ValueError("job_name must not be empty: it is the job's identity")

    def resubmit(self, restore_from: str | None, parallelism: int | None = None) -> dict[str, Any]:
        """Submit the job from ``restore_from`` and wait until it is RUNNING; returns job id (and jar id)."""
        if not self.has_definition:
            raise ValueError(
                f"to submit {self.job_name!r} again the task needs its definition: jar= (with "
                "entry_class/args) or insert_sql= (with setup_sql)"
            )
        common: dict[str, Any] = {
            "task_id": f"{self.task_id}__submit",
            "job_name": self.job_name,
            "allow_non_restored_state": self.allow_non_restored_state,
            "rtp_conn_id": self.rtp_conn_id,
            "wait_for": "none",
        }
        submitter: FlinkJarJobOperator | FlinkSqlJobOperator
        if self.jar:
            submitter = FlinkJarJobOperator(
                jar=self.jar,
                entry_class=self.entry_class,
                args=self.args,
                parallelism=parallelism,
                flink_configuration=self.flink_configuration,
                **common,
            )
        else:
            config = dict(self.flink_configuration)
            if parallelism:
                config["parallelism.default"] = str(parallelism)
            submitter = FlinkSqlJobOperator(
                insert_sql=self.insert_sql or (),
                setup_sql=self.setup_sql,
                session_properties=self.session_properties,
                flink_configuration=config,
                **common,
            )
        submitter.__dict__["hook"] = self.hook  # one set of connections per task
        submitted = submitter._submit(restore_from)
        job_id = str(submitted["job_id"])
        self.hook.rest.wait_for_state(job_id, [JobState.RUNNING], timeout=self.timeout)
        name = self.hook.rest.job_details(job_id).get("name")
        if name != self.job_name:
            raise FlinkError(f"job {job_id} runs as {name!r}, not {self.job_name!r}")
        return submitted
