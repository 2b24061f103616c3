-- Ingestion job ods-orders-ingest: Kafka topic shop.orders (Debezium JSON,
-- written by shop-cdc) → Iceberg table lake.ods.orders.
-- Run statement by statement through the SQL Gateway by stack/pipeline/pipeline.sh,
-- which fills in the @NAME@ placeholders. Statements end with ';' at the end of a line.
--
-- Table design, and why the lake ends up with exactly the rows of MariaDB:
--   * Iceberg equality deletes only apply within the partition they are written
--     to, and the Flink writer puts a delete into the partition computed from the
--     row it is given. Partitioning by the hour of the change time means a row
--     moves to another partition whenever it changes.
--   * So the table is written in changelog (retract) mode, never upsert mode:
--     every update arrives as -U (full before-image, binlog_row_image=FULL) and
--     +U; every delete as -D with the full before-image. The -U/-D image carries
--     the old updated_at, so its equality delete lands in the old row's partition
--     and matches it. Upsert mode would drop -U and delete by the new key in the
--     new partition: the old version would survive as a duplicate.
--   * The equality key is (id, updated_at, change_hour): a row version
--     (change_hour is a function of updated_at). It contains the partition's
--     source column, as Iceberg requires, so a key names exactly one partition.
--     Two versions within one millisecond share a key: the delete of the first
--     and the insert of the second then go to the same partition, in order.
--   * Order per id is kept end to end: Kafka key = id (one partition per id), one
--     reader per partition, writer keyed by the equality key.
--   * Replays would break retract mode (a replayed insert duplicates), so the
--     job relies on Flink's exactly-once: checkpointed Kafka offsets, the Iceberg
--     committer's per-checkpoint commits, and pipeline.sh resuming a resubmitted
--     job from its newest retained checkpoint rather than from group offsets.

SET 'pipeline.name' = 'ods-orders-ingest';
SET 'execution.runtime-mode' = 'streaming';
SET 'parallelism.default' = '1';
SET 'execution.checkpointing.interval' = '10s';
SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE';
SET 'execution.checkpointing.dir' = '@CHECKPOINT_DIR@';
SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';
-- change_hour is computed in UTC, whatever the gateway's default zone.
SET 'table.local-time-zone' = 'UTC';

CREATE CATALOG lake WITH (
  'type' = 'iceberg',
  'catalog-impl' = 'org.apache.iceberg.jdbc.JdbcCatalog',
  'uri' = '@CATALOG_URI@',
  'jdbc.user' = '@CATALOG_USER@',
  'jdbc.password' = '@CATALOG_PASSWORD@',
  -- V1 is the layout pyiceberg's SqlCatalog reads (iceberg_tables with iceberg_type).
  'jdbc.schema-version' = 'V1',
  'warehouse' = '@WAREHOUSE@'
);

CREATE DATABASE IF NOT EXISTS lake.ods;

CREATE TABLE IF NOT EXISTS lake.ods.orders (
  id          BIGINT           NOT NULL,
  customer_id BIGINT,
  amount      DECIMAL(12, 2),
  status      STRING,
  updated_at  TIMESTAMP_LTZ(3) NOT NULL,
  -- Hour of updated_at, UTC, 'yyyy-MM-dd-HH' (Flink DDL has no hidden partition
  -- transforms, so the hour is a column).
  change_hour STRING           NOT NULL,
  PRIMARY KEY (id, updated_at, change_hour) NOT ENFORCED
) PARTITIONED BY (change_hour) WITH (
  'format-version' = '2',
  'write.upsert.enabled' = 'false',
  -- Commit on every checkpoint, even an empty one: the snapshot's
  -- flink.max-committed-checkpoint-id then follows the job's checkpoints.
  'flink.max-continuous-empty-commits' = '1',
  -- A commit every 10 s writes a metadata file each time; keep the last 100.
  'write.metadata.delete-after-commit.enabled' = 'true',
  'write.metadata.previous-versions-max' = '100'
);

CREATE TEMPORARY TABLE shop_orders_changes (
  id          BIGINT,
  customer_id BIGINT,
  amount      DECIMAL(12, 2),
  status      STRING,
  updated_at  TIMESTAMP_LTZ(3),
  PRIMARY KEY (id) NOT ENFORCED
) WITH (
  'connector' = 'kafka',
  'topic' = 'shop.orders',
  'properties.bootstrap.servers' = '@KAFKA_BOOTSTRAP@',
  -- Offsets are committed to this group when a checkpoint completes: the
  -- completeness check reads them.
  'properties.group.id' = 'rtp-ods-orders',
  -- Only what shop-cdc's checkpoints committed.
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'debezium-json',
  'debezium-json.timestamp-format.standard' = 'ISO-8601'
);

INSERT INTO lake.ods.orders
SELECT
  id,
  customer_id,
  amount,
  status,
  updated_at,
  DATE_FORMAT(CAST(updated_at AS TIMESTAMP(3)), 'yyyy-MM-dd-HH') AS change_hour
FROM shop_orders_changes;
