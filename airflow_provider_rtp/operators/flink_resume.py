"""Resume a stopped Flink job by name from the newest savepoint or retained checkpoint recorded for it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from airflow_provider_rtp.exceptions import FlinkError, FlinkJobNotFound, InvalidInputError
from airflow_provider_rtp.links.flink import persist_job_link
from airflow_provider_rtp.operators._resubmit import DEFINITION_FIELDS, FlinkJobDefinitionOperator

__all__ = ["FlinkResumeJobOperator"]


class FlinkResumeJobOperator(FlinkJobDefinitionOperator):
    """Submit the job called ``job_name`` again from where it stopped.

    Where it stopped: ``restore_path`` when given, else the newest savepoint or retained
    checkpoint among the ended jobs of that name the JobManager still remembers. The
    JobManager forgets ended jobs after ``jobstore.expiration-time`` (one hour by default)
    and when it restarts; then ``restore_path`` is the way (e.g. the XCom ``savepoint`` of
    the task that stopped the job). A job stopped with ``FlinkStopJobOperator`` resumes from
    its final savepoint; a cancelled or failed one from its last checkpoint if its retention
    keeps checkpoints (``execution.checkpointing.externalized-checkpoint-retention``).

    Define the job as for the submit operators: ``jar`` (+ ``entry_class``, ``args``) or
    ``insert_sql`` (+ ``setup_sql``, ``session_properties``).

    :param restore_path: resume from this savepoint/checkpoint instead of looking one up.
    :param parallelism: default parallelism of the resumed job; unset, the cluster's default (a
        savepoint holds state, not the parallelism the job ran at).
    :param if_running: when a job of that name runs already: ``skip`` (return it) or ``fail``.

    XCom: ``job_id``, ``restored_from``, ``restored_kind`` (savepoint, checkpoint or given),
    ``previous_job_id`` and, for a JAR job, ``jar_id``.
    """

    template_fields: Sequence[str] = (
        "job_name",
        *DEFINITION_FIELDS,
        "restore_path",
        "flink_configuration",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"insert_sql": "sql", "setup_sql": "sql"}

    def __init__(
        self,
        *,
        restore_path: str | None = None,
        parallelism: int | None = None,
        if_running: Literal["skip", "fail"] = "skip",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_running not in ("skip", "fail"):
            raise InvalidInputError(f"if_running must be skip or fail, got {if_running!r}")
        if parallelism is not None and parallelism < 1:
            raise InvalidInputError(f"parallelism must be >= 1, got {parallelism}")
        if not self.has_definition:
            raise InvalidInputError("FlinkResumeJobOperator needs the job's definition: jar= or insert_sql=")
        self.restore_path = restore_path
        self.parallelism = parallelism
        self.if_running = if_running

    def execute(self, context: Any) -> dict[str, Any]:
        self.check_job_name()
        rest = self.hook.rest
        try:
            running = rest.find_running_job(self.job_name)
            if running is not None:
                if self.if_running == "fail":
                    raise FlinkError(
                        f"a job named {self.job_name!r} is already {running.state} as {running.job_id}; "
                        "nothing to resume"
                    )
                self.log.info("Job %r already runs as %s: nothing to resume", self.job_name, running.job_id)
                persist_job_link(context, self.hook.job_url(running.job_id))
                return {
                    "job_id": running.job_id,
                    "job_name": self.job_name,
                    "action": "skipped",
                    "restored_from": None,
                }
            if self.restore_path:
                path, kind, previous = self.restore_path, "given", None
            else:
                point = rest.newest_restore_point(self.job_name)
                if point is None:
                    ended = rest.terminated_jobs(self.job_name)
                    raise FlinkJobNotFound(
                        f"nothing to resume {self.job_name!r} from: the JobManager remembers "
                        + (
                            f"{len(ended)} ended job(s) of that name, none with a savepoint or a "
                            "retained checkpoint"
                            if ended
                            else "no ended job of that name (it forgets them after "
                            "jobstore.expiration-time and on restart)"
                        )
                        + "; pass restore_path= to resume from a known savepoint"
                    )
                path, kind, previous = point.path, point.kind, point.job_id
            self.log.info("Resuming %r from %s %s (of job %s)", self.job_name, kind, path, previous)
            submitted = self.resubmit(path, self.parallelism)
            job_id = str(submitted["job_id"])
            persist_job_link(context, self.hook.job_url(job_id))
            result = {
                "job_id": job_id,
                "job_name": self.job_name,
                "action": "resumed",
                "restored_from": path,
                "restored_kind": kind,
                "previous_job_id": previous,
            }
            result.update({k: v for k, v in submitted.items() if k != "job_id"})
            self.log.info("Flink job %r resumed as %s", self.job_name, job_id)
            return result
        finally:
            self.hook.close()
