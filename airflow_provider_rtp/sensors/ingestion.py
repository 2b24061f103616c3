"""``IngestionCompleteSensor``: may the batch job for this window start?

It succeeds once every change made before ``end + allowed_lateness`` is committed in
the lake table (see docs/completeness.md), pushes ``{snapshot_id, window,
watermarks, decided_at}`` to XCom and emits an asset event for the table's hour
partition. Poke, reschedule and deferrable modes call the same evaluator,
:func:`~airflow_provider_rtp.evaluation.run_check`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseSensorOperator, conf
from airflow.sdk.bases.sensor import PokeReturnValue

from airflow_provider_rtp.assets import DecisionStore, partition_key, table_asset
from airflow_provider_rtp.completeness import (
    DEFAULT_CLOCK_SKEW_MARGIN,
    DEFAULT_FUTURE_WINDOW_LIMIT,
    DEFAULT_IDLE_TIMEOUT,
    CompletenessError,
    DeadlineStatus,
    Pipeline,
    Policy,
    Verdict,
    Window,
    deadline_status,
    parse_instant,
)
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck, run_check
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.hooks.completeness import CheckClients, resolve_pipeline
from airflow_provider_rtp.iceberg.tags import tag_name, tag_snapshot

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage
    from airflow.sdk import Context

__all__ = ["DeadlineCallback", "IngestionCompleteSensor", "resolve_pipeline"]

#: Called with the task's context plus ``rtp_deadline``: the window, the deadline, how late, the report.
DeadlineCallback = Callable[[Any], Any]


def _as_timedelta(value: timedelta | float | int, name: str) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    raise InvalidInputError(f"{name} must be a timedelta or seconds, got {value!r}")


class IngestionCompleteSensor(BaseSensorOperator):
    """Wait until the window's changes are committed in the lake table, never earlier.

    :param table: the Iceberg table, ``namespace.table`` (for a ``sink: clickhouse`` pipeline, the
        name it is declared under; see docs/completeness.md for that weaker guarantee).
    :param pipeline: what feeds it; or ``topics``/``group``/``ingestion_job`` (+ ``cdc_job``,
        ``heartbeat_topic``); or a pipelines YAML (``pipelines_file`` or ``[rtp] pipelines_file``).
    :param window_start: the window (ISO string or aware datetime); default: the run's data interval.
    :param window_end: see ``window_start``.
    :param allowed_lateness: records stamped before ``end + allowed_lateness`` belong to the window.
    :param idle_timeout: without a CDC watermark, how long after the target an idle partition counts
        as complete.
    :param clock_skew_margin: added to the target, for hosts whose clocks run behind.
    :param on_job_down: ``wait`` (default) or ``fail`` when the ingestion or CDC job is down.
    :param future_window_limit: a window ending later than now plus this is refused as a mistake.
    :param catalog_name: names the table's asset (``<catalog>.<namespace>.<table>``).
    :param deferrable: wait in the triggerer; default ``[operators] default_deferrable``.
    :param tag_pattern: tag the covering snapshot on success, named by this pattern formatted with
        the window's ``start`` and ``end`` (e.g. ``complete-{start:%Y-%m-%dT%H}``); ``None``: no tag.
        Idempotent; a tag of that name on another snapshot fails the task (see iceberg/tags.py).
    :param tag_max_age: the tag's ``max-ref-age``: snapshot expiry removes it once its snapshot is
        older; ``None`` keeps it until removed.
    :param clickhouse_conn_id: for a ``sink: clickhouse`` pipeline, where its table is looked up.
    :param deadline: a window not complete by its end plus this is overdue: the waiting report says
        ``deadline <time> missed by <duration>`` (before: ``deadline in <duration>``) and the
        ``on_deadline_missed`` callbacks are called, once per window and table. The sensor keeps
        waiting (``timeout`` ends the wait). ``None``: no deadline.
    :param on_deadline_missed: a callable or a list of them (e.g. Airflow notifiers), each called with
        the task's context plus ``rtp_deadline``: ``{window, deadline, checked_at, missed,
        missed_by_seconds, report}``. In deferrable mode they run on the worker: the trigger hands
        the miss back and the sensor defers again.
    """

    template_fields: Sequence[str] = (
        "table",
        "window_start",
        "window_end",
        "pipelines_file",
        "topics",
        "group",
        "ingestion_job",
        "cdc_job",
        "heartbeat_topic",
        "tag_pattern",
    )
    ui_color = "#c8e6c9"

    def __init__(
        self,
        *,
        table: str,
        pipeline: Pipeline | None = None,
        pipelines_file: str | None = None,
        topics: Sequence[str] | str | None = None,
        group: str | None = None,
        ingestion_job: str | None = None,
        cdc_job: str | None = None,
        heartbeat_topic: str | None = None,
        window_start: str | datetime | None = None,
        window_end: str | datetime | None = None,
        allowed_lateness: timedelta | float = timedelta(0),
        idle_timeout: timedelta | float = DEFAULT_IDLE_TIMEOUT,
        clock_skew_margin: timedelta | float = DEFAULT_CLOCK_SKEW_MARGIN,
        on_job_down: str = "wait",
        future_window_limit: timedelta | float = DEFAULT_FUTURE_WINDOW_LIMIT,
        rtp_conn_id: str = "rtp_default",
        kafka_conn_id: str = "kafka_default",
        iceberg_conn_id: str = "iceberg_default",
        clickhouse_conn_id: str = "clickhouse_default",
        catalog_name: str = "lake",
        deferrable: bool | None = None,
        tag_pattern: str | None = None,
        tag_max_age: timedelta | float | None = None,
        deadline: timedelta | float | None = None,
        on_deadline_missed: DeadlineCallback | Sequence[DeadlineCallback] | None = None,
        **kwargs: Any,
    ) -> None:
        self.asset = table_asset(table, catalog_name) if "{{" not in table else None
        if self.asset is not None and not kwargs.get("outlets"):
            kwargs["outlets"] = [self.asset]
        super().__init__(**kwargs)
        self.table = table
        self.pipeline = pipeline
        self.pipelines_file = pipelines_file
        self.topics = topics
        self.group = group
        self.ingestion_job = ingestion_job
        self.cdc_job = cdc_job
        self.heartbeat_topic = heartbeat_topic
        self.window_start = window_start
        self.window_end = window_end
        # Bad policy values fail when the DAG is parsed, not at the first poke.
        self.policy = Policy(
            allowed_lateness=_as_timedelta(allowed_lateness, "allowed_lateness"),
            idle_timeout=_as_timedelta(idle_timeout, "idle_timeout"),
            clock_skew_margin=_as_timedelta(clock_skew_margin, "clock_skew_margin"),
            on_job_down=on_job_down,  # type: ignore[arg-type]  # validated by Policy
            future_window_limit=_as_timedelta(future_window_limit, "future_window_limit"),
            deadline=None if deadline is None else _as_timedelta(deadline, "deadline"),
        )
        self.on_deadline_missed = _callbacks(on_deadline_missed)
        self.rtp_conn_id = rtp_conn_id
        self.kafka_conn_id = kafka_conn_id
        self.iceberg_conn_id = iceberg_conn_id
        self.clickhouse_conn_id = clickhouse_conn_id
        self.catalog_name = catalog_name
        if deferrable is None:
            deferrable = conf.getboolean("operators", "default_deferrable", fallback=False)
        self.deferrable = deferrable
        self.tag_pattern = tag_pattern
        self.tag_max_age = None if tag_max_age is None else _as_timedelta(tag_max_age, "tag_max_age")
        if tag_pattern is not None and "{{" not in tag_pattern:
            sample = datetime(2026, 1, 1, tzinfo=UTC)
            tag_name(tag_pattern, sample, sample + timedelta(hours=1))  # a bad pattern fails at parse time
        self._clients: CheckClients | None = None

    # -- what is asked --------------------------------------------------
    def _check(self) -> CompletenessCheck:
        pipeline = resolve_pipeline(
            self.table,
            pipeline=self.pipeline,
            pipelines_file=self.pipelines_file,
            topics=self.topics,
            group=self.group,
            ingestion_job=self.ingestion_job,
            cdc_job=self.cdc_job,
            heartbeat_topic=self.heartbeat_topic,
        )
        if pipeline.sink == "clickhouse" and self.tag_pattern is not None:
            raise InvalidInputError(
                f"table {self.table!r}: tag_pattern tags the covering Iceberg snapshot, and a pipeline "
                f"with sink clickhouse ({pipeline.clickhouse_table}) has none; drop tag_pattern"
            )
        return CompletenessCheck(
            pipeline,
            self.policy,
            self.rtp_conn_id,
            self.kafka_conn_id,
            self.iceberg_conn_id,
            self.clickhouse_conn_id,
        )

    def _window(self, context: Context) -> Window:
        start = self.window_start or context.get("data_interval_start")
        end = self.window_end or context.get("data_interval_end")
        if start is None or end is None:
            raise InvalidInputError(
                "no window: this run has no data interval (e.g. a manual or asset-triggered run); "
                "pass window_start and window_end"
            )
        if start == end:
            raise InvalidInputError(
                f"this run's data interval is empty ({start}): schedule the DAG with a data-interval "
                "timetable (CronDataIntervalTimetable, DeltaDataIntervalTimetable) or pass window_start/end"
            )
        return Window(parse_instant(start, "window start"), parse_instant(end, "window end"))

    def _store(self) -> DecisionStore:
        return DecisionStore(table_asset(self.table, self.catalog_name).name)

    # -- the three modes ------------------------------------------------
    def execute(self, context: Context) -> Any:
        try:
            if not self.deferrable:
                return super().execute(context)
            check, window = self._check(), self._window(context)
            # One evaluation here answers decided or already complete windows without deferring.
            result = self._evaluate(check, window)
            if result.complete:
                return self._succeed(context, result)
            alerted = self._watch_deadline(context, window, result.report)
        finally:
            self._close()
        self._defer(context, check, window, deadline_alerted=alerted)

    def _defer(
        self, context: Context, check: CompletenessCheck, window: Window, *, deadline_alerted: bool
    ) -> None:
        from airflow_provider_rtp.triggers.ingestion import IngestionCompleteTrigger

        self.defer(
            trigger=IngestionCompleteTrigger(
                check=check.to_dict(),
                window=window.to_dict(),
                poke_interval=float(self.poke_interval),
                deadline_alerted=deadline_alerted,
            ),
            method_name="execute_complete",
            timeout=self._time_left(context),
        )

    def _time_left(self, context: Context) -> timedelta | None:
        """The sensor's timeout less the time it has waited already (a second deferral continues it)."""
        if not self.timeout:
            return None
        started = getattr(context.get("ti"), "start_date", None)
        waited = datetime.now(tz=UTC) - started if isinstance(started, datetime) else timedelta(0)
        return max(timedelta(seconds=self.timeout) - waited, timedelta(seconds=1))

    def poke(self, context: Context) -> PokeReturnValue:
        window = self._window(context)
        result = self._evaluate(self._check(), window)
        if not result.complete:
            self._watch_deadline(context, window, result.report)
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=self._succeed(context, result))

    def execute_complete(self, context: Context, event: dict[str, Any]) -> Any:
        status = event.get("status")
        if status == "deadline_missed":  # the trigger hands the miss to the worker, then waits on
            window = Window.from_dict(event["deadline"]["window"])
            self._alert(context, DeadlineStatus.from_dict(event["deadline"]), event.get("report") or "")
            return self._defer(context, self._check(), window, deadline_alerted=True)
        if status != "complete":
            raise CompletenessError(event.get("message") or f"completeness trigger ended with {event!r}")
        result = event["result"]
        if result.get("stored"):
            self._store().put(Window.from_dict(result["window"]), result["stored"])
        record = result["record"]
        window = Window.from_dict(result["window"])
        xcom = {**record, "snapshot_id": result["snapshot_id"], "decided_snapshot_id": record["snapshot_id"]}
        self._announce(context, window, xcom)
        return xcom

    # -- shared ---------------------------------------------------------
    def _evaluate(self, check: CompletenessCheck, window: Window) -> CheckResult:
        if self._clients is None:
            self._clients = CheckClients(check)
        persisted = self._store().get(window)
        result = run_check(check, window, self._clients, persisted=persisted)
        self.log.info("%s", result.report)
        if result.verdict is Verdict.FAILED:
            raise CompletenessError(f"window {window.label()} cannot complete:\n{result.report}")
        return result

    def _watch_deadline(self, context: Context, window: Window, report: str) -> bool:
        """Alert once the window's deadline has passed; ``True`` when it has (alerted now or before)."""
        status = deadline_status(window, self.policy, datetime.now(tz=UTC))
        if status is None or not status.missed:
            return False
        self._alert(context, status, report)
        return True

    def _alert(self, context: Context, status: DeadlineStatus, report: str) -> None:
        """Call the ``on_deadline_missed`` callbacks unless this window's miss was alerted already
        (by an earlier poke, a rescheduled or retried try, or another run of the window)."""
        store, key = self._store(), deadline_key(status.window)
        if store.get_value(key) is not None:
            return
        line = status.line()
        text = report if "\n  deadline " in report else f"{report}\n  {line}".strip()
        self.log.warning(
            "window %s of %s: %s; %d on_deadline_missed callback(s)",
            status.window.label(),
            self.table,
            line,
            len(self.on_deadline_missed),
        )
        # Recorded first: a callback that fails or hangs must not make every later poke alert again.
        store.set_value(key, status.to_dict())
        payload = {**status.to_dict(), "report": text}
        for callback in self.on_deadline_missed:
            try:
                callback({**context, "rtp_deadline": payload})
            except Exception:  # a broken alert route must not fail the wait itself
                self.log.exception("on_deadline_missed callback %r failed", callback)

    def _succeed(self, context: Context, result: CheckResult) -> dict[str, Any]:
        if result.decision is not None:  # decided now: keep it for reruns
            self._store().put(result.window, result.stored())
        xcom = result.xcom()
        self._announce(context, result.window, xcom)
        return xcom

    def _announce(self, context: Context, window: Window, xcom: dict[str, Any]) -> None:
        if self.tag_pattern is not None:  # both success paths pass here, on the worker
            from airflow_provider_rtp.hooks.iceberg import IcebergHook

            name = tag_name(self.tag_pattern, window.start, window.end)
            tagged = tag_snapshot(
                IcebergHook(self.iceberg_conn_id).catalog,
                self.table,
                int(xcom["snapshot_id"]),
                name,
                max_age=self.tag_max_age,
            )
            xcom["tag"] = tagged.name
            self.log.info(
                "%s: tag %s on snapshot %s (%s)",
                self.table,
                name,
                tagged.snapshot_id,
                "created" if tagged.created else "already there",
            )
        asset = table_asset(self.table, self.catalog_name)
        if asset.name not in {getattr(o, "name", None) for o in self.outlets}:
            # A templated table is known only now, too late to declare it as an outlet.
            self.log.warning("%s is not an outlet of this task: no asset event emitted", asset.name)
            return
        event = context["outlet_events"][asset]
        event.add_partitions(partition_key(window))
        event.extra.update(
            {
                "snapshot_id": xcom["snapshot_id"],
                "checkpoint_id": xcom["checkpoint_id"],
                "job_id": xcom["job_id"],
                "window": xcom["window"],
                "watermarks": xcom["watermarks"],
            }
        )
        self.log.info(
            "%s: snapshot %s covers %s (asset %s, partition %s)",
            self.table,
            xcom["snapshot_id"],
            window.label(),
            asset.name,
            partition_key(window),
        )

    def _close(self) -> None:
        if self._clients is not None:
            self._clients.close()
            self._clients = None

    def on_kill(self) -> None:
        self._close()

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage:
        """OpenLineage: the pipeline's topics in, its table out (see hooks/lineage.py)."""
        from airflow_provider_rtp.hooks.lineage import operator_lineage, pipeline_lineage

        return operator_lineage(
            *pipeline_lineage(
                self._check().pipeline,
                kafka_conn_id=self.kafka_conn_id,
                iceberg_conn_id=self.iceberg_conn_id,
                clickhouse_conn_id=self.clickhouse_conn_id,
            )
        )


def deadline_key(window: Window) -> str:
    """Where the table's state store records that a window's missed deadline was alerted."""
    w = window.to_dict()
    return f"deadline-alerted/{w['start']}/{w['end']}"


def _callbacks(value: DeadlineCallback | Sequence[DeadlineCallback] | None) -> tuple[DeadlineCallback, ...]:
    callbacks = () if value is None else (value,) if callable(value) else tuple(value)
    for callback in callbacks:
        if not callable(callback):
            raise InvalidInputError(f"on_deadline_missed must be callables, got {callback!r}")
    return callbacks
