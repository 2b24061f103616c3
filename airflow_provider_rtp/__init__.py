"""Apache Airflow provider for lake-ingestion dependency scheduling (Flink, Kafka, Iceberg, ClickHouse)."""

__version__ = "0.1.0"

__all__ = ["__version__"]
