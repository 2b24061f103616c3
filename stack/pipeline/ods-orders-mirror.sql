-- Ingestion job ods-orders-mirror-ingest: Kafka topic shop.orders (Debezium JSON,
-- written by shop-cdc) → Iceberg table lake.ods.orders_mirror, in upsert mode.
-- Run statement by statement through the SQL Gateway by stack/pipeline/pipeline.sh,
-- which fills in the @NAME@ placeholders. Statements end with ';' at the end of a line.
-- Same source, checkpointing and table properties as ods-orders.sql; its own
-- consumer group, checkpoints and table.
--
-- Table design:
--   * The mirror keeps only the latest version of each row, so the equality key
--     is the row id, and upsert mode fits: every +I/+U first deletes the id's
--     current version by key, then writes the new one; a -D deletes by key; -U is
--     not needed. Replaying changes from an earlier point ends in the same
--     latest versions (retract mode would duplicate); the job still relies on
--     exactly-once as ods-orders-ingest does.
--   * Equality deletes only apply within the partition they are written to. The
--     partition is a function of the id (id_bucket = id mod 4; Flink DDL has no
--     hidden bucket transform, so it is a column), so a row never moves: every
--     delete lands in its row's own bucket. The key (id, id_bucket) contains the
--     partition's source column, as Iceberg requires, and still names one row.
--     (ods-orders.sql partitions by change time, where a row moves on every
--     change: there upsert mode would leave the old version behind.)
--   * This is the table that breaks naive compaction. Every insert or update
--     writes an equality delete by key, and ids spread over all buckets, so every
--     partition receives equality deletes on every checkpoint, forever: no
--     partition goes cold the way an old hour of lake.ods.orders does. A rewrite
--     therefore always races new deletes in the partitions it rewrites, and
--     equality delete files pile up in every partition until a rewrite applies
--     them.

SET 'pipeline.name' = 'ods-orders-mirror-ingest';
SET 'execution.runtime-mode' = 'streaming';
SET 'parallelism.default' = '1';
SET 'execution.checkpointing.interval' = '10s';
SET 'execution.checkpointing.mode' = 'EXACTLY_ONCE';
SET 'execution.checkpointing.dir' = '@CHECKPOINT_DIR@';
SET 'execution.checkpointing.externalized-checkpoint-retention' = 'RETAIN_ON_CANCELLATION';
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

CREATE TABLE IF NOT EXISTS lake.ods.orders_mirror (
  id          BIGINT           NOT NULL,
  customer_id BIGINT,
  amount      DECIMAL(12, 2),
  status      STRING,
  updated_at  TIMESTAMP_LTZ(3) NOT NULL,
  -- id mod 4: the partition, a function of the key.
  id_bucket   INT              NOT NULL,
  PRIMARY KEY (id, id_bucket) NOT ENFORCED
) PARTITIONED BY (id_bucket) WITH (
  'format-version' = '2',
  'write.upsert.enabled' = 'true',
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
  'properties.group.id' = 'rtp-ods-orders-mirror',
  -- Only what shop-cdc's checkpoints committed.
  'properties.isolation.level' = 'read_committed',
  'scan.startup.mode' = 'group-offsets',
  -- A new group starts at the topic's beginning: shop-cdc's snapshot, then every change.
  'properties.auto.offset.reset' = 'earliest',
  'format' = 'debezium-json',
  'debezium-json.timestamp-format.standard' = 'ISO-8601'
);

INSERT INTO lake.ods.orders_mirror
SELECT
  id,
  customer_id,
  amount,
  status,
  updated_at,
  CAST(MOD(id, 4) AS INT) AS id_bucket
FROM shop_orders_changes;
