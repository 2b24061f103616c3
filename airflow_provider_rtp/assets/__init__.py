"""Lake tables as Airflow assets, their window partitions and the decisions kept beside them."""

from airflow_provider_rtp.assets.tables import (
    PARTITION_KEY_FORMAT,
    DecisionStore,
    partition_key,
    table_asset,
)

__all__ = ["PARTITION_KEY_FORMAT", "DecisionStore", "partition_key", "table_asset"]
