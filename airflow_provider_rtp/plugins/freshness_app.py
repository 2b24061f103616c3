"""The lake-freshness FastAPI app, mounted by Airflow's API server under ``/rtp-freshness``.

``GET /`` is the page (shown inside the Airflow UI by the plugin's external view), ``GET
/api/freshness`` its data. Both need what reading assets needs in Airflow: the API server's
own security dependency (``requires_access_asset("GET")``) authenticates the request by its
``Authorization: Bearer`` JWT or by the ``_token`` cookie the UI's login sets, and asks the
auth manager whether that user may read assets; without either the answer is 401, with a
bad token 403. The page's own fetches send the cookie (same origin), so it needs no token
handling of its own.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Annotated, Any

from airflow.api_fastapi.common.db.common import SessionDep
from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse

from airflow_provider_rtp.assets import table_asset
from airflow_provider_rtp.completeness import Pipeline, Policy
from airflow_provider_rtp.completeness._time import to_iso
from airflow_provider_rtp.evaluation import CompletenessCheck
from airflow_provider_rtp.exceptions import RtpError
from airflow_provider_rtp.plugins.freshness_grid import (
    Live,
    grid_windows,
    live_window,
    parse_live_budget,
    parse_window_length,
    pipeline_view,
)
from airflow_provider_rtp.plugins.freshness_live import LiveEvaluations
from airflow_provider_rtp.plugins.freshness_page import PAGE_HTML

__all__ = ["DEFAULT_WINDOWS", "GRAFANA_PANEL_PATH", "URL_PREFIX", "create_app", "freshness"]

log = logging.getLogger(__name__)

URL_PREFIX = "/rtp-freshness"
#: Closed windows shown besides the running one.
DEFAULT_WINDOWS = 48
MAX_WINDOWS = 24 * 35  # as far back as the decision index reaches
#: The provisioned lag dashboard (docker/grafana/dashboards/rtp-lag.json), slowest-partition panel.
GRAFANA_PANEL_PATH = "/d/rtp-lag/rtp-lag?viewPanel=1"
#: How it is known which windows failed; the API says so beside the grid.
FAILED_WINDOWS_SOURCE = (
    "task instances of IngestionCompleteSensor whose outlet is the table's asset and that ended "
    "failed, with the window they asked about (rendered window_start/window_end, else the run's "
    "data interval); a later success or a stored decision of the window wins"
)


@cache
def _evaluations() -> LiveEvaluations:
    """One cache of live answers per API server process."""
    return LiveEvaluations()


def _settings() -> tuple[str | None, str, timedelta, float]:
    """The pipelines file, the window length as configured and parsed, the live budget (s)."""
    from airflow.configuration import conf

    path = conf.get("rtp", "pipelines_file", fallback=None) or None
    text = conf.get("rtp", "freshness_window", fallback=None) or "PT1H"
    budget = parse_live_budget(conf.get("rtp", "freshness_live_budget", fallback=None))
    return path, text.strip().upper(), parse_window_length(text), budget


def _links(rtp_conn_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Per ``rtp`` connection: its Flink web UI, how to link a job there, its Grafana panel."""
    from airflow_provider_rtp.hooks.completeness import lookup_connection
    from airflow_provider_rtp.hooks.platform import RealtimePlatformHook

    found: dict[str, dict[str, Any]] = {}
    for conn_id in dict.fromkeys(rtp_conn_ids):
        try:
            hook = RealtimePlatformHook(conn_id, connection=lookup_connection(conn_id))
            grafana = hook.connection.extra_dejson.get("grafana_url")
            found[conn_id] = {
                "flink_ui": hook.web_ui_url,
                "job_url": hook.job_url,
                "grafana": f"{str(grafana).rstrip('/')}{GRAFANA_PANEL_PATH}" if grafana else None,
            }
        except Exception as exc:  # links are extras: the page without them, never a server error
            log.info("freshness: no links from connection %s: %s", conn_id, exc)
            found[conn_id] = {"flink_ui": None, "job_url": None, "grafana": None}
    return found


def _job_link(base: dict[str, Any], view: dict[str, Any]) -> str | None:
    """The Flink job the live answer names (its job stage), else the newest complete window's."""
    live = view.get("live") or {}
    job_id = next(
        (s["subject"] for s in live.get("stages") or [] if s["stage"] == "job" and s["subject"]), None
    )
    if job_id is None:
        job_id = next((w["job_id"] for w in view["windows"] if w.get("job_id")), None)
    if job_id is None or base.get("job_url") is None:
        return base.get("flink_ui")
    return str(base["job_url"](job_id))


