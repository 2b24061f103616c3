"""A link from a task to the Flink job it submitted or acted on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.sdk import BaseOperatorLink
from airflow.sdk.execution_time.xcom import XCom

if TYPE_CHECKING:
    from airflow.sdk import BaseOperator
    from airflow.sdk.types import TaskInstanceKey

__all__ = ["FlinkJobLink", "persist_job_link"]


class FlinkJobLink(BaseOperatorLink):
    """Opens the job's page in the Flink web UI; the URL is stored in XCom when the task knows the job."""

    name = "Flink job"

    def get_link(self, operator: BaseOperator, *, ti_key: TaskInstanceKey) -> str:
        return XCom.get_value(key=self.xcom_key, ti_key=ti_key) or ""


def persist_job_link(context: Any, url: str) -> None:
    context["ti"].xcom_push(key=FlinkJobLink().xcom_key, value=url)
