"""``rtp-completeness``: the delay query an offline scheduler asks before starting a batch job.

    rtp-completeness --table ods.orders --window 2026-11-24T10:00Z/PT1H [--lateness 2m] [--json]

Exit code 0: complete; 1: not yet (waiting); 2: failed or bad input.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from datetime import datetime, timedelta

from airflow_provider_rtp.completeness import CompletenessError, Policy, Verdict, Window
from airflow_provider_rtp.exceptions import RtpError

__all__ = ["main", "parse_duration", "parse_window"]

_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_SHORT_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")


def parse_duration(text: str) -> timedelta:
    """``PT1H``, ``P1D``, ``PT90S`` or ``90s``/``2m``/``1h``/``1d``."""
    if m := _SHORT_DURATION.match(text):
        return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m[2]]: int(m[1])})
    m = _ISO_DURATION.match(text)
    if not m or text in ("P", "PT"):
        raise ValueError(f"not a duration: {text!r} (use e.g. PT1H, PT5M or 2m)")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not an ISO-8601 instant: {text!r}") from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone; write it in UTC, e.g. 2026-11-24T10:00Z")
    return value


def parse_window(text: str) -> Window:
    """``START/DURATION`` or ``START/END`` (ISO 8601 intervals)."""
    start_text, sep, rest = text.partition("/")
    if not sep:
        raise ValueError(f"window must be START/DURATION or START/END, got {text!r}")
    start = _instant(start_text)
    end = start + parse_duration(rest) if rest.startswith("P") else _instant(rest)
    return Window(start, end)


def _parser() -> argparse.ArgumentParser:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="rtp-completeness", description=__doc__.split("\n\n")[0])
    p.add_argument("--table", required=True, help="the Iceberg table, namespace.table")
    p.add_argument("--window", required=True, help="START/DURATION or START/END, e.g. 2026-11-24T10:00Z/PT1H")
    p.add_argument("--lateness", default="0s", help="allowed lateness, e.g. 2m (default 0s)")
    p.add_argument("--pipelines", default=env("RTP_PIPELINES"), help="pipelines YAML ($RTP_PIPELINES)")
    p.add_argument("--kafka-bootstrap", default=env("RTP_KAFKA_BOOTSTRAP"), help="$RTP_KAFKA_BOOTSTRAP")
    p.add_argument("--flink-url", default=env("RTP_FLINK_URL"), help="JobManager REST URL ($RTP_FLINK_URL)")
    p.add_argument(
        "--catalog-uri",
        default=env("RTP_CATALOG_URI"),
        help="SQL catalog URI, e.g. postgresql+psycopg2://user:pw@host/db ($RTP_CATALOG_URI)",
    )
    p.add_argument("--catalog-name", default=env("RTP_CATALOG_NAME", "lake"))
    p.add_argument("--json", action="store_true", help="print the decision as JSON")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        for name in ("pipelines", "kafka_bootstrap", "flink_url", "catalog_uri"):
            if not getattr(args, name):
                raise ValueError(f"--{name.replace('_', '-')} is required (or its environment variable)")
        from pyiceberg.catalog.sql import SqlCatalog

        from airflow_provider_rtp.completeness import load_pipelines
        from airflow_provider_rtp.evaluation import evaluate
        from airflow_provider_rtp.flink import FlinkRestClient, HttpSettings
        from airflow_provider_rtp.kafka import KafkaLagReader

        pipelines = load_pipelines(args.pipelines)
        if args.table not in pipelines:
            raise ValueError(
                f"table {args.table!r} is not declared in {args.pipelines} "
                f"(declared: {', '.join(sorted(pipelines))})"
            )
        window = parse_window(args.window)
        policy = Policy(allowed_lateness=parse_duration(args.lateness))
        with FlinkRestClient(HttpSettings(args.flink_url)) as flink:
            decision = evaluate(
                pipelines[args.table],
                window,
                policy,
                kafka=KafkaLagReader({"bootstrap.servers": args.kafka_bootstrap}),
                flink=flink,
                catalog=SqlCatalog(args.catalog_name, uri=args.catalog_uri),
            )
    except (ValueError, CompletenessError, RtpError) as exc:
        print(f"rtp-completeness: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(decision.to_dict(), indent=2, default=str) if args.json else decision.report())
    if decision.verdict is Verdict.COMPLETE:
        return 0
    return 1 if decision.verdict is Verdict.WAITING else 2


if __name__ == "__main__":
    sys.exit(main())
