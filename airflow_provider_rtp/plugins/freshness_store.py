"""What the metadata database knows of each table's windows, read in the API server.

Decisions: the rows ``DecisionStore`` writes in the table asset's state store
(``decision/<start>/<end>``), read straight from Airflow's ``asset_state_store`` table:
the API server has no task supervisor to ask. Sensor outcomes: task instances of
``IngestionCompleteSensor`` whose outlet is the table's asset, with their window (the
rendered ``window_start``/``window_end``, else the run's data interval) — the failed ones
mark failed windows, the successful ones' XCom names the window's tag, if one was set.
Two queries for all pipelines together, bounded by the windows asked about.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select

from airflow_provider_rtp.assets import DecisionStore
from airflow_provider_rtp.completeness import CompletenessError, Window, parse_instant
from airflow_provider_rtp.plugins.freshness_grid import FailedWindow

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["SENSOR_OPERATOR", "SensorOutcomes", "read_decisions", "read_sensor_outcomes"]

#: The task type whose task instances are read: the sensor that stores the decisions.
SENSOR_OPERATOR = "IngestionCompleteSensor"


def read_decisions(
    session: Session, asset_names: Sequence[str], windows: Sequence[Window]
) -> dict[str, dict[Window, Any]]:
    """The stored decision of each window, per asset name (windows without one are left out)."""
    from airflow.models.asset import AssetModel
    from airflow.models.asset_state_store import AssetStateStoreModel

    found: dict[str, dict[Window, Any]] = {name: {} for name in asset_names}
    keys = {DecisionStore.key(w): w for w in windows}
    if not asset_names or not keys:
        return found
    rows = session.execute(
        select(AssetModel.name, AssetStateStoreModel.key, AssetStateStoreModel.value)
        .join(AssetModel, AssetModel.id == AssetStateStoreModel.asset_id)
        .where(
            AssetModel.name.in_(list(asset_names)),
            AssetModel.active.has(),  # as the task SDK's accessor resolves a name
            AssetStateStoreModel.key.in_(list(keys)),
        )
    )
    for name, key, value in rows:
        try:
            found[name][keys[key]] = json.loads(value)
        except (TypeError, ValueError):
            continue  # not JSON: not a decision this provider wrote
    return found


@dataclass
class SensorOutcomes:
    """Per asset name: windows whose sensor task failed, and tags named by successful ones."""

    failed: dict[str, dict[Window, FailedWindow]] = field(default_factory=dict)
    tags: dict[str, dict[Window, str]] = field(default_factory=dict)


def read_sensor_outcomes(session: Session, asset_names: Sequence[str], since: datetime) -> SensorOutcomes:
    """Sensor task instances of these assets that ended at or after ``since``, as windows.

    A window is failed when its newest ended task instance failed (a later success or a
    stored decision wins over an earlier failure).
    """
    from airflow.models.asset import AssetModel, TaskOutletAssetReference
    from airflow.models.dagrun import DagRun
    from airflow.models.renderedtifields import RenderedTaskInstanceFields as Rendered
    from airflow.models.taskinstance import TaskInstance as TI
    from airflow.models.xcom import XComModel

    outcomes = SensorOutcomes(
        failed={name: {} for name in asset_names}, tags={name: {} for name in asset_names}
    )
    if not asset_names:
        return outcomes
    query = (
        select(
            AssetModel.name,
            TI.dag_id,
            TI.task_id,
            TI.run_id,
            TI.state,
            TI.end_date,
            DagRun.data_interval_start,
            DagRun.data_interval_end,
            Rendered.rendered_fields,
            XComModel.value,
        )
        .join(
            TaskOutletAssetReference,
            and_(
                TaskOutletAssetReference.dag_id == TI.dag_id, TaskOutletAssetReference.task_id == TI.task_id
            ),
        )
        .join(AssetModel, AssetModel.id == TaskOutletAssetReference.asset_id)
        .join(DagRun, and_(DagRun.dag_id == TI.dag_id, DagRun.run_id == TI.run_id))
        .outerjoin(
            Rendered,
            and_(
                Rendered.dag_id == TI.dag_id,
                Rendered.task_id == TI.task_id,
                Rendered.run_id == TI.run_id,
                Rendered.map_index == TI.map_index,
            ),
        )
        .outerjoin(
            XComModel,
            and_(
                XComModel.dag_run_id == DagRun.id,
                XComModel.task_id == TI.task_id,
                XComModel.map_index == TI.map_index,
                XComModel.key == "return_value",
            ),
        )
        .where(
            AssetModel.name.in_(list(asset_names)),
            TI.operator == SENSOR_OPERATOR,
            TI.state.in_(["failed", "success"]),
            TI.end_date >= since,
        )
        .order_by(TI.end_date)
    )
    for name, dag_id, task_id, run_id, state, ended, start, end, rendered, xcom in session.execute(query):
        window = _window(rendered, start, end)
        if window is None:
            continue
        if state == "failed":
            outcomes.failed[name][window] = FailedWindow(dag_id, task_id, run_id, ended)
        else:
            outcomes.failed[name].pop(window, None)
            tag = _tag(xcom)
            if tag:
                outcomes.tags[name][window] = tag
    return outcomes


def _window(rendered: Any, start: Any, end: Any) -> Window | None:
    """The task's window: its rendered window arguments, else its run's data interval."""
    fields = rendered if isinstance(rendered, dict) else {}
    start = fields.get("window_start") or start
    end = fields.get("window_end") or end
    if not start or not end or start == end:
        return None
    try:
        return Window(parse_instant(start, "window start"), parse_instant(end, "window end"))
    except (CompletenessError, TypeError, ValueError):
        return None  # e.g. a rendered "None": the run's interval was the window, and none is known


def _tag(xcom: Any) -> str | None:
    if isinstance(xcom, str):
        try:
            xcom = json.loads(xcom)
        except ValueError:
            return None
    tag = xcom.get("tag") if isinstance(xcom, dict) else None
    return tag if isinstance(tag, str) else None
