"""``rtp-completeness``: the completeness sensor's question, asked from a shell or another scheduler.

    rtp-completeness --pipeline ods.orders --hour 2026-12-01T10Z [--lateness 2m] [--json]
    rtp-completeness --pipeline ods.orders --window 2026-12-01T10:00Z/PT1H --watch --interval 30s

It runs the sensor's evaluation (:func:`~airflow_provider_rtp.evaluation.run_check`
with the same :class:`~airflow_provider_rtp.evaluation.CompletenessCheck`): the
pipeline resolved as the sensor resolves it, its clients built from the same
Airflow connections (AIRFLOW_CONN_* variables, the secrets backend or the
metadata database), the policy options named after the sensor's arguments.
No credential is ever given on the command line.

Exit code 0: complete; 1: not yet (waiting); 2: failed or bad input (the reason on stderr).
Unlike the sensor it neither reads nor stores decisions in the table asset's state,
so an old window decided here names a covering snapshot that may be newer than the
one a sensor handed out.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, TextIO

from airflow_provider_rtp.completeness import (
    DEFAULT_CLOCK_SKEW_MARGIN,
    DEFAULT_FUTURE_WINDOW_LIMIT,
    DEFAULT_IDLE_TIMEOUT,
    CompletenessError,
    Policy,
    Verdict,
    Window,
)
from airflow_provider_rtp.completeness._time import fmt_duration, parse_instant, to_iso
from airflow_provider_rtp.evaluation import CheckResult, CompletenessCheck
from airflow_provider_rtp.exceptions import InvalidInputError, RtpError

if TYPE_CHECKING:
    from airflow_provider_rtp.hooks.completeness import CheckClients

__all__ = ["main", "parse_duration", "parse_hour", "parse_window", "progress_line"]

_ISO_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$")
_SHORT_DURATION = re.compile(r"^(\d+)(s|m|h|d)$")
# The sensor's connection ids, as CompletenessCheck defaults them.
_CONN_DEFAULTS = {f.name: f.default for f in fields(CompletenessCheck) if f.name.endswith("_conn_id")}
EXIT_COMPLETE, EXIT_WAITING, EXIT_FAILED = 0, 1, 2


def parse_duration(text: str) -> timedelta:
    """``PT1H``, ``P1D``, ``PT90S`` or ``90s``/``2m``/``1h``/``1d``."""
    if m := _SHORT_DURATION.match(text):
        return timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[m[2]]: int(m[1])})
    m = _ISO_DURATION.match(text)
    if not m or text in ("P", "PT"):
        raise InvalidInputError(f"not a duration: {text!r} (use e.g. PT1H, PT5M or 2m)")
    days, hours, minutes, seconds = (int(g) if g else 0 for g in m.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def parse_window(text: str) -> Window:
    """``START/DURATION`` or ``START/END`` (ISO 8601 intervals)."""
    start_text, sep, rest = text.partition("/")
    if not sep:
        raise InvalidInputError(f"window must be START/DURATION or START/END, got {text!r}")
    start = parse_instant(start_text, "window start")
    end = start + parse_duration(rest) if rest.startswith("P") else parse_instant(rest, "window end")
    return Window(start, end)


def parse_hour(text: str) -> Window:
    """The hour starting at ``text`` (``2026-12-01T10Z``, ``2026-12-01T10:00Z``)."""
    start = parse_instant(text, "--hour")
    if start != start.replace(minute=0, second=0, microsecond=0):
        raise InvalidInputError(f"--hour {text!r} does not start an hour; use --window START/DURATION")
    return Window(start, start + timedelta(hours=1))


def _positive_duration(text: str) -> timedelta:
    value = parse_duration(text)
    if value <= timedelta(0):
        raise InvalidInputError(f"{text!r} must be longer than 0s")
    return value


def _parser() -> argparse.ArgumentParser:
    doc = __doc__ or ""
    p = argparse.ArgumentParser(
        prog="rtp-completeness",
        description=doc.split("\n\n")[0],
        epilog="Exit code 0: complete; 1: waiting; 2: failed or bad input.",
    )
    what = p.add_argument_group("what is asked")
    what.add_argument(
        "--pipeline", "--table", dest="table", required=True, help="the lake table, namespace.table"
    )
    when = what.add_mutually_exclusive_group(required=True)
    when.add_argument("--hour", help="the hour starting at this UTC time, e.g. 2026-12-01T10Z")
    when.add_argument("--window", help="START/DURATION or START/END, e.g. 2026-12-01T10:00Z/PT1H")
    what.add_argument("--pipelines", help="pipelines YAML (default: Airflow's [rtp] pipelines_file)")
    what.add_argument("--topic", action="append", default=[], help="instead of a YAML: a topic (repeatable)")
    what.add_argument("--group", help="instead of a YAML: the ingestion job's consumer group")
    what.add_argument("--ingestion-job", help="instead of a YAML: the ingestion job's name")
    what.add_argument("--cdc-job", help="with --topic: the CDC job's name")
    what.add_argument("--heartbeat-topic", help="with --topic: the CDC heartbeat topic")
    policy = p.add_argument_group("policy (the sensor's arguments of the same names)")
    policy.add_argument("--lateness", default="0s", help="allowed_lateness, e.g. 2m (default 0s)")
    policy.add_argument("--idle-timeout", default=fmt_duration(DEFAULT_IDLE_TIMEOUT), help="idle_timeout")
    policy.add_argument(
        "--clock-skew-margin", default=fmt_duration(DEFAULT_CLOCK_SKEW_MARGIN), help="clock_skew_margin"
    )
    policy.add_argument("--on-job-down", choices=("wait", "fail"), default="wait", help="on_job_down")
    policy.add_argument(
        "--future-window-limit", default=fmt_duration(DEFAULT_FUTURE_WINDOW_LIMIT), help="future_window_limit"
    )
    conns = p.add_argument_group("Airflow connections (as the sensor's)")
    for name, default in _CONN_DEFAULTS.items():
        conns.add_argument(
            f"--{name.replace('_', '-')}", dest=name, default=default, help=f"default {default}"
        )
    out = p.add_argument_group("output")
    out.add_argument("--json", action="store_true", help="print the check result as JSON")
    out.add_argument("--watch", action="store_true", help="ask again until complete, one line per poll")
    out.add_argument("--interval", help="with --watch: between polls (default 30s)")
    out.add_argument("--timeout", help="with --watch: give up after this long (exit 1); default never")
    return p


def _window(args: argparse.Namespace) -> Window:
    return parse_hour(args.hour) if args.hour else parse_window(args.window)


def _policy(args: argparse.Namespace) -> Policy:
    return Policy(
        allowed_lateness=parse_duration(args.lateness),
        idle_timeout=parse_duration(args.idle_timeout),
        clock_skew_margin=parse_duration(args.clock_skew_margin),
        on_job_down=args.on_job_down,
        future_window_limit=parse_duration(args.future_window_limit),
    )


def _check(args: argparse.Namespace, policy: Policy) -> CompletenessCheck:
    from airflow_provider_rtp.hooks.completeness import resolve_pipeline

    pipeline = resolve_pipeline(
        args.table,
        pipelines_file=args.pipelines,
        topics=args.topic,
        group=args.group,
        ingestion_job=args.ingestion_job,
        cdc_job=args.cdc_job,
        heartbeat_topic=args.heartbeat_topic,
    )
    return CompletenessCheck(pipeline, policy, **{name: getattr(args, name) for name in _CONN_DEFAULTS})


def _logs_to_stderr() -> None:
    """Airflow logs to stdout by default; here stdout carries only the answer (``--json`` parses)."""
    from airflow.sdk.log import configure_logging

    # The process's own stderr: a caller's replacement of sys.stderr (a test's capture) may be closed later.
    configure_logging(output=sys.__stderr__ or sys.stderr)


def _clients(check: CompletenessCheck) -> CheckClients:
    from airflow_provider_rtp.hooks.completeness import CheckClients

    return CheckClients.looked_up(check)


def progress_line(result: CheckResult, at: datetime) -> str:
    """``<time>  WAITING (kafka)  <the blocking stage's report line>`` for one poll of ``--watch``."""
    decision = result.decision
    blocking = decision.blocking if decision is not None else None
    text = f"{to_iso(at)}  {result.verdict.value.upper()}"
    if blocking is not None:
        text += f" ({blocking.value})"
    if result.blocker is not None:
        text += f"  {result.blocker}"
    elif result.snapshot_id is not None:
        text += f"  snapshot {result.snapshot_id}"
    return text


