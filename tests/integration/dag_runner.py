"""`airflow dags test`, many times in one process: ``python -m tests.integration.dag_runner``.

Each line on stdin is a JSON request ``{"dag_id", "dag_file", "conf", "logical_date", "log",
"env"}``. The runner takes the request's environment (connections a test defined since it
started) and calls the CLI's own ``dags test`` command for it, with everything the run
prints (its own output and its task processes') going to the request's ``log`` file, and
answers with one JSON line ``{"exit": code}`` on stdout (after a first ``{"ready": true}`` once
Airflow is imported). Starting Airflow costs more CPU than most of the runs themselves, so
tests that run DAGs start it once per test process.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback


def _dags_test(request: dict) -> int:
    from airflow.cli.commands import dag_command
    from airflow.utils import timezone

    logical_date = request.get("logical_date")
    args = argparse.Namespace(
        dag_id=request["dag_id"],
        dagfile_path=request["dag_file"],
        conf=json.dumps(request.get("conf") or {}),
        logical_date=timezone.parse(logical_date) if logical_date else None,
        bundle_name=None,
        use_executor=False,
        mark_success_pattern=None,
        show_dagrun=False,
        imgcat_dagrun=False,
        save_dagrun=None,
        subcommand="test",
        verbose=False,
    )
    try:
        dag_command.dag_test(args)
    except SystemExit as exc:  # "DagRun failed", as the CLI exits
        print(exc, file=sys.stderr)
        return 1 if exc.code not in (None, 0) else 0
    except Exception:
        traceback.print_exc()
        return 1
    return 0


def main() -> None:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # what Airflow prints outside a run must not mix with the answers
    # Airflow is imported before the first request: a test that times its windows waits for
    # this line, so a slow start on a busy machine does not eat into a window.
    from airflow.cli.commands import dag_command  # noqa: F401

    answers.write(json.dumps({"ready": True}) + "\n")
    saved = os.dup(1), os.dup(2)
    for line in sys.stdin:
        if not line.strip():
            continue
        request = json.loads(line)
        os.environ.clear()
        os.environ.update(request["env"])
        sys.stdout.flush()
        sys.stderr.flush()
        with open(request["log"], "ab") as log:
            os.dup2(log.fileno(), 1)
            os.dup2(log.fileno(), 2)
        try:
            code = _dags_test(request)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
        answers.write(json.dumps({"exit": code}) + "\n")


if __name__ == "__main__":
    main()
