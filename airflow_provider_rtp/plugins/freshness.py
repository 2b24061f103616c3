"""``RtpFreshnessPlugin``: the "Lake freshness" page in the Airflow UI (Airflow 3.1+ plugin interfaces).

Listed in the provider's ``get_provider_info()["plugins"]``: the API server mounts the
FastAPI app under ``/rtp-freshness`` and the UI shows the page in its navigation. Airflow
loads provider plugins when ``[core] lazy_discover_providers`` is ``False``.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from airflow_provider_rtp.plugins.freshness_app import URL_PREFIX, create_app

__all__ = ["RtpFreshnessPlugin"]


class RtpFreshnessPlugin(AirflowPlugin):
    name = "rtp_freshness"
    # AirflowPlugin's interface is class-level lists.
    fastapi_apps = [  # noqa: RUF012
        {"app": create_app(), "url_prefix": URL_PREFIX, "name": "Lake freshness"},
    ]
    external_views = [  # noqa: RUF012
        {
            "name": "Lake freshness",
            # Relative to the UI's base URL, so it works behind a proxy path too.
            "href": URL_PREFIX.lstrip("/") + "/",
            "url_route": "lake-freshness",
            "destination": "nav",
            "category": "browse",
        }
    ]
