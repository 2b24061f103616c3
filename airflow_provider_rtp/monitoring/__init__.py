"""Metrics in sharded InfluxDB: the hash ring, line protocol, the v1 HTTP client, the lag exporter.

Free of Airflow imports; ``hooks.influxdb`` builds the client from a connection.
"""
