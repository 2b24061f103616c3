"""Keep Flink jobs alive: savepoint, stop (optionally drained) and cancel, addressed by job name."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import Any

from airflow.sdk import BaseOperator

from airflow_provider_rtp.exceptions import FlinkJobNotFound, InvalidInputError
from airflow_provider_rtp.hooks.platform import RealtimePlatformHook
from airflow_provider_rtp.links.flink import FlinkJobLink, persist_job_link

__all__ = ["FlinkCancelJobOperator", "FlinkSavepointOperator", "FlinkStopJobOperator"]


class _FlinkJobActionOperator(BaseOperator):
    template_fields: Sequence[str] = ("job_name",)
    operator_extra_links = (FlinkJobLink(),)
    ui_color = "#e6f1f2"

    def __init__(
        self,
        *,
        job_name: str,
        timeout: float = 300.0,
        poll_interval: float = 2.0,
        rtp_conn_id: str = RealtimePlatformHook.default_conn_name,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if timeout <= 0:
            raise InvalidInputError(f"timeout must be > 0 seconds, got {timeout}")
        if poll_interval <= 0:
            raise InvalidInputError(f"poll_interval must be > 0 seconds, got {poll_interval}")
        self.job_name = job_name
        self.timeout = timeout
        self.poll_interval = poll_interval
        self.rtp_conn_id = rtp_conn_id

    @cached_property
    def hook(self) -> RealtimePlatformHook:
        return RealtimePlatformHook(self.rtp_conn_id)

    def execute(self, context: Any) -> dict[str, Any]:
        try:
            job = self.hook.rest.get_running_job(self.job_name)
            persist_job_link(context, self.hook.job_url(job.job_id))
            result = self.act(job.job_id)
            self.log.info("Flink job %r (%s): %s", self.job_name, job.job_id, result)
            return {"job_id": job.job_id, "job_name": self.job_name, **result}
        finally:
            self.hook.close()

    def act(self, job_id: str) -> dict[str, Any]:
        raise NotImplementedError


class FlinkSavepointOperator(_FlinkJobActionOperator):
    """Trigger a savepoint of the RUNNING job called ``job_name`` and wait for it; the job keeps running.

    :param target_directory: where to write it; the cluster's default savepoint directory if unset.
    """

    template_fields: Sequence[str] = ("job_name", "target_directory")

    def __init__(self, *, target_directory: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target_directory = target_directory

    def act(self, job_id: str) -> dict[str, Any]:
        rest = self.hook.rest
        trigger = rest.trigger_savepoint(job_id, self.target_directory)
        return {"savepoint": rest.wait_for_savepoint(job_id, trigger, timeout=self.timeout).location}


class FlinkStopJobOperator(FlinkSavepointOperator):
    """Stop the job with a savepoint; ``drain`` first flushes every window and timer (a final stop).

    A drained stop makes an Iceberg sink's last commit carry checkpoint id Long.MAX_VALUE.
    """

    def __init__(self, *, drain: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.drain = drain

    def act(self, job_id: str) -> dict[str, Any]:
        location = self.hook.stop_with_savepoint(
            job_id,
            target_directory=self.target_directory,
            drain=self.drain,
            timeout=self.timeout,
            poll_interval=self.poll_interval,
        )
        return {"savepoint": location, "state": "FINISHED", "drained": self.drain}


class FlinkCancelJobOperator(_FlinkJobActionOperator):
    """Cancel the job without a savepoint (its retained checkpoints stay on disk).

    :param missing_ok: succeed when no job of that name is running, instead of failing.
    """

    def __init__(self, *, missing_ok: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.missing_ok = missing_ok

    def execute(self, context: Any) -> dict[str, Any]:
        try:
            return super().execute(context)
        except FlinkJobNotFound:
            if not self.missing_ok:
                raise
            self.log.info("No RUNNING job named %r: nothing to cancel", self.job_name)
            return {"job_id": None, "job_name": self.job_name, "state": None}

    def act(self, job_id: str) -> dict[str, Any]:
        state = self.hook.cancel_job(job_id, timeout=self.timeout, poll_interval=self.poll_interval)
        return {"state": state.value}
