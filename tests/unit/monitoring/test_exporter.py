"""The exporter's points and the CLI's argument checks, on plain data."""

from __future__ import annotations

import pytest

from airflow_provider_rtp.cli.lag_exporter import main
from airflow_provider_rtp.exceptions import InvalidInputError
from airflow_provider_rtp.kafka.models import GroupLag, PartitionLag, PartitionStatus
from airflow_provider_rtp.monitoring.exporter import (
    CDC_WATERMARK,
    GROUP_LAG,
    PARTITION_LAG,
    LagTarget,
    completeness_point,
    group_points,
    watermark_point,
)

T = LagTarget("ods.orders", "rtp-ods-orders", ("shop.orders",), "shop.rtp_heartbeat", "shop-cdc")
NOW = 1_700_000_100_000


def _lag(*parts: PartitionLag) -> GroupLag:
    return GroupLag("rtp-ods-orders", ("shop.orders",), "STABLE", NOW, parts)


def test_lagging_group_points() -> None:
    lag = _lag(
        PartitionLag("shop.orders", 0, 0, 10, 10, PartitionStatus.CAUGHT_UP, 0, consumed_through_ms=NOW,
                     time_lag_ms=0),
        PartitionLag("shop.orders", 1, 0, 12, 9, PartitionStatus.LAGGING, 3, first_unconsumed_offset=9,
                     first_unconsumed_ms=NOW - 4000, consumed_through_ms=NOW - 4000, time_lag_ms=4000),
    )  # fmt: skip
    *parts, group = group_points(T, lag)
    assert [p.measurement for p in parts] == [PARTITION_LAG] * 2
    assert parts[1].tags == {"pipeline": "ods.orders", "group": "rtp-ods-orders", "topic": "shop.orders",
                             "partition": "1"}  # fmt: skip
    assert parts[1].fields["time_lag_ms"] == 4000 and parts[1].fields["offset_lag"] == 3
    assert group.measurement == GROUP_LAG and group.time == NOW
    assert group.fields["slowest_partition"] == 1
    assert group.fields["slowest_time_lag_ms"] == 4000
    assert group.fields["total_offset_lag"] == 3 and group.fields["lagging_partitions"] == 1


def test_unknown_lag_is_left_out_never_zero() -> None:
    lag = _lag(
        PartitionLag("shop.orders", 0, 0, 10, None, PartitionStatus.NO_COMMIT, None),
        PartitionLag("shop.orders", 1, 0, 10, 10, PartitionStatus.CAUGHT_UP, 0, consumed_through_ms=NOW,
                     time_lag_ms=0),
    )  # fmt: skip
    *parts, group = group_points(T, lag)
    line = parts[0].to_line()
    assert "offset_lag" not in line and "committed_offset" not in line and 'status="no_commit"' in line
    assert "consumed_through_ms" not in group.to_line() and "slowest_time_lag_ms" not in group.to_line()
    assert group.fields["no_commit_partitions"] == 1 and group.fields["slowest_status"] == "no_commit"


def test_watermark_and_completeness_points() -> None:
    p = watermark_point(T, "shop.rtp_heartbeat", NOW - 2500, NOW)
    assert p.measurement == CDC_WATERMARK and p.fields["lag_ms"] == 2500 and p.fields["known"] is True
    unknown = watermark_point(T, "shop.rtp_heartbeat", None, NOW).to_line()
    assert "known=false" in unknown and "lag_ms" not in unknown and "watermark_ms" not in unknown
    c = completeness_point("ods.orders", window_start_ms=0, window_end_ms=3_600_000, complete=False,
                           watermark_ms=None, waiting_on="kafka", decided_at_ms=NOW).to_line()  # fmt: skip
    assert c.startswith("rtp_completeness,pipeline=ods.orders ") and 'waiting_on="kafka"' in c
    assert c.endswith(" 0")  # stamped with the window's start: one point per window


def test_lag_target_needs_group_and_topics() -> None:
    with pytest.raises(InvalidInputError, match="group and topics"):
        LagTarget("x", "g", ())


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--once"], "nothing to measure"),
        (["--group", "g", "--once"], "--topic"),
        (["--group", "g", "--topic", "t", "--once"], "--kafka-bootstrap"),
        (["--group", "g", "--topic", "t", "--kafka-bootstrap", "k:1", "--once"], "--shards"),
        (["--group", "g", "--topic", "t", "--kafka-bootstrap", "k:1", "--shards", "a", "--once"], "name=url"),
        (
            ["--group", "g", "--topic", "t", "--kafka-bootstrap", "k:1", "--kafka-config", "x", "--once"],
            "KEY",
        ),
        (["--group", "g", "--topic", "t", "--interval", "0"], "--interval"),
    ],
)
def test_cli_bad_input_exits_2_naming_it(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("RTP_PIPELINES", "RTP_KAFKA_BOOTSTRAP", "RTP_INFLUX_SHARDS"):
        monkeypatch.delenv(var, raising=False)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
