-- Accounts and database of the compose stack's MariaDB. The image runs this
-- once, on an empty data volume, as root. Names and passwords are those of
-- stack/stack.env (tests/unit/test_docker_compose.py checks they agree).
-- Account changes stay out of the binlog the CDC source reads.
SET SESSION sql_log_bin = 0;

-- The Flink CDC source: snapshot reads plus the binlog stream. BINLOG MONITOR
-- (REPLICATION CLIENT before 10.5) for SHOW MASTER STATUS / SHOW BINARY LOGS,
-- REPLICATION SLAVE for the binlog dump.
CREATE USER IF NOT EXISTS 'rtp_cdc'@'%' IDENTIFIED BY 'rtp-cdc';
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO 'rtp_cdc'@'%';

-- Tables are created by the reference pipeline (stack/pipeline/mariadb-shop.sql).
CREATE DATABASE IF NOT EXISTS shop;
