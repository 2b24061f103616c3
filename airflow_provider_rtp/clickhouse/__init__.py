"""ClickHouse clusters and Distributed tables as plain data: where a Distributed table puts each row.

Free of Airflow and of ClickHouse clients: :mod:`.topology` models ``system.clusters``,
:mod:`.sharding` reads a Distributed engine and its sharding key and places rows on shards.
"""
