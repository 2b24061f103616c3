"""The deferrable half of FlinkJobSensor and of the job operators' wait."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_rtp.exceptions import FlinkError, InvalidInputError
from airflow_provider_rtp.flink.job_wait import JobWaitCriteria, Progress, Verdict, evaluate_job
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook

__all__ = ["FlinkJobTrigger", "job_event_result"]


class FlinkJobTrigger(BaseTrigger):
    """Polls a Flink job until :func:`~airflow_provider_rtp.flink.job_wait.evaluate_job` ends the wait.

    Yields one event: ``{"status": "done"|"failed"|"error", "message": ..., "result": {...}}``.
    The REST client is synchronous, so every call runs in a worker thread and
    the triggerer's event loop never blocks.

    :param job_id: the job to watch; or ``job_name`` to find it by name.
    :param target_states: states that end the wait (default RUNNING).
    :param wait_for_checkpoint: also wait for the first completed checkpoint.
    :param poll_interval: seconds between two looks at the job.
    :param restarts_seen: restarts already reported by the task (reported again only when they grow).
    :param failed_checkpoints_seen: failed checkpoints already reported.
    """

    def __init__(
        self,
        *,
        job_id: str | None = None,
        job_name: str | None = None,
        target_states: Sequence[str] = ("RUNNING",),
        wait_for_checkpoint: bool = False,
        poll_interval: float = 30.0,
        rtp_conn_id: str = RealtimePlatformHook.default_conn_name,
        restarts_seen: int = 0,
        failed_checkpoints_seen: int = 0,
    ) -> None:
        super().__init__()
        if bool(job_id) == bool(job_name):
            raise InvalidInputError("FlinkJobTrigger needs exactly one of job_id and job_name")
        self.job_id = job_id
        self.job_name = job_name
        self.target_states = [str(s) for s in target_states]
        self.wait_for_checkpoint = wait_for_checkpoint
        self.poll_interval = poll_interval
        self.rtp_conn_id = rtp_conn_id
        self.restarts_seen = restarts_seen
        self.failed_checkpoints_seen = failed_checkpoints_seen
        # Validated here so a bad argument fails in the task, before it defers.
        self.criteria = JobWaitCriteria.of(self.target_states, wait_for_checkpoint)

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_id": self.job_id,
                "job_name": self.job_name,
                "target_states": self.target_states,
                "wait_for_checkpoint": self.wait_for_checkpoint,
                "poll_interval": self.poll_interval,
                "rtp_conn_id": self.rtp_conn_id,
                "restarts_seen": self.restarts_seen,
                "failed_checkpoints_seen": self.failed_checkpoints_seen,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        conn = await RealtimePlatformHook.aget_connection(self.rtp_conn_id)
        hook = RealtimePlatformHook(self.rtp_conn_id, connection=conn)
        seen = Progress(self.restarts_seen, self.failed_checkpoints_seen)
        try:
            # Building the client reads (and masks) the connection's extra: off the loop thread too.
            rest = await asyncio.to_thread(lambda: hook.rest)
            while True:
                try:
                    obs = await asyncio.to_thread(
                        rest.observe_job, job_id=self.job_id, job_name=self.job_name
                    )
                except Exception as exc:
                    target = self.job_id or repr(self.job_name)
                    yield TriggerEvent(
                        {"status": "error", "message": f"watching Flink job {target}: {exc}", "result": {}}
                    )
                    return
                verdict = evaluate_job(obs, self.criteria, seen)
                for note in verdict.notes:
                    self.log.warning("%s", note)
                seen = verdict.progress
                if verdict.verdict is Verdict.WAITING:
                    self.log.info("%s", verdict.message)
                    await asyncio.sleep(self.poll_interval)
                    continue
                yield TriggerEvent(
                    {
                        "status": str(verdict.verdict),
                        "message": verdict.message,
                        "result": dict(verdict.result),
                    }
                )
                return
        finally:
            await asyncio.to_thread(hook.close)


def job_event_result(event: dict[str, Any] | None) -> dict[str, Any]:
    """What a task returns for the trigger's event; a failed or broken wait raises Flink's message."""
    if not event:
        raise FlinkError("the Flink job trigger ended without an event")
    if event.get("status") != str(Verdict.DONE):
        raise FlinkError(str(event.get("message") or event))
    return dict(event.get("result") or {})
