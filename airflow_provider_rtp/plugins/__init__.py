"""Airflow plugins shipped by the provider: the "Lake freshness" page of the Airflow UI."""
