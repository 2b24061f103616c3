"""Which shard owns a series key: weighted rendezvous (highest random weight) hashing.

Every shard scores every key, ``-weight / ln(u)`` with ``u`` uniform in (0, 1)
drawn from a stable hash of (shard name, key); the highest score owns the key.
Chosen over a virtual-node ring by the figures in ``bench/sharding.py``: no
virtual-node count to tune, load within sampling noise of even, and adding a
shard moves exactly the keys the new shard wins, nothing between old shards.
A lookup costs one hash per shard, which is nothing for a handful of InfluxDB
instances.

Shards are identified by name, not URL: moving a shard to a new address does
not move its keys.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping

from airflow_provider_rtp.exceptions import InvalidInputError

__all__ = ["HashRing"]

_SCALE = float(1 << 64)


def _unit(shard: str, key: str) -> float:
    """A stable uniform draw in (0, 1) for the pair; the same on every machine and Python version."""
    digest = hashlib.blake2b(f"{shard}\x00{key}".encode(), digest_size=8).digest()
    return (int.from_bytes(digest, "big") + 0.5) / _SCALE


class HashRing:
    """Weighted rendezvous hashing over named shards.

    :param shards: shard name -> weight (> 0), or an iterable of names (weight 1 each).
    """

    def __init__(self, shards: Mapping[str, float] | Iterable[str]) -> None:
        weights = dict(shards) if isinstance(shards, Mapping) else dict.fromkeys(shards, 1.0)
        if not weights:
            raise InvalidInputError("a hash ring needs at least one shard")
        for name, weight in weights.items():
            if not isinstance(name, str) or not name:
                raise InvalidInputError(f"shard names must be non-empty strings, got {name!r}")
            bad = isinstance(weight, bool) or not isinstance(weight, int | float)
            if bad or not math.isfinite(weight) or weight <= 0:
                raise InvalidInputError(f"shard {name!r}: weight must be a positive number, got {weight!r}")
        self._weights = {name: float(w) for name, w in weights.items()}
        self._order = sorted(self._weights)  # max() keeps the first of equal scores

    @property
    def shards(self) -> dict[str, float]:
        return dict(self._weights)

    def score(self, shard: str, key: str) -> float:
        return -self._weights[shard] / math.log(_unit(shard, key))

    def owner(self, key: str) -> str:
        """The shard that owns ``key``; ties (never seen in practice) go to the smaller name."""
        if not isinstance(key, str) or not key:
            raise InvalidInputError(f"series keys must be non-empty strings, got {key!r}")
        return max(self._order, key=lambda shard: self.score(shard, key))

    def assign(self, keys: Iterable[str]) -> dict[str, str]:
        """key -> owning shard."""
        return {key: self.owner(key) for key in keys}

    def with_shard(self, name: str, weight: float = 1.0) -> HashRing:
        """A ring with one more shard (or a changed weight); this one is left as it is."""
        return HashRing({**self._weights, name: weight})

    def without_shard(self, name: str) -> HashRing:
        if name not in self._weights:
            raise KeyError(f"no shard named {name!r}; shards: {sorted(self._weights)}")
        return HashRing({k: w for k, w in self._weights.items() if k != name})
