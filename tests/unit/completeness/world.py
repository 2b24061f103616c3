"""A simulated pipeline with ground truth, for property-based tests.

Records carry a timestamp and the time they become visible in Kafka (``arrival``).
The generator keeps the assumptions the protocol rests on: timestamps never
decrease within a partition, a record arrives within the idle timeout of its
timestamp, a CDC watermark w means every record stamped before w has arrived,
checkpoint positions only grow, G's committed offsets are those of a completed
checkpoint of J, and a commit of checkpoint k holds everything J read up to k.
The truth of a decision is then checkable: every record stamped before the
target must sit below what the chosen snapshot holds, partition by partition.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st

from airflow_provider_rtp.completeness import (
    FINAL_CHECKPOINT_ID,
    FLINK_JOB_ID,
    FLINK_MAX_COMMITTED_CHECKPOINT_ID,
    CdcObservation,
    IcebergCommitStage,
    JobObservation,
    KafkaObservation,
    LagSample,
    Observations,
    PartitionObservation,
    Policy,
    RestoreInfo,
    SnapshotObservation,
    TableSnapshots,
    Window,
)

E = datetime(2026, 11, 24, 11, tzinfo=UTC)
WINDOW = Window(E - timedelta(hours=1), E)
J = "j" * 32
OLD = "o" * 32
SNAPSHOT_TS = 1_780_000_000_000


@dataclass(frozen=True)
class Record:
    ts: datetime | None  # None: a transaction marker
    arrival: datetime


@dataclass(frozen=True)
class Snap:
    job: str | None  # None: compaction (replace) or a foreign writer
    checkpoint: int | None
    holds: tuple[int, ...]  # per partition: offsets below this are in the snapshot's commit
    ts_ms: int
    op: str = "append"


@dataclass(frozen=True)
class World:
    policy: Policy
    now: datetime
    logs: tuple[tuple[Record, ...], ...]
    log_start: tuple[int, ...]
    positions: tuple[tuple[int, ...], ...]  # J's checkpoint k (1-based) -> per-partition position
    checkpoint_base: int  # J's checkpoint ids are base + k
    c_star: int  # how many of J's checkpoints the evaluation saw completed (≤ len(positions))
    committed_from: tuple[int | None, ...]  # per partition: the checkpoint k whose offsets G holds
    snaps: tuple[Snap, ...]
    expired: int  # oldest snapshots gone
    cdc: str  # "none" | "heartbeat" | "metric" | "frozen"
    cdc_slack: timedelta  # how far the CDC watermark trails what the world allows
    state: str = "RUNNING"
    restored: bool = False
    race_b_p: bool = False  # offsets_for_times answered before retention moved the log start
    extra: dict[str, int] = field(default_factory=dict)

    @property
    def target(self) -> datetime:
        return WINDOW.target(self.policy)

    def end(self, p: int) -> int:
        return sum(1 for r in self.logs[p] if r.arrival <= self.now)

    def cdc_bound(self) -> datetime:
        """The newest watermark the world allows: no record stamped before it is still to arrive."""
        pending = [r.ts for log in self.logs for r in log if r.arrival > self.now and r.ts is not None]
        return min([self.now, *pending])

    def checkpoint_id(self, k: int) -> int:
        return self.checkpoint_base + k

    # --- observations -------------------------------------------------------------------------

    def partition(self, p: int) -> PartitionObservation:
        log, end, start = self.logs[p], self.end(p), self.log_start[p]
        first = 0 if self.race_b_p else start
        b_p = next((i for i in range(first, end) if log[i].ts is not None and log[i].ts >= self.target), None)
        k = self.committed_from[p]
        committed = None if k is None else min(self.positions[k - 1][p], end)
        fuo = None
        if committed is not None:
            fuo = next((i for i in range(committed, end) if log[i].ts is not None), None)
        return PartitionObservation(
            "t", p, start, end, committed, b_p, fuo, None if fuo is None else log[fuo].ts
        )

    def table(self) -> TableSnapshots:
        out = []
        for i, s in enumerate(self.snaps):
            summary = {}
            if s.job is not None and s.checkpoint is not None:
                summary = {FLINK_JOB_ID: s.job, FLINK_MAX_COMMITTED_CHECKPOINT_ID: str(s.checkpoint)}
            out.append(SnapshotObservation(i + 1, i or None, s.ts_ms, s.op, summary))  # type: ignore[arg-type]
        kept = tuple(out[self.expired :])
        return TableSnapshots("db.t", kept[-1].snapshot_id if kept else None, kept)

    def cdc_observation(self) -> CdcObservation | None:
        watermark = self.cdc_bound() - self.cdc_slack
        c_job = JobObservation(
            "c" * 32,
            "cdc",
            "RUNNING",  # type: ignore[arg-type]
            7,
            self.now,
            committed_checkpoint_trigger=self.now,
        )
        if self.cdc == "heartbeat":
            return CdcObservation("cdc", heartbeat=watermark)
        if self.cdc == "metric":  # a live source: emitting now, its last record `watermark` late
            metric = LagSample(c_job.job_id, self.now, timedelta(0), self.now - watermark, timedelta(0))
            return CdcObservation("cdc", metric=metric, job=c_job)
        if self.cdc == "frozen":  # a source that has emitted nothing since its job started
            metric = LagSample(c_job.job_id, self.now, timedelta(0), None, timedelta(hours=1))
            return CdcObservation("cdc", metric=metric, job=c_job)
        return None

    def observations(self) -> Observations:
        parts = tuple(self.partition(p) for p in range(len(self.logs)))
        job = JobObservation(
            J,
            "ingest",
            self.state,  # type: ignore[arg-type]
            self.checkpoint_id(self.c_star) if self.c_star else None,
            restored=RestoreInfo(self.checkpoint_base) if self.restored else None,
        )
        return Observations(
            WINDOW,
            KafkaObservation("g", self.target, parts),
            job,
            IcebergCommitStage(self.table()),
            self.cdc_observation(),
        )

    # --- truth ----------------------------------------------------------------------------------

    def uncovered(self, snapshot_id: int) -> list[tuple[int, int]]:
        """(partition, offset) of records stamped before the target that the snapshot lacks."""
        holds = [0] * len(self.logs)
        for s in self.snaps[:snapshot_id]:  # a snapshot holds everything committed before it
            holds = [max(a, b) for a, b in zip(holds, s.holds, strict=True)]
        return [
            (p, i)
            for p, log in enumerate(self.logs)
            for i, r in enumerate(log)
            if r.ts is not None and r.ts < self.target and i >= holds[p]
        ]


# --- generation ---------------------------------------------------------------------------------


@st.composite
def logs(draw: st.DrawFn, idle: timedelta, margin_s: int) -> tuple[Record, ...]:
    # Timestamps around the target, with values right at its edges drawn often.
    edges = [margin_s - 1, margin_s, margin_s + 1]
    seconds = draw(st.lists(st.one_of(st.integers(-900, 900), st.sampled_from(edges)), max_size=8))
    out: list[Record] = []
    last_arrival = E - timedelta(hours=2)
    for s in sorted(seconds):
        ts = E + timedelta(seconds=s)
        delay = timedelta(seconds=draw(st.integers(0, int(idle.total_seconds()) - 1)))
        last_arrival = max(last_arrival, ts + delay)
        out.append(Record(ts, last_arrival))
        if draw(st.booleans()):
            out.append(Record(None, last_arrival))  # the transaction's commit marker
    return tuple(out)


def _positions_up_to(draw: st.DrawFn, floor: tuple[int, ...], ceiling: tuple[int, ...]) -> tuple[int, ...]:
    """Positions between ``floor`` and ``ceiling``, often caught up (so that worlds often complete)."""
    return tuple(
        draw(st.just(max(lo, hi)) | st.integers(lo, max(lo, hi)))
        for lo, hi in zip(floor, ceiling, strict=True)
    )


@st.composite
def worlds(draw: st.DrawFn) -> World:
    lateness = timedelta(seconds=draw(st.sampled_from([0, 120])))
    margin = timedelta(seconds=draw(st.sampled_from([0, 5])))
    idle = timedelta(seconds=draw(st.sampled_from([60, 300])))
    policy = Policy(allowed_lateness=lateness, clock_skew_margin=margin, idle_timeout=idle)
    margin_s = int((lateness + margin).total_seconds())
    n_parts = draw(st.integers(1, 3))
    the_logs = tuple(draw(logs(idle, margin_s)) for _ in range(n_parts))
    now = E + timedelta(seconds=draw(st.integers(-120, 1500)))
    base = World(
        policy, now, the_logs, (0,) * n_parts, (), 0, 0, (None,) * n_parts, (), 0, "none", timedelta(0)
    )
    ends = tuple(base.end(p) for p in range(n_parts))
    log_start = tuple(draw(st.integers(0, e)) if draw(st.booleans()) else 0 for e in ends)

    # J's checkpoints; the last one may complete after the evaluation read c* (a race).
    n = draw(st.integers(0, 4))
    positions: list[tuple[int, ...]] = []
    for _ in range(n + draw(st.integers(0, 1))):
        positions.append(_positions_up_to(draw, positions[-1] if positions else (0,) * n_parts, ends))
    committed_from = tuple(
        draw(st.just(n) | st.integers(1, n)) if n and draw(st.integers(0, 9)) else None
        for _ in range(n_parts)
    )
    checkpoint_base = draw(st.integers(0, 50))
    restored = draw(st.booleans())

    snaps: list[Snap] = []
    ts = SNAPSHOT_TS
    zero = (0,) * n_parts
    for _ in range(draw(st.integers(0, 2))):  # a previous job's commits, ids unrelated to J's
        holds = _positions_up_to(draw, zero, positions[0] if positions else ends)
        snaps.append(Snap(OLD, draw(st.integers(1, 300)), holds, ts))
    for k, pos in enumerate(positions, start=1):
        if k < len(positions) and draw(st.integers(0, 3)) == 0:
            continue  # an empty checkpoint whose commit the sink skipped
        if draw(st.integers(0, 4)) == 0:  # upsert: the checkpoint split over two snapshots
            prev = snaps[-1].holds if snaps else zero
            part_holds = _positions_up_to(draw, tuple(min(a, b) for a, b in zip(prev, pos, strict=True)), pos)
            snaps.append(Snap(J, checkpoint_base + k, part_holds, ts))
        snaps.append(Snap(J, checkpoint_base + k, pos, ts))
        if draw(st.integers(0, 3)) == 0:
            snaps.append(Snap(None, None, zero, ts + 1, op=draw(st.sampled_from(["replace", "append"]))))
        ts += draw(st.integers(0, 2000))
    state = draw(st.sampled_from(["RUNNING", "RUNNING", "RUNNING", "FINISHED", "FAILED"]))
    if state == "FINISHED" and positions and draw(st.booleans()):
        snaps.append(Snap(J, FINAL_CHECKPOINT_ID, positions[-1], ts))  # drained stop
    expired = draw(st.integers(0, max(0, len(snaps) - 1)))
    return replace(
        base,
        log_start=log_start,
        positions=tuple(positions),
        checkpoint_base=checkpoint_base,
        c_star=n,
        committed_from=committed_from,
        snaps=tuple(snaps),
        expired=expired,
        cdc=draw(st.sampled_from(["none", "none", "heartbeat", "metric", "frozen"])),
        cdc_slack=timedelta(seconds=draw(st.sampled_from([0, 0, 0, 1, 30, 600]))),
        state=state,
        restored=restored,
        race_b_p=draw(st.booleans()),
    )


@st.composite
def progress(draw: st.DrawFn, world: World) -> World:
    """The same pipeline a little later: time passes, J checkpoints and commits, G commits offsets."""
    later = replace(world, now=world.now + timedelta(seconds=draw(st.integers(0, 900))))
    n_parts = len(world.logs)
    ends = tuple(later.end(p) for p in range(n_parts))
    positions = list(world.positions)
    snaps = list(world.snaps)
    ts = (snaps[-1].ts_ms if snaps else SNAPSHOT_TS) + 1
    for _ in range(draw(st.integers(0, 2)) if world.state == "RUNNING" else 0):
        positions.append(_positions_up_to(draw, positions[-1] if positions else (0,) * n_parts, ends))
        snaps.append(Snap(J, world.checkpoint_base + len(positions), positions[-1], ts))
        ts += 1
    if draw(st.booleans()):
        snaps.append(Snap(None, None, (0,) * n_parts, ts, op="replace"))
    c_star = max(world.c_star, len(positions) if world.state == "RUNNING" else world.c_star)
    committed_from = tuple(
        None if k is None else draw(st.integers(k, max(k, c_star))) for k in world.committed_from
    )
    return replace(
        later,
        positions=tuple(positions),
        c_star=c_star,
        committed_from=committed_from,
        snaps=tuple(snaps),
        cdc_slack=min(world.cdc_slack, timedelta(seconds=draw(st.sampled_from([0, 1, 600])))),
    )
