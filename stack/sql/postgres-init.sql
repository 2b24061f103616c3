-- Roles and databases of the local stack. Idempotent; psql variables:
-- rtp_user, rtp_password, catalog_db.
\set ON_ERROR_STOP on
SELECT format('CREATE ROLE %I LOGIN CREATEDB', :'rtp_user')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'rtp_user') \gexec
-- Re-applied on every start so the password always matches stack.env.
SELECT format('ALTER ROLE %I LOGIN CREATEDB PASSWORD %L', :'rtp_user', :'rtp_password') \gexec
-- The Iceberg JDBC catalog (written by Flink, read by pyiceberg) and Airflow's
-- metadata DB. Owned by the rtp role: since PostgreSQL 15 only the database
-- owner may create tables in schema public.
SELECT format('CREATE DATABASE %I OWNER %I ENCODING %L', d, :'rtp_user', 'UTF8')
  FROM unnest(ARRAY[:'catalog_db', 'airflow']) AS d
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = d) \gexec