def _watch(
    check: CompletenessCheck,
    window: Window,
    clients: CheckClients,
    interval: timedelta,
    timeout: timedelta | None,
    progress: TextIO,
) -> CheckResult:
    from airflow_provider_rtp.evaluation import run_check

    deadline = None if timeout is None else time.monotonic() + timeout.total_seconds()
    while True:
        result = run_check(check, window, clients)
        print(progress_line(result, datetime.now(tz=UTC)), file=progress, flush=True)
        if result.verdict is not Verdict.WAITING:
            return result
        pause = interval.total_seconds()
        if deadline is not None:
            pause = min(pause, deadline - time.monotonic())
            if pause <= 0:
                return result
        time.sleep(pause)


def _exit_code(result: CheckResult) -> int:
    if result.verdict is Verdict.COMPLETE:
        return EXIT_COMPLETE
    return EXIT_WAITING if result.verdict is Verdict.WAITING else EXIT_FAILED


def _show(check: CompletenessCheck, result: CheckResult, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"check": check.to_dict(), **result.to_dict()}, indent=2, default=str))
    else:
        print(result.report)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    clients: CheckClients | None = None
    try:
        # Everything the command line alone decides is checked before Airflow is imported.
        window, policy = _window(args), _policy(args)
        if (args.interval or args.timeout) and not args.watch:
            raise InvalidInputError("--interval and --timeout go with --watch")
        interval = _positive_duration(args.interval or "30s")
        timeout = _positive_duration(args.timeout) if args.timeout else None
        _logs_to_stderr()
        check = _check(args, policy)
        clients = _clients(check)
        if args.watch:
            # With --json, stdout carries only the JSON document.
            progress = sys.stderr if args.json else sys.stdout
            result = _watch(check, window, clients, interval, timeout, progress)
        else:
            from airflow_provider_rtp.evaluation import run_check

            result = run_check(check, window, clients)
    except (ValueError, CompletenessError, RtpError) as exc:
        print(f"rtp-completeness: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("rtp-completeness: interrupted before the window was complete", file=sys.stderr)
        return EXIT_WAITING
    except Exception as exc:  # an unexpected error must not exit 1, which reads as "waiting"
        print(f"rtp-completeness: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if clients is not None:
            clients.close()
    _show(check, result, args.json)
    return _exit_code(result)


if __name__ == "__main__":
    sys.exit(main())
