-- The source schema of the reference pipeline; idempotent (runs on every
-- `pipeline up` and `generator start`).
CREATE DATABASE IF NOT EXISTS shop;
USE shop;

-- updated_at is the row's change time, kept by the server on every change. The
-- lake partitions by its hour, and because every row version carries its own
-- updated_at, the before-image of a change names the partition of the version
-- it replaces (see ods-orders.sql).
CREATE TABLE IF NOT EXISTS orders (
  id          BIGINT        NOT NULL AUTO_INCREMENT PRIMARY KEY,
  customer_id BIGINT        NOT NULL,
  amount      DECIMAL(12,2) NOT NULL,
  status      VARCHAR(16)   NOT NULL DEFAULT 'new',
  updated_at  TIMESTAMP(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP(3) ON UPDATE CURRENT_TIMESTAMP(3)
) ENGINE = InnoDB;

-- One row, rewritten every 5 s. Captured by the same binlog reader as orders, a
-- heartbeat with time h proves every change logged before it has been read.
CREATE TABLE IF NOT EXISTS rtp_heartbeat (
  id INT          NOT NULL PRIMARY KEY,
  ts TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)
) ENGINE = InnoDB;
INSERT IGNORE INTO rtp_heartbeat (id, ts) VALUES (1, NOW(3));

CREATE EVENT IF NOT EXISTS rtp_heartbeat_tick
  ON SCHEDULE EVERY 5 SECOND
  ON COMPLETION PRESERVE
  DO UPDATE rtp_heartbeat SET ts = NOW(3) WHERE id = 1;
ALTER EVENT rtp_heartbeat_tick ENABLE;