def freshness(
    session: Any,
    *,
    pipelines: dict[str, Pipeline],
    length: timedelta,
    count: int = DEFAULT_WINDOWS,
    now: datetime | None = None,
    evaluations: LiveEvaluations | None = None,
    policy: Policy | None = None,
    live_budget: float | None = None,
) -> list[dict[str, Any]]:
    """Every pipeline's view: stored decisions and sensor outcomes from the metadata DB (two
    queries for all pipelines), plus one live evaluation each, run concurrently; the live
    answers are waited for at most ``live_budget`` seconds from the call (see LiveEvaluations)."""
    from airflow_provider_rtp.plugins.freshness_store import read_decisions, read_sensor_outcomes

    began = time.monotonic()
    now = now or datetime.now(tz=UTC)
    windows = grid_windows(now, length, count)
    assets = {table: table_asset(table).name for table in pipelines}
    checks = {table: CompletenessCheck(p, policy or Policy()) for table, p in pipelines.items()}
    decisions = read_decisions(session, list(assets.values()), windows)
    asks = {t: (checks[t], live_window(windows, decisions[assets[t]])) for t in pipelines}
    with ThreadPoolExecutor(max_workers=1) as side:
        links = side.submit(_links, [c.rtp_conn_id for c in checks.values()])
        live = (evaluations or _evaluations()).evaluate(list(asks.values()), budget=live_budget, since=began)
        outcomes = read_sensor_outcomes(session, list(assets.values()), windows[-1].start)
        link_bases = links.result()
    views = []
    for table in sorted(pipelines):
        asset = assets[table]
        view = pipeline_view(
            table,
            windows,
            decisions[asset],
            failed=outcomes.failed[asset],
            tags=outcomes.tags[asset],
            live=live.get(table) or Live(asks[table][1], error="not evaluated"),
            now=now,
        )
        base = link_bases[checks[table].rtp_conn_id]
        view["asset"] = asset
        view["links"] = {"flink_job": _job_link(base, view), "grafana": base.get("grafana")}
        views.append(view)
    return views


def create_app() -> FastAPI:
    from airflow.api_fastapi.core_api.security import requires_access_asset

    from airflow_provider_rtp.completeness import load_pipelines

    can_read_assets = [Depends(requires_access_asset("GET"))]
    app = FastAPI(
        title="Lake freshness (airflow-provider-rtp)",
        description="Completeness of each declared lake table's windows: stored decisions and a live check.",
    )

    @app.get("/", response_class=HTMLResponse, dependencies=can_read_assets)
    def page() -> HTMLResponse:
        return HTMLResponse(PAGE_HTML)

    @app.get("/api/freshness", dependencies=can_read_assets)
    def api(
        session: SessionDep,
        windows: Annotated[int, Query(ge=1, le=MAX_WINDOWS)] = DEFAULT_WINDOWS,
        table: Annotated[list[str] | None, Query()] = None,
    ) -> dict[str, Any]:
        now = datetime.now(tz=UTC)
        out: dict[str, Any] = {
            "generated_at": to_iso(now),
            "pipelines_file": None,
            "window_length": None,
            "window_length_seconds": None,
            "windows": windows,
            "failed_windows": {"known": True, "source": FAILED_WINDOWS_SOURCE},
            "error": None,
            "pipelines": [],
        }
        try:
            path, text, length, budget = _settings()
            out.update(pipelines_file=path, window_length=text, window_length_seconds=length.total_seconds())
            if not path:
                raise RtpError(
                    "no pipelines declared: set [rtp] pipelines_file (AIRFLOW__RTP__PIPELINES_FILE)"
                )
            pipelines = load_pipelines(path)
            if table:
                unknown = sorted(set(table) - set(pipelines))
                if unknown:
                    raise RtpError(f"not declared in {path}: {', '.join(unknown)}")
                pipelines = {t: p for t, p in pipelines.items() if t in table}
        except (RtpError, OSError, ValueError) as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
            return out
        out["pipelines"] = freshness(
            session, pipelines=pipelines, length=length, count=windows, now=now, live_budget=budget
        )
        return out

    return app
