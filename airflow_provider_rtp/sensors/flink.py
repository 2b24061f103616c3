"""Wait for a Flink job to reach a state, failing fast when it fails."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any

from airflow.sdk import BaseSensorOperator, PokeReturnValue, conf

from airflow_provider_rtp.exceptions import FlinkError, InvalidInputError
from airflow_provider_rtp.flink.job_wait import JobVerdict, JobWaitCriteria, Progress, Verdict, evaluate_job
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook
from airflow_provider_rtp.links.flink import FlinkJobLink, persist_job_link
from airflow_provider_rtp.triggers.flink import FlinkJobTrigger, job_event_result

__all__ = ["FlinkJobSensor"]


class FlinkJobSensor(BaseSensorOperator):
    """Wait until a Flink job is in one of ``target_states`` (default RUNNING).

    Fails at once when the job ends in a state that is not a target (FAILED,
    CANCELED, FINISHED, ...), with the root cause from Flink's exception history;
    an unknown job name or id fails at once too. Restarts and failed checkpoints
    are reported in the log as they happen. Returns ``{job_id, job_name, state,
    checkpoint_id, restarts, failed_checkpoints}``.

    :param job_name: the job's name (its identity); the live job of that name, else the newest one.
    :param job_id: or the job's id.
    :param target_states: states that end the wait.
    :param wait_for_checkpoint: once RUNNING, also wait for the first completed checkpoint.
    :param deferrable: wait in the triggerer; default from ``[operators] default_deferrable``.
    """

    template_fields: Sequence[str] = ("job_name", "job_id", "target_states")
    operator_extra_links = (FlinkJobLink(),)
    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        job_name: str | None = None,
        job_id: str | None = None,
        target_states: Sequence[str] = ("RUNNING",),
        wait_for_checkpoint: bool = False,
        rtp_conn_id: str = RealtimePlatformHook.default_conn_name,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if bool(job_name) == bool(job_id):
            raise InvalidInputError("FlinkJobSensor needs exactly one of job_name and job_id")
        self.job_name = job_name
        self.job_id = job_id
        self.target_states = [target_states] if isinstance(target_states, str) else list(target_states)
        self.wait_for_checkpoint = wait_for_checkpoint
        self.rtp_conn_id = rtp_conn_id
        self.deferrable = deferrable
        self._seen = Progress()
        self._linked = False

    @cached_property
    def hook(self) -> RealtimePlatformHook:
        return RealtimePlatformHook(self.rtp_conn_id)

    @property
    def criteria(self) -> JobWaitCriteria:
        return JobWaitCriteria.of(self.target_states, self.wait_for_checkpoint)

    def _check(self, context: Any) -> JobVerdict:
        obs = self.hook.rest.observe_job(job_id=self.job_id or None, job_name=self.job_name or None)
        if not self._linked:
            persist_job_link(context, self.hook.job_url(obs.job_id))
            self._linked = True
        verdict = evaluate_job(obs, self.criteria, self._seen)
        for note in verdict.notes:
            self.log.warning("%s", note)
        self._seen = verdict.progress
        if verdict.verdict is Verdict.FAILED:
            raise FlinkError(verdict.message)
        self.log.info("%s", verdict.message)
        return verdict

    def execute(self, context: Any) -> Any:
        try:
            if not self.deferrable:
                return super().execute(context)
            # One look first: a job already there (or already failed, or unknown) needs no triggerer.
            verdict = self._check(context)
            if verdict.verdict is Verdict.DONE:
                return dict(verdict.result)
        finally:
            self.hook.close()
        self.defer(
            trigger=FlinkJobTrigger(
                job_id=self.job_id or None,
                job_name=self.job_name or None,
                target_states=self.target_states,
                wait_for_checkpoint=self.wait_for_checkpoint,
                poll_interval=self.poke_interval,
                rtp_conn_id=self.rtp_conn_id,
                restarts_seen=self._seen.restarts,
                failed_checkpoints_seen=self._seen.failed_checkpoints,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )

    def poke(self, context: Any) -> PokeReturnValue:
        verdict = self._check(context)
        done = verdict.verdict is Verdict.DONE
        return PokeReturnValue(done, xcom_value=dict(verdict.result) if done else None)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> dict[str, Any]:
        result = job_event_result(event)
        self.log.info("%s", (event or {}).get("message"))
        return result
