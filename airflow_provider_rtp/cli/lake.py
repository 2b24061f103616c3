"""``rtp-lake``: look after the lake's Iceberg tables from a shell, one subcommand per task.

    rtp-lake health ods.orders [--json] [--snapshot-id N] [--iceberg-conn-id iceberg_default]

``health`` reads the table's live files, snapshots and metadata files and says which
maintenance is due (compact, expire, clean), as ``IcebergHealthReportOperator`` does.
The catalog comes from an Airflow connection (AIRFLOW_CONN_* variables, the secrets
backend or the metadata database), never from a credential on the command line.

Exit code 0: nothing due; 1: some maintenance is due; 2: failed or bad input (the reason
on stderr).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from airflow_provider_rtp.exceptions import InvalidInputError, RtpError

__all__ = ["main"]

EXIT_OK, EXIT_DUE, EXIT_FAILED = 0, 1, 2
PROG = "rtp-lake"
# IcebergHook.default_conn_name, spelled out: Airflow is imported only once the arguments are good.
ICEBERG_CONN_ID = "iceberg_default"


def _threshold(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"--threshold takes NAME=NUMBER, got {text!r}")
    return key.strip(), value.strip()


def _add_health(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from airflow_provider_rtp.iceberg.health import HealthThresholds

    p = commands.add_parser(
        "health",
        help="files, deletes, snapshots and metadata of a table; which maintenance is due",
        description="Read a table's health and judge which maintenance is due.",
        epilog="Exit code 0: nothing due; 1: some maintenance due; 2: failed or bad input.",
    )
    p.add_argument("table", help="namespace.table, or a table's metadata location")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--snapshot-id", type=int, help="read the files at this snapshot (default: current)")
    p.add_argument("--iceberg-conn-id", default=ICEBERG_CONN_ID, help="default %(default)s")
    p.add_argument("--small-file-bytes", type=int, help="data files below this are small")
    p.add_argument(
        "--no-useless-deletes", action="store_true", help="do not read key columns for useless deletes"
    )
    p.add_argument("--max-rows", type=int, default=50, help="partitions shown in the text table")
    names = ", ".join(HealthThresholds.__dataclass_fields__)
    p.add_argument(
        "--threshold",
        action="append",
        type=_threshold,
        default=[],
        metavar="NAME=NUMBER",
        help=f"a verdict threshold (durations in seconds), repeatable; names: {names}",
    )
    p.set_defaults(run=_health)


def _logs_to_stderr() -> None:
    from airflow_provider_rtp.cli.completeness import _logs_to_stderr as to_stderr

    to_stderr()


def _health(args: argparse.Namespace) -> int:
    from airflow_provider_rtp.hooks.completeness import lookup_connection
    from airflow_provider_rtp.hooks.iceberg import IcebergHook
    from airflow_provider_rtp.iceberg.health import HealthReport, HealthThresholds
    from airflow_provider_rtp.iceberg.health_format import format_health
    from airflow_provider_rtp.iceberg.health_read import check_table_identifier
    from airflow_provider_rtp.iceberg.useless_deletes import UselessDeleteBudget

    check_table_identifier(args.table)
    thresholds = HealthThresholds.from_dict(dict(args.threshold))
    if args.small_file_bytes is not None and args.small_file_bytes < 1:
        raise InvalidInputError(f"--small-file-bytes must be >= 1, got {args.small_file_bytes}")
    _logs_to_stderr()
    hook = IcebergHook(args.iceberg_conn_id, connection=lookup_connection(args.iceberg_conn_id))
    health = hook.table_health(
        args.table,
        snapshot_id=args.snapshot_id,
        small_file_bytes=args.small_file_bytes,
        useless_budget=None if args.no_useless_deletes else UselessDeleteBudget(),
    )
    report = HealthReport.judge(health, thresholds)
    print(
        json.dumps(report.to_dict(), indent=2) if args.json else format_health(report, max_rows=args.max_rows)
    )
    return EXIT_DUE if any(v.due for v in report.verdicts) else EXIT_OK


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description=(__doc__ or "").split("\n\n")[0])
    commands = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_health(commands)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except (ValueError, RtpError) as exc:
        print(f"{PROG} {args.command}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception as exc:  # an unexpected error must not exit 1, which reads as "maintenance due"
        print(f"{PROG} {args.command}: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
