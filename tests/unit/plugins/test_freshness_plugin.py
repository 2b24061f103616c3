"""The plugin as Airflow's plugin manager and API server read it, and its refusal of strangers."""

from __future__ import annotations

from fastapi.testclient import TestClient

from airflow_provider_rtp.get_provider_info import get_provider_info
from airflow_provider_rtp.plugins.freshness import RtpFreshnessPlugin
from airflow_provider_rtp.plugins.freshness_page import PAGE_HTML


def test_provider_lists_the_plugin_class() -> None:
    from airflow._shared.module_loading import import_string
    from airflow._shared.plugins_manager import is_valid_plugin

    (entry,) = get_provider_info()["plugins"]
    assert is_valid_plugin(import_string(entry["plugin-class"]))
    assert entry["name"] == RtpFreshnessPlugin.name


def test_app_and_view_carry_the_keys_the_api_server_and_ui_read() -> None:
    from airflow.api_fastapi.core_api.datamodels.plugins import ExternalViewResponse

    (app,) = RtpFreshnessPlugin.fastapi_apps
    assert app["url_prefix"] == "/rtp-freshness" and app["name"] and app["app"] is not None
    (view,) = RtpFreshnessPlugin.external_views
    parsed = ExternalViewResponse.model_validate(view)
    assert parsed.href == "rtp-freshness/"  # relative: the UI resolves it against its base URL
    assert parsed.url_route == "lake-freshness" and parsed.name == "Lake freshness"


def test_page_and_api_refuse_requests_without_credentials() -> None:
    client = TestClient(RtpFreshnessPlugin.fastapi_apps[0]["app"])
    assert client.get("/api/freshness").status_code == 401
    assert client.get("/").status_code == 401


def test_page_fetches_relative_to_itself_with_the_session_cookie() -> None:
    assert 'base + "api/freshness"' in PAGE_HTML
    assert 'credentials: "same-origin"' in PAGE_HTML
    for hook in ('"data-window-start"', '"status status-"', 'class: "pipeline"', '"delay-chart"'):
        assert hook in PAGE_HTML
