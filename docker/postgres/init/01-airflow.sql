-- The image creates POSTGRES_DB (iceberg_catalog) owned by POSTGRES_USER (rtp)
-- on an empty data volume; Airflow's metadata database is the second one.
-- Owned by rtp: since PostgreSQL 15 only the owner may create tables in schema public.
CREATE DATABASE airflow OWNER rtp ENCODING 'UTF8';
