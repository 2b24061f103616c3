"""The one format of bench/results/<script>.json: figures, versions, date and machine facts."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """CPU count and memory, so figures from different machines are not compared blindly."""
    mem_total = None
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_total = int(line.split()[1]) * 1024
    return {
        "cpu_count": os.cpu_count(),
        "memory_bytes": mem_total,
        "memory_gib": round(mem_total / 2**30, 1) if mem_total else None,
        "platform": platform.platform(),
    }


def write_results(script_name: str, figures: dict[str, Any], versions: dict[str, Any]) -> Path:
    """Write ``bench/results/<script_name>.json`` and return its path."""
    from airflow_provider_rtp import __version__

    path = RESULTS / f"{Path(script_name).stem}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "script": f"bench/{Path(script_name).stem}.py",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "versions": {"python": platform.python_version(), "provider": __version__, **versions},
        "figures": figures,
    }
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return path
