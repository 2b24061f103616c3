"""Where the local stack listens, read from stack/stack.env (the one place ports are set)."""

from __future__ import annotations

import os
import socket
from functools import cache
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@cache
def stack_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for line in (REPO / "stack" / "stack.env").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    env.setdefault("RTP_STATE", os.environ.get("RTP_STATE", str(REPO / ".stack")))
    env.setdefault("RTP_CACHE", os.environ.get("RTP_CACHE", str(Path.home() / ".cache" / "rtp-stack")))
    return env


def port(name: str) -> int:
    return int(stack_env()[name])


def host() -> str:
    return stack_env()["RTP_HOST"]


def listening(p: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((host(), p)) == 0


def kafka_bootstrap() -> str:
    return f"{host()}:{port('KAFKA_PORT')}"


def flink_rest_url() -> str:
    return f"http://{host()}:{port('FLINK_REST_PORT')}"


def sql_gateway_url() -> str:
    return f"http://{host()}:{port('FLINK_SQL_GATEWAY_PORT')}"


def flink_home() -> Path:
    versions = dict(
        line.split("=", 1)
        for line in (REPO / "stack" / "versions.env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    return Path(stack_env()["RTP_CACHE"]) / f"flink-{versions['FLINK_VERSION']}"
