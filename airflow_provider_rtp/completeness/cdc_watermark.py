"""The CDC watermark of a job without heartbeats, from one reading of its source gauges.

The one model of the metric watermark: the evaluation, ``CdcHook.metric_watermark`` and the
report all take it from :func:`metric_watermark`. The rule (docs/completeness.md, "CDC
watermark from metrics"):

* **Proven.** One :class:`~.observations.LagSample` gives ``w = read_at - max_age - idle - lag``:
  the binlog time of the last change the source emitted, or earlier. Binlog order means every
  change logged before ``w`` was emitted too. ``w`` is *durable* once C has completed a
  checkpoint triggered at or after the emission (``read_at - idle``) *and a later one*: C's
  Kafka transactions commit when a checkpoint's completion is announced, which Flink reports
  before it has happened; C's tasks handle that announcement before acknowledging the next
  checkpoint (``JobObservation.committed_checkpoint_trigger``).
* **Assumed (a quiet database).** On a quiet database ``w`` stays at the last change and alone
  would hold the window forever. While C is RUNNING and completing checkpoints, the watermark
  may advance to ``trigger time of C's committed checkpoint - policy.idle_timeout``: the
  same delivery assumption the contract makes for Kafka-native producers (a change reaches the
  source within ``idle_timeout``), so a stuck binlog reader looks like a quiet database for at
  most that long. The assumption is refused when the gauges contradict it (the last change
  left the source later than ``idle_timeout`` after it was logged), and it is reported, with
  the advice to install heartbeats.
* **Unknown.** No gauges, or a source that has emitted no change since it started (the
  snapshot phase, or a database quiet since the job started): the stage waits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from airflow_provider_rtp.completeness._time import fmt_duration, to_iso
from airflow_provider_rtp.completeness.observations import JobObservation, JobState, LagSample

__all__ = ["MetricWatermark", "metric_watermark"]


@dataclass(frozen=True)
class MetricWatermark:
    """What one lag sample and C's checkpoint say.

    :param proven: every change logged before it has left the source (``None``: unknown).
    :param durable: C completed a checkpoint triggered after the source emitted ``proven``.
    :param assumed: the quiet-database bound, when admissible (``None``: not admissible).
    :param reason: one sentence for the report and the log.
    """

    proven: datetime | None
    durable: bool
    assumed: datetime | None
    reason: str

    @property
    def watermark(self) -> datetime | None:
        """The newest time through which C's output is committed in Kafka, proven or assumed."""
        held = [w for w in (self.proven if self.durable else None, self.assumed) if w is not None]
        return max(held) if held else None

    def proves(self, target: datetime) -> bool:
        return self.durable and self.proven is not None and self.proven >= target

    def assumes(self, target: datetime) -> bool:
        return not self.proves(target) and self.assumed is not None and self.assumed >= target


def metric_watermark(
    metric: LagSample | None, job: JobObservation | None, idle_timeout: timedelta
) -> MetricWatermark:
    """The watermark of CDC job ``job`` from ``metric``, read before ``job``'s checkpoint."""
    if job is not None and metric is not None and metric.job_id != job.job_id:
        return MetricWatermark(
            None, False, None, f"the CDC job restarted after its gauges were read ({metric.job_id})"
        )
    if metric is None:
        state = f" (job {job.state.value})" if job is not None else ""
        return MetricWatermark(None, False, None, f"no source lag gauges{state}")
    proven, lag = metric.watermark, metric.lag
    if proven is None or lag is None:
        return MetricWatermark(None, False, None, "the source has emitted no change since the job started")
    # Only a checkpoint followed by another completed one is known to be committed in Kafka.
    trigger = job.committed_checkpoint_trigger if job is not None else None
    durable = trigger is not None and trigger >= metric.emitted_by
    why = f"last change ≥ {to_iso(proven)}, lag {fmt_duration(lag)}"
    if not durable:
        why += "; not yet in a checkpoint followed by another"
    if job is None or job.state is not JobState.RUNNING or trigger is None:
        return MetricWatermark(proven, durable, None, why)
    if lag > idle_timeout:
        why += f"; lag over the idle timeout {fmt_duration(idle_timeout)}: nothing assumed"
        return MetricWatermark(proven, durable, None, why)
    assumed = trigger - idle_timeout
    if assumed > proven:
        why += (
            f"; quiet {fmt_duration(metric.idle)}: assumed through checkpoint {to_iso(trigger)} "
            f"- idle timeout {fmt_duration(idle_timeout)}"
        )
    return MetricWatermark(proven, durable, assumed, why)
