"""Rescale a running Flink job by name, and diagnose which parallelism it needs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from airflow_provider_rtp.exceptions import FlinkError, InvalidInputError
from airflow_provider_rtp.flink.diagnosis import Thresholds, diagnose
from airflow_provider_rtp.flink.job_wait import JobWaitCriteria
from airflow_provider_rtp.flink.rescale import plan_rescale, requirements_body
from airflow_provider_rtp.links.flink import persist_job_link
from airflow_provider_rtp.operators._resubmit import DEFINITION_FIELDS, FlinkJobDefinitionOperator
from airflow_provider_rtp.operators.flink_lifecycle import _FlinkJobActionOperator

__all__ = ["FlinkDiagnoseJobOperator", "FlinkRescaleOperator"]


def _parallelism_by_name(vertices: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    return {str(v["name"]): int(v["parallelism"]) for v in vertices}


class FlinkRescaleOperator(FlinkJobDefinitionOperator):
    """Bring the RUNNING job called ``job_name`` to ``parallelism`` (each vertex up to its max parallelism).

    Under the adaptive scheduler (``jobmanager.scheduler: adaptive``) the job's resource
    requirements change in place and the task waits until the vertices run at the new
    parallelism. Under any other scheduler the job is stopped with a savepoint and submitted
    again, from that savepoint, with the new parallelism: that needs the job's definition
    (``jar`` or ``insert_sql``, as for the submit operators). Operators whose parallelism the
    program sets explicitly keep it.

    :param parallelism: the new parallelism.
    :param savepoint_directory: where the savepoint goes (the cluster's default if unset).

    XCom: ``job_id`` (the new one after a resubmission), ``previous_job_id``, ``method``
    (adaptive, savepoint or none), ``before``/``after`` (vertex name -> parallelism) and
    ``restored_from``.
    """

    template_fields: Sequence[str] = (
        "job_name",
        *DEFINITION_FIELDS,
        "savepoint_directory",
        "flink_configuration",
    )
    template_ext: Sequence[str] = (".sql",)
    template_fields_renderers: ClassVar[dict[str, str]] = {"insert_sql": "sql", "setup_sql": "sql"}

    def __init__(self, *, parallelism: int, savepoint_directory: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if parallelism < 1:
            raise InvalidInputError(f"parallelism must be >= 1, got {parallelism}")
        self.parallelism = parallelism
        self.savepoint_directory = savepoint_directory

    def execute(self, context: Any) -> dict[str, Any]:
        self.check_job_name()
        rest = self.hook.rest
        try:
            job = rest.get_running_job(self.job_name)
            persist_job_link(context, self.hook.job_url(job.job_id))
            vertices = rest.job_details(job.job_id)["vertices"]
            scheduler = rest.scheduler(job.job_id)
            plan = plan_rescale(scheduler, vertices, self.parallelism)
            self.log.info(
                "Rescale %r (%s) to %d: %s", self.job_name, job.job_id, self.parallelism, plan.reason
            )
            result: dict[str, Any] = {
                "job_id": job.job_id,
                "previous_job_id": job.job_id,
                "job_name": self.job_name,
                "method": plan.method,
                "before": _parallelism_by_name(vertices),
                "restored_from": None,
            }
            if plan.method == "adaptive":
                current = rest.resource_requirements(job.job_id)
                rest.set_resource_requirements(job.job_id, requirements_body(plan.targets, current))
                self.wait_for(job.job_id, JobWaitCriteria.of(["RUNNING"], parallelism=plan.targets))
                vertices = rest.job_details(job.job_id)["vertices"]
            elif plan.method == "savepoint":
                if not self.has_definition:
                    raise InvalidInputError(
                        f"job {self.job_name!r} runs under the {scheduler} scheduler, which rescales only by "
                        "resubmission: give the task the job's definition (jar= or insert_sql=)"
                    )
                new_id, savepoint = self._stop_and_resubmit(job.job_id)
                persist_job_link(context, self.hook.job_url(new_id))
                vertices = rest.job_details(new_id)["vertices"]
                if plan_rescale(scheduler, vertices, self.parallelism).method != "none":
                    raise FlinkError(
                        f"job {self.job_name!r} was resubmitted as {new_id} from {savepoint}, but its "
                        f"vertices run at {_parallelism_by_name(vertices)}, not {self.parallelism}: "
                        "does the program set the parallelism of its operators?"
                    )
                result.update(job_id=new_id, restored_from=savepoint)
            result["after"] = _parallelism_by_name(vertices)
            self.log.info("Flink job %r: %s -> %s", self.job_name, result["before"], result["after"])
            return result
        finally:
            self.hook.close()

    def _stop_and_resubmit(self, job_id: str) -> tuple[str, str]:
        savepoint = self.hook.stop_with_savepoint(
            job_id,
            target_directory=self.savepoint_directory,
            timeout=self.timeout,
            poll_interval=self.poll_interval,
        )
        try:
            submitted = self.resubmit(savepoint, self.parallelism)
        except Exception as exc:
            raise FlinkError(
                f"job {self.job_name!r} was stopped with savepoint {savepoint}, but submitting it at "
                f"parallelism {self.parallelism} failed (resume it from that savepoint): {exc}"
            ) from exc
        return str(submitted["job_id"]), savepoint


class FlinkDiagnoseJobOperator(_FlinkJobActionOperator):
    """Report per-vertex busy and backpressure ratios of the RUNNING job ``job_name`` and a parallelism.

    The suggestion follows ``airflow_provider_rtp.flink.diagnosis``: busy vertices scale up
    proportionally (capped at their max parallelism), a backpressured vertex points at the busy
    vertex downstream, idle ones scale down. The report is logged and returned (XCom), so a
    downstream ``FlinkRescaleOperator`` can use ``suggested_parallelism``.

    :param timeout: seconds to wait for the metrics of a job that just started.
    """

    def __init__(
        self,
        *,
        busy_high: float = 0.8,
        idle_low: float = 0.2,
        target_busy: float = 0.6,
        backpressured_high: float = 0.5,
        timeout: float = 20.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(timeout=timeout, **kwargs)
        self.thresholds = Thresholds(
            busy_high=busy_high,
            idle_low=idle_low,
            target_busy=target_busy,
            backpressured_high=backpressured_high,
        )

    def act(self, job_id: str) -> dict[str, Any]:
        loads = self.hook.rest.vertex_loads(job_id, metrics_timeout=self.timeout)
        report = diagnose(job_id, self.job_name, loads, self.thresholds)
        for v in report.vertices:
            self.log.info(
                "%s: parallelism %d -> %d: %s", v.name, v.parallelism, v.suggested_parallelism, v.reason
            )
        self.log.info(
            "Parallelism %d -> %d: %s", report.parallelism, report.suggested_parallelism, report.reason
        )
        return report.to_dict()
