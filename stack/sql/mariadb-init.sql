-- Accounts and databases of the local stack; idempotent. @Q_...@ are SQL
-- string literals filled in by stack/services/mariadb.sh. Run as root over the socket.
-- Account changes stay out of the binlog the CDC source reads.
SET SESSION sql_log_bin = 0;

-- root: socket login for the stack scripts, password login over TCP.
ALTER USER 'root'@'localhost' IDENTIFIED VIA unix_socket OR mysql_native_password USING PASSWORD(@Q_ROOT_PW@);
-- skip-name-resolve: a TCP client on 127.0.0.1 matches this account, not root@localhost.
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY @Q_ROOT_PW@;
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY @Q_ROOT_PW@;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;

-- The Flink CDC source: snapshot reads plus the binlog stream. Since MariaDB
-- 10.5 REPLICATION CLIENT is an alias of BINLOG MONITOR, which SHOW MASTER
-- STATUS and SHOW BINARY LOGS need; REPLICATION SLAVE allows the binlog dump.
CREATE USER IF NOT EXISTS @Q_CDC_USER@@'%' IDENTIFIED BY @Q_CDC_PW@;
ALTER USER @Q_CDC_USER@@'%' IDENTIFIED BY @Q_CDC_PW@;
GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, BINLOG MONITOR ON *.* TO @Q_CDC_USER@@'%';

-- Tables are created by the reference pipeline.
CREATE DATABASE IF NOT EXISTS shop;
