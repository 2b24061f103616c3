"""``rtp-lake``: subcommands, and bad input named with exit code 2 before any catalog is asked."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.cli.lake import EXIT_FAILED, main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["health", "orders"], "table identifier must be 'namespace.table'"),
        (["health", "ods..orders"], "without empty parts or blanks, got 'ods..orders'"),
        (["health", "ods. orders"], "without empty parts or blanks"),
        (
            ["health", "ods.orders", "--threshold", "max_smal_files=3"],
            "unknown thresholds ['max_smal_files']",
        ),
        (["health", "ods.orders", "--threshold", "max_small_files=x"], "threshold max_small_files"),
        (["health", "ods.orders", "--small-file-bytes", "0"], "--small-file-bytes must be >= 1"),
    ],
)
def test_bad_input_exits_2_naming_it(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == EXIT_FAILED
    out = capsys.readouterr()
    assert out.out == ""
    assert out.err.startswith("rtp-lake health: InvalidInputError: ") and message in out.err


def test_a_subcommand_is_required(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([])
    assert exc.value.code == 2 and "COMMAND" in capsys.readouterr().err


def test_a_threshold_needs_a_name_and_a_value(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["health", "ods.orders", "--threshold", "max_small_files"])
    assert exc.value.code == 2 and "NAME=NUMBER" in capsys.readouterr().err


def test_the_default_connection_is_the_hooks() -> None:
    from airflow_provider_rtp.cli.lake import ICEBERG_CONN_ID
    from airflow_provider_rtp.hooks.iceberg import IcebergHook

    assert IcebergHook.default_conn_name == ICEBERG_CONN_ID
