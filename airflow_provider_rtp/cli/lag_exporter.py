"""``rtp-lag-exporter``: measure pipelines' Kafka lag and CDC watermarks into sharded InfluxDB.

    rtp-lag-exporter --pipelines stack/pipelines.yaml --kafka-bootstrap 127.0.0.1:19092 \\
        --shards influxdb1=http://127.0.0.1:18086,influxdb2=http://127.0.0.1:18096 [--interval 30] [--once]

Runs until stopped (Ctrl-C, SIGTERM), one round every ``--interval`` seconds;
``--once`` or ``--rounds N`` stop after that many rounds. Exit code 0: every
pipeline measured and written in the last round; 1: some pipeline failed
(measuring, or its shard refused the write); 2: bad input. Credentials come
from the environment only: RTP_INFLUX_USER/RTP_INFLUX_PASSWORD (1.x) or
RTP_INFLUX_TOKEN (2.x/3.x).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections.abc import Sequence
from typing import Any

from airflow_provider_rtp.exceptions import InvalidInputError, RtpError
from airflow_provider_rtp.monitoring.exporter import LagExporter, LagTarget, targets_from_pipelines
from airflow_provider_rtp.monitoring.influx import InfluxSettings, ShardedInfluxClient, parse_shards

__all__ = ["main"]


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="rtp-lag-exporter", description=__doc__.split("\n\n")[0])
    src = p.add_argument_group("what to measure: declared pipelines, or one group given here")
    src.add_argument("--pipelines", default=env("RTP_PIPELINES"), help="pipelines YAML (env RTP_PIPELINES)")
    src.add_argument("--pipeline", action="append", default=[], help="only these pipelines (repeatable)")
    src.add_argument("--group", help="a consumer group to measure (instead of --pipelines)")
    src.add_argument("--topic", action="append", default=[], help="the group's topics (repeatable)")
    src.add_argument("--heartbeat-topic", help="the CDC heartbeat topic of --group")
    src.add_argument("--name", help="series key for --group (default: the group name)")
    kafka = p.add_argument_group("Kafka")
    kafka.add_argument(
        "--kafka-bootstrap", default=env("RTP_KAFKA_BOOTSTRAP"), help="env RTP_KAFKA_BOOTSTRAP"
    )
    kafka.add_argument(
        "--kafka-config", action="append", default=[], metavar="KEY=VALUE", help="librdkafka settings"
    )
    influx = p.add_argument_group("InfluxDB shards")
    influx.add_argument(
        "--shards", default=env("RTP_INFLUX_SHARDS"), help="name=url,name=url (env RTP_INFLUX_SHARDS)"
    )
    influx.add_argument("--database", default=env("RTP_INFLUX_DB", "rtp_metrics"), help="env RTP_INFLUX_DB")
    influx.add_argument("--retention-policy", default=None)
    p.add_argument("--interval", type=float, default=30.0, help="seconds between rounds (default 30)")
    stop = p.add_mutually_exclusive_group()
    stop.add_argument("--once", action="store_true", help="one round, then exit")
    stop.add_argument("--rounds", type=int, help="this many rounds, then exit")
    return p


def _targets(args: argparse.Namespace) -> list[LagTarget]:
    if args.group:
        if args.pipelines and args.pipeline:
            raise InvalidInputError("give either --pipeline names or --group, not both")
        if not args.topic:
            raise InvalidInputError("--group needs at least one --topic")
        return [LagTarget(args.name or args.group, args.group, tuple(args.topic), args.heartbeat_topic)]
    if not args.pipelines:
        raise InvalidInputError(
            "nothing to measure: give --pipelines (or RTP_PIPELINES) or --group with --topic"
        )
    from airflow_provider_rtp.completeness import load_pipelines

    return targets_from_pipelines(load_pipelines(args.pipelines), args.pipeline)


def _kafka_config(args: argparse.Namespace) -> dict[str, Any]:
    if not args.kafka_bootstrap:
        raise InvalidInputError("--kafka-bootstrap (or RTP_KAFKA_BOOTSTRAP) is needed")
    config: dict[str, Any] = {"bootstrap.servers": args.kafka_bootstrap}
    for item in args.kafka_config:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInputError(f"--kafka-config takes KEY=VALUE, got {item!r}")
        config[key] = value
    return config


def _store(args: argparse.Namespace) -> ShardedInfluxClient:
    if not args.shards:
        raise InvalidInputError("--shards (or RTP_INFLUX_SHARDS) is needed: name=url,name=url")
    env = os.environ.get
    settings = InfluxSettings(
        database=args.database,
        retention_policy=args.retention_policy,
        username=env("RTP_INFLUX_USER") or None,
        password=env("RTP_INFLUX_PASSWORD") or None,
        token=env("RTP_INFLUX_TOKEN") or None,
    )
    return ShardedInfluxClient(parse_shards(args.shards), settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.interval <= 0 or (args.rounds is not None and args.rounds < 1):
            raise InvalidInputError("--interval must be > 0 and --rounds >= 1")
        targets = _targets(args)
        config = _kafka_config(args)
        store = _store(args)
    except (RtpError, ValueError, OSError) as exc:
        print(f"rtp-lag-exporter: {exc}", file=sys.stderr)
        return 2
    from airflow_provider_rtp.kafka import KafkaLagReader

    rounds = 1 if args.once else args.rounds
    stopping = False

    def _stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    reader = KafkaLagReader(config)
    exporter = LagExporter(reader, store, targets)
    ok = True
    done = 0
    try:
        while not stopping:
            started = time.monotonic()
            result = exporter.run_once()
            ok = result.ok
            stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(result.measured_at_ms / 1000))
            for line in result.lines():
                print(f"{stamp} {line}", file=sys.stderr if ": FAILED " in line else sys.stdout)
            sys.stdout.flush()
            done += 1
            if rounds is not None and done >= rounds:
                break
            pause = args.interval - (time.monotonic() - started)
            while pause > 0 and not stopping:
                time.sleep(min(pause, 0.5))
                pause -= 0.5
    except KeyboardInterrupt:
        pass
    finally:
        store.close()
        reader.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
