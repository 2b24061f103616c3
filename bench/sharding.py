"""Sharding figures: how evenly series keys spread over InfluxDB shards, and how many move.

    python bench/sharding.py

10,000 keys over 3 shards: max/mean load (goal <= 1.05). Adding a 4th shard:
share of keys that move (goal <= 27.5 %, ideal 25 %) and whether any key moves
between two old shards. For the ring the provider uses (weighted rendezvous,
airflow_provider_rtp/monitoring/ring.py) and, in the same run, for the
rejected alternative: a ketama-style virtual-node ring (MD5 points on a circle,
as libketama and uhashring build it) at 160 points per shard (their default)
and at 1,000. Also the lookup cost per key. Figures go to bench/results/sharding.json.
"""

from __future__ import annotations

import bisect
import hashlib
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from airflow_provider_rtp.monitoring.ring import HashRing
from bench._results import write_results

KEY_SETS = {
    "pipeline-N": [f"pipeline-{i}" for i in range(10_000)],
    "ods.table_N": [f"ods.table_{i}" for i in range(10_000)],
    "job names": [f"job-{i:05d}-ingest" for i in range(10_000)],
}
SHARDS = ["influxdb1", "influxdb2", "influxdb3"]


class VirtualNodeRing:
    """The rejected alternative: each shard at ``points`` MD5 positions on a circle; a key goes to
    the first point clockwise of its own hash."""

    def __init__(self, shards: Sequence[str], points: int) -> None:
        ring = sorted((self._hash(f"{s}-{i}"), s) for s in shards for i in range(points))
        self._positions = [p for p, _ in ring]
        self._owners = [s for _, s in ring]

    @staticmethod
    def _hash(text: str) -> int:
        return int.from_bytes(hashlib.md5(text.encode()).digest()[:8], "big")

    def owner(self, key: str) -> str:
        i = bisect.bisect(self._positions, self._hash(key)) % len(self._positions)
        return self._owners[i]


def figures(make: Callable[[Sequence[str]], Callable[[str], str]]) -> dict[str, object]:
    per_set = {}
    for label, keys in KEY_SETS.items():
        three, four = make(SHARDS), make([*SHARDS, "influxdb4"])
        before = {k: three(k) for k in keys}
        after = {k: four(k) for k in keys}
        load = Counter(before.values())
        moved = [k for k in keys if before[k] != after[k]]
        per_set[label] = {
            "max_over_mean": round(max(load.values()) / (len(keys) / len(SHARDS)), 4),
            "moved_pct": round(100 * len(moved) / len(keys), 2),
            "moved_between_old_shards": sum(1 for k in moved if after[k] != "influxdb4"),
        }
    lookup = make(SHARDS)
    keys = KEY_SETS["pipeline-N"]
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        for k in keys:
            lookup(k)
        runs.append((time.perf_counter() - t0) / len(keys) * 1e6)
    return {
        "worst_max_over_mean": max(v["max_over_mean"] for v in per_set.values()),
        "worst_moved_pct": max(v["moved_pct"] for v in per_set.values()),
        "lookup_us_median": round(statistics.median(runs), 2),
        "by_key_set": per_set,
    }


def main() -> None:
    candidates: dict[str, Callable[[Sequence[str]], Callable[[str], str]]] = {
        "rendezvous (chosen)": lambda shards: HashRing(shards).owner,
        "virtual nodes x160 (ketama default)": lambda shards: VirtualNodeRing(shards, 160).owner,
        "virtual nodes x1000": lambda shards: VirtualNodeRing(shards, 1000).owner,
    }
    results = {name: figures(make) for name, make in candidates.items()}
    print("10,000 keys; goals: max/mean <= 1.05 over 3 shards, <= 27.5 % moved when a 4th is added")
    print(
        f"{'ring':38} {'max/mean':>9} {'moved %':>8} {'old->old':>9} {'lookup us':>10}   (worst of key sets)"
    )
    for name, r in results.items():
        old_old = sum(v["moved_between_old_shards"] for v in r["by_key_set"].values())
        print(
            f"{name:38} {r['worst_max_over_mean']:>9.4f} {r['worst_moved_pct']:>8.2f} {old_old:>9} "
            f"{r['lookup_us_median']:>10.2f}"
        )
    chosen = results["rendezvous (chosen)"]
    ok = chosen["worst_max_over_mean"] <= 1.05 and chosen["worst_moved_pct"] <= 27.5
    print(f"chosen ring meets the goals: {ok}")
    path = write_results(
        __file__,
        {"keys": 10_000, "shards": SHARDS, "goals_met": ok, "rings": results},
        {"hash": "blake2b-64 (rendezvous), md5 (virtual nodes)"},
    )
    print(f"written to {path}")


if __name__ == "__main__":
    main()
