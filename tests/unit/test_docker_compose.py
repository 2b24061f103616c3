"""docker-compose.yaml and docker/ describe the same stack as stack/, checked without Docker.

Parses the compose file the way Compose would see it (YAML anchors and merge keys resolved)
and holds it against the native stack: stack/stack.env (ports, credentials), stack/versions.env
(pins), stack/services/flink.sh and kafka.sh (settings, jars), stack/pipeline/pipeline.sh
(topics) and ./dev (Airflow connections). Validates against a compose-spec JSON schema when an
installed package ships one (docker-compose 1.29 does) or RTP_COMPOSE_SCHEMA names a file; the
structural checks below run either way.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import re
import tomllib
import xml.etree.ElementTree as ET
from fnmatch import fnmatch
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import jsonschema
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO / "docker-compose.yaml"

# Host port of each published container port, by the stack.env variable naming it.
PORT_VARS = {
    ("kafka", 19092): "KAFKA_PORT",
    ("jobmanager", 8081): "FLINK_REST_PORT",
    ("sql-gateway", 8083): "FLINK_SQL_GATEWAY_PORT",
    ("mariadb", 3306): "MARIADB_PORT",
    ("postgres", 5432): "POSTGRES_PORT",
    ("influxdb1", 8086): "INFLUX1_PORT",
    ("influxdb2", 8086): "INFLUX2_PORT",
    ("clickhouse1", 9000): "CLICKHOUSE1_TCP_PORT",
    ("clickhouse1", 8123): "CLICKHOUSE1_HTTP_PORT",
    ("clickhouse2", 9000): "CLICKHOUSE2_TCP_PORT",
    ("clickhouse2", 8123): "CLICKHOUSE2_HTTP_PORT",
    ("airflow-apiserver", 8080): "AIRFLOW_API_PORT",  # also the native deployment's (./dev airflow)
}
# Components only the compose stack has: their port, unless stack.env comes to define it.
COMPOSE_ONLY_PORTS = {
    ("grafana", 3000): ("GRAFANA_PORT", 13000),
}
FLINK_SERVICES = ("jobmanager", "taskmanager", "sql-gateway")
AIRFLOW_SERVICES = (
    "airflow-init", "airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
)  # fmt: skip
EXPECTED_SERVICES = {
    "kafka", "kafka-init", *FLINK_SERVICES, "mariadb", "postgres", "influxdb1", "influxdb2",
    "clickhouse1", "clickhouse2", "grafana", *AIRFLOW_SERVICES,
}  # fmt: skip
# The Flink image's build args that must equal stack/versions.env.
FLINK_PINS = (
    "FLINK_VERSION", "FLINK_KAFKA_CONNECTOR_VERSION", "KAFKA_CLIENTS_FOR_FLINK_VERSION", "FLINK_CDC_VERSION",
    "ICEBERG_FLINK_RUNTIME", "ICEBERG_VERSION", "HADOOP_VERSION", "POSTGRES_JDBC_VERSION",
)  # fmt: skip
# Release lines of the native stack's servers; images must pin a release within them.
IMAGE_LINES = {
    "mariadb": "10.11.",
    "postgres": "15.",
    "influxdb": "1.8.",
    "clickhouse/clickhouse-server": "",
    "grafana/grafana": "",
}
# Versioned as major.minor; every other image needs at least major.minor.patch.
TWO_PART_VERSIONS = {"postgres"}

TOP_LEVEL_KEYS = {
    "version", "name", "include", "services", "networks", "volumes", "secrets", "configs", "models",
}  # fmt: skip
# Service keys of the compose specification that this file may use.
SERVICE_KEYS = {
    "build", "cap_add", "cap_drop", "command", "container_name", "depends_on", "entrypoint", "env_file",
    "environment", "expose", "extra_hosts", "healthcheck", "hostname", "image", "init", "labels", "logging",
    "mem_limit", "networks", "platform", "ports", "profiles", "pull_policy", "restart", "shm_size",
    "stop_grace_period", "stop_signal", "tmpfs", "ulimits", "user", "volumes", "working_dir",
}  # fmt: skip
HEALTHCHECK_KEYS = {"test", "interval", "timeout", "retries", "start_period", "start_interval", "disable"}
# Where the MariaDB and PostgreSQL images look for first-start SQL.
INITDB = "/docker-entrypoint-initdb.d/"
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")


# ---------------------------------------------------------------- loading


def _env_file(path: Path) -> dict[str, str]:
    env = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            env[key] = value
    return env


@cache
def stack_env() -> dict[str, str]:
    return _env_file(REPO / "stack" / "stack.env")


@cache
def versions() -> dict[str, str]:
    return _env_file(REPO / "stack" / "versions.env")


@cache
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(data, dict), "docker-compose.yaml is not a mapping"
    return data


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def unescape(value: Any) -> str:
    """A value as the container sees it: Compose turns $$ into $."""
    return str(value).replace("$$", "$")


def environment(name: str) -> dict[str, str]:
    env = services()[name].get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: unescape(v) for k, v in env.items()}


def published_ports(name: str) -> list[tuple[str, int, int]]:
    """(host_ip, host_port, container_port) of every port a service publishes."""
    out = []
    for spec in services()[name].get("ports") or []:
        if isinstance(spec, dict):
            out.append((str(spec.get("host_ip", "")), int(spec["published"]), int(spec["target"])))
            continue
        match = re.fullmatch(r"(?:(\[[^\]]+\]|[\d.]+):)?(\d+):(\d+)(?:/(tcp|udp))?", str(spec))
        assert match, f"{name}: port {spec!r} must be HOST_IP:HOST_PORT:CONTAINER_PORT"
        out.append((match.group(1) or "", int(match.group(2)), int(match.group(3))))
    return out


def mounts(name: str) -> list[tuple[str, str, str]]:
    """(kind, source, target) of every volume of a service; kind is 'bind' or 'volume'."""
    out = []
    for spec in services()[name].get("volumes") or []:
        if isinstance(spec, dict):
            out.append((spec["type"], str(spec.get("source", "")), spec["target"]))
            continue
        source, target, *_ = str(spec).split(":")
        kind = "bind" if source.startswith((".", "/", "~")) else "volume"
        out.append((kind, source, target))
    return out


def mount_target(name: str, source: str) -> str:
    found = [
        t for kind, s, t in mounts(name) if s == source or (kind == "bind" and _local(s) == _local(source))
    ]
    assert found, f"{name} does not mount {source}"
    return found[0]


def _local(source: str) -> Path:
    return (REPO / source).resolve()


def volume_of(name: str, path: str) -> str | None:
    """The named volume holding PATH (an absolute path inside the container), if any."""
    for kind, source, target in mounts(name):
        if kind == "volume" and PurePosixPath(path).is_relative_to(target):
            return source
    return None


def image_ref(image: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; the tag is empty when there is none."""
    name = image.split("@", 1)[0]
    repo, sep, tag = name.rpartition(":")
    return (repo, tag) if sep and "/" not in tag else (name, "")


def dockerfile(name: str) -> Path:
    build = services()[name]["build"]
    if isinstance(build, str):
        build = {"context": build}
    return (REPO / build["context"]).resolve() / build.get("dockerfile", "Dockerfile")


def build_args(name: str) -> dict[str, str]:
    args = services()[name]["build"].get("args") or {}
    if isinstance(args, list):
        args = dict(a.split("=", 1) for a in args)
    return {k: str(v) for k, v in args.items()}


def dockerfile_instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with line continuations joined and comments dropped."""
    out, buf = [], ""
    for line in path.read_text().splitlines():
        if line.lstrip().startswith("#") or not (buf or line.strip()):
            continue
        buf += line.rstrip()
        if buf.endswith("\\"):
            buf = buf[:-1] + " "
            continue
        word, _, rest = buf.strip().partition(" ")
        out.append((word.upper(), rest.strip()))
        buf = ""
    return out


def dockerfile_args(path: Path) -> dict[str, str | None]:
    args: dict[str, str | None] = {}
    for word, rest in dockerfile_instructions(path):
        if word == "ARG":
            key, eq, default = rest.partition("=")
            if eq or key not in args:
                args[key] = default if eq else None
    return args


def base_image(name: str) -> str:
    """The FROM image of a service's Dockerfile, built with the args compose passes."""
    path = dockerfile(name)
    args = {k: d or "" for k, d in dockerfile_args(path).items()} | build_args(name)
    frm = next(rest for word, rest in dockerfile_instructions(path) if word == "FROM").split()[0]
    return re.sub(r"\$\{?(\w+)\}?", lambda m: args[m.group(1)], frm)


def assert_arg_defaults_equal_build_args(name: str) -> None:
    """A default in the Dockerfile is a second copy of a pin: it must not drift either."""
    args = build_args(name)
    declared = dockerfile_args(dockerfile(name))
    assert set(args) <= set(declared), (
        f"{name}: build args the Dockerfile ignores: {set(args) - set(declared)}"
    )
    for key, default in declared.items():
        if default is not None and key in args:
            assert default == args[key], (
                f"{dockerfile(name)}: ARG {key}={default}, compose passes {args[key]}"
            )


def flink_properties(name: str) -> dict[str, str]:
    """conf/config.yaml entries the Flink image's entrypoint derives from FLINK_PROPERTIES."""
    env = environment(name)
    props = {}
    for line in env["FLINK_PROPERTIES"].splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition(":")
        assert sep, f"{name}: FLINK_PROPERTIES line {line!r} is not 'key: value'"
        # The entrypoint deletes all whitespace before it splits, then runs envsubst on the value.
        assert " " not in value.strip(), f"{name}: {key} has whitespace inside its value {value!r}"
        props[key.strip()] = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], value.strip())
    return props


def service_of_url(url: str) -> tuple[str, int]:
    match = re.fullmatch(r"https?://([\w.-]+):(\d+)/?.*", url)
    assert match, f"{url!r} is not http://HOST:PORT"
    return match.group(1), int(match.group(2))


def container_ports(name: str) -> set[int]:
    return {target for _, _, target in published_ports(name)}


# ---------------------------------------------------------------- the file itself


def test_compose_file_parses_with_the_stack_components() -> None:
    data = compose()
    unknown = {k for k in data if k not in TOP_LEVEL_KEYS and not k.startswith("x-")}
    assert not unknown, f"unknown top-level keys: {unknown}"
    assert set(services()) == EXPECTED_SERVICES
    for name, svc in services().items():
        unknown = set(svc) - SERVICE_KEYS
        assert not unknown, f"{name}: keys outside the compose specification: {unknown}"
        assert "container_name" not in svc, f"{name}: a fixed container name blocks a second checkout"


def _compose_schemas() -> list[Path]:
    if os.environ.get("RTP_COMPOSE_SCHEMA"):
        return [Path(os.environ["RTP_COMPOSE_SCHEMA"])]
    found = []
    for dist in importlib.metadata.distributions():
        for file in dist.files or ():
            if file.name in ("compose_spec.json", "compose-spec.json"):
                found.append(Path(str(dist.locate_file(file))))
    return found


def _validator(schema: dict[str, Any]) -> Any:
    # Schemas in the wild spell their draft's URI loosely; pick the draft by its name.
    declared = str(schema.get("$schema", ""))
    for draft, cls in (
        ("2020-12", jsonschema.Draft202012Validator),
        ("2019-09", jsonschema.Draft201909Validator),
        ("draft-07", jsonschema.Draft7Validator),
    ):
        if draft in declared:
            return cls(schema)
    return jsonschema.validators.validator_for(schema)(schema)


def test_compose_file_matches_the_compose_spec_schema() -> None:
    schemas = _compose_schemas()
    if not schemas:
        missing = "no compose-spec JSON schema installed (e.g. docker-compose 1.29's, or RTP_COMPOSE_SCHEMA)"
        if os.environ.get("CI", "").lower() == "true":  # ./dev test provides it: CI validates
            pytest.fail(missing)
        pytest.skip(missing)
    for path in schemas:
        schema = json.loads(path.read_text())
        validator = _validator(schema)
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(compose())
        ]
        assert not errors, f"{path}:\n" + "\n".join(errors)


def test_healthchecks_and_durations_are_well_formed() -> None:
    for name, svc in services().items():
        check = svc.get("healthcheck")
        if check is None:
            continue
        assert set(check) <= HEALTHCHECK_KEYS, f"{name}: healthcheck keys {set(check) - HEALTHCHECK_KEYS}"
        assert not check.get("disable"), f"{name}: healthcheck disabled"
        test = check["test"]
        if isinstance(test, list):
            assert test[0] in ("CMD", "CMD-SHELL") and len(test) > 1, f"{name}: healthcheck test {test}"
        for key in ("interval", "timeout", "start_period", "start_interval"):
            if key in check:
                assert DURATION.match(str(check[key])), f"{name}: healthcheck {key} {check[key]!r}"
        assert int(check.get("retries", 3)) >= 1
    for name, svc in services().items():
        if "stop_grace_period" in svc:
            assert DURATION.match(str(svc["stop_grace_period"])), name


# ---------------------------------------------------------------- images and builds


def test_every_service_has_a_pinned_image_or_a_buildable_dockerfile() -> None:
    for name, svc in services().items():
        if "build" in svc:
            assert dockerfile(name).is_file(), f"{name}: no Dockerfile at {dockerfile(name)}"
            _, tag = image_ref(base_image(name))
            assert re.match(r"\d+\.\d+", tag), f"{name}: unpinned base image {base_image(name)!r}"
        assert "image" in svc or "build" in svc, f"{name}: neither image nor build"
        if "image" not in svc:
            continue
        repo, tag = image_ref(svc["image"])
        assert tag, f"{name}: image {svc['image']!r} has no tag"
        assert tag not in ("latest", "lts", "stable"), f"{name}: floating tag {svc['image']!r}"
        parts = 2 if repo in TWO_PART_VERSIONS else 3
        assert re.match(rf"\d+(\.\d+){{{parts - 1},}}", tag), (
            f"{name}: {svc['image']!r} is not pinned to a release"
        )


def test_native_server_lines_are_the_images_release_lines() -> None:
    seen = set()
    for name, svc in services().items():
        repo, tag = image_ref(svc.get("image", ""))
        if repo in IMAGE_LINES:
            assert tag.startswith(IMAGE_LINES[repo]), f"{name}: {svc['image']} outside {IMAGE_LINES[repo]}x"
            seen.add(repo)
    assert seen == set(IMAGE_LINES)


def test_version_pins_equal_stack_versions_env() -> None:
    v = versions()
    for name in ("kafka", "kafka-init"):
        assert services()[name]["image"] == f"apache/kafka:{v['KAFKA_VERSION']}", name
    # The SQL Gateway runs from the same image as the cluster.
    assert v["FLINK_SQL_GATEWAY_VERSION"] == v["FLINK_VERSION"]
    for name in FLINK_SERVICES:
        args = build_args(name)
        for key in FLINK_PINS:
            assert args.get(key) == v[key], (
                f"{name}: build arg {key}={args.get(key)} but versions.env has {v[key]}"
            )
        for key, value in args.items():
            if key in v:
                assert value == v[key], f"{name}: build arg {key}={value} but versions.env has {v[key]}"
        assert services()[name]["image"] == f"rtp-flink:{v['FLINK_VERSION']}", name
        assert_arg_defaults_equal_build_args(name)
        assert base_image(name) == f"flink:{v['FLINK_VERSION']}-scala_2.12-java17"


def _expand(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{?(\w+)\}?", lambda m: values.get(m.group(1), m.group(0)), text)


def flink_image_jars() -> set[str]:
    """GROUP/PATH/ARTIFACT/VERSION of every jar the Flink Dockerfile fetches, as compose builds it."""
    path = dockerfile("jobmanager")
    values = {k: d or "" for k, d in dockerfile_args(path).items()} | build_args("jobmanager")
    fetched = re.findall(r'\bfetch "([^"]+)/[^/"]+\.jar"', path.read_text())
    return {_expand(f, values) for f in fetched}


def test_flink_image_adds_the_native_stacks_jars_and_the_influx_reporter() -> None:
    v = versions()
    expected = {
        f"org/apache/flink/flink-connector-kafka/{v['FLINK_KAFKA_CONNECTOR_VERSION']}",
        f"org/apache/kafka/kafka-clients/{v['KAFKA_CLIENTS_FOR_FLINK_VERSION']}",
        f"org/apache/flink/flink-sql-connector-mysql-cdc/{v['FLINK_CDC_VERSION']}",
        f"org/apache/iceberg/{v['ICEBERG_FLINK_RUNTIME']}/{v['ICEBERG_VERSION']}",
        f"org/apache/hadoop/hadoop-client-api/{v['HADOOP_VERSION']}",
        f"org/apache/hadoop/hadoop-client-runtime/{v['HADOOP_VERSION']}",
        f"org/postgresql/postgresql/{v['POSTGRES_JDBC_VERSION']}",
    }
    assert expected <= flink_image_jars(), f"missing from the Flink image: {expected - flink_image_jars()}"
    # Both ship with the distribution; the build checks they are where Flink looks for them.
    text = dockerfile("jobmanager").read_text()
    assert 'test -f "/opt/flink/plugins/metrics-influx/flink-metrics-influxdb-$FLINK_VERSION.jar"' in text
    assert 'test -f "/opt/flink/opt/flink-sql-gateway-$FLINK_VERSION.jar"' in text


def native_flink_module() -> Path:
    module = REPO / "stack" / "services" / "flink.sh"
    if not module.exists():
        pytest.skip("stack/services/flink.sh does not exist yet")
    return module


def test_flink_image_has_every_jar_of_the_native_flink_module() -> None:
    module = native_flink_module()
    text = module.read_text()
    local = dict(re.findall(r"^\s*(?:local\s+)?([A-Z][A-Z0-9_]*)=([\w.-]+)\s*$", text, re.M))
    values = versions() | local
    jars = flink_image_jars()
    # GROUP:ARTIFACT:VERSION, as maven_fetch (stack/lib.sh) takes them.
    coordinates = re.findall(
        r"\b((?:org|com|io|net)(?:\.[\w-]+)+):(\$?\{?[\w.-]+\}?):(\$?\{?[\w.-]+\}?)", text
    )
    assert coordinates, f"no Maven coordinates found in {module}"
    for group, artifact, version in coordinates:
        if (group, artifact) == ("org.apache.flink", "flink-sql-gateway"):
            continue  # part of the distribution the image is built from (the Dockerfile checks it is there)
        wanted = _expand(f"{group.replace('.', '/')}/{artifact}/{version}", values)
        if "$" in wanted:  # a version only the script knows: the artifact must still be there
            wanted = wanted.rsplit("/", 1)[0]
            assert any(j.rsplit("/", 1)[0] == wanted for j in jars), (
                f"{module} fetches {wanted}, the image not"
            )
        else:
            assert wanted in jars, f"{module} fetches {wanted}; the Flink image has {sorted(jars)}"


def _flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = str(value)
    return flat


def _flink_value(value: str) -> str:
    """A Flink setting as Flink reads it: durations in ms, case and spaces ignored."""
    value = value.replace(" ", "").lower()
    units = {"ms": 1, "s": 1000, "sec": 1000, "secs": 1000, "second": 1000, "seconds": 1000, "min": 60_000}
    match = re.fullmatch(r"(\d+)([a-z]+)", value)
    if match and match.group(2) in units:  # a bare number is milliseconds too
        return str(int(match.group(1)) * units[match.group(2)])
    return value


def test_flink_settings_equal_the_native_stacks() -> None:
    module = native_flink_module()
    match = re.search(r"config\.yaml\" <<(\w+)\n(.*?)\n\1\n", module.read_text(), re.S)
    assert match, f"{module} no longer writes config.yaml from a here-document"
    # The module's own constants (e.g. FLINK_TM_SLOTS=16) are expanded like the stack's env.
    constants = dict(re.findall(r"(?m)^([A-Z][A-Z0-9_]*)=([\w.-]+)$", module.read_text()))
    native = _flatten(yaml.safe_load(_expand(match.group(2), stack_env() | versions() | constants)))

    def comparable(settings: dict[str, str]) -> dict[str, str]:
        # Addresses, ports and paths differ by design; the rest must agree, both ways. The JVM
        # module opens come from each distribution's own config.yaml (the image keeps its own).
        return {
            k: v
            for k, v in settings.items()
            if not re.search(r"(address|host|port|dirs?)$", k) and k != "env.java.opts.all"
        }

    native, ours = comparable(native), comparable(flink_properties("jobmanager"))
    assert set(ours) == set(native), (
        f"only in FLINK_PROPERTIES: {set(ours) - set(native)}, only in {module}: {set(native) - set(ours)}"
    )
    for key, value in native.items():
        assert _flink_value(ours[key]) == _flink_value(value), f"{key}: {ours[key]}, flink.sh has {value}"


def test_airflow_image_is_the_oldest_supported_airflow_with_the_provider() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    floor = next(
        re.search(r">=\s*([\d.]+)", d).group(1)
        for d in project["dependencies"]
        if d.startswith("apache-airflow")
    )
    airflow_version = versions().get("AIRFLOW_VERSION", floor)
    python = re.search(r">=\s*(\d+\.\d+)", project["requires-python"]).group(1)
    for name in AIRFLOW_SERVICES:
        svc = services()[name]
        args = build_args(name)
        assert args == {"AIRFLOW_VERSION": airflow_version, "PYTHON_VERSION": python}, name
        assert svc["image"] == f"rtp-airflow:{airflow_version}", name
        assert svc["build"] == services()["airflow-apiserver"]["build"], f"{name}: a different Airflow build"
        assert_arg_defaults_equal_build_args(name)
        assert base_image(name) == f"apache/airflow:{airflow_version}-python{python}"


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents decides."""
    ignored = False
    candidates = [str(p) for p in reversed(PurePosixPath(path).parents) if str(p) != "."] + [path]
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        if any(fnmatch(c, pattern) or fnmatch(c, pattern.removeprefix("**/")) for c in candidates):
            ignored = not negate
    return ignored


def test_airflow_build_context_sends_what_the_dockerfile_copies() -> None:
    path = dockerfile("airflow-apiserver")
    ignore = path.with_name(path.name + ".dockerignore")
    patterns = [ln.strip() for ln in ignore.read_text().splitlines() if ln.strip()[:1] not in ("", "#")]
    context = (REPO / services()["airflow-apiserver"]["build"]["context"]).resolve()
    copied = []
    for word, rest in dockerfile_instructions(path):
        if word == "COPY":
            copied += [s for s in rest.split()[:-1] if not s.startswith("--")]
    assert copied, f"{path} copies nothing"
    for source in copied:
        assert (context / source).exists(), f"{path} copies {source}, which does not exist"
        assert not _dockerignored(source, patterns), f"{ignore} keeps {source} out of the build context"
    for private in (".stack", ".git", "tests"):
        assert _dockerignored(private, patterns), f"{ignore} sends {private} to the build"


# ---------------------------------------------------------------- dependencies and health


def test_depends_on_targets_exist_and_are_healthchecked() -> None:
    one_shot = {name for name, svc in services().items() if svc.get("restart") == "no"}
    assert one_shot == {"kafka-init", "airflow-init"}
    for name, svc in services().items():
        if name not in one_shot:
            assert "healthcheck" in svc, f"{name} has no healthcheck"
        deps = svc.get("depends_on") or {}
        assert isinstance(deps, dict), f"{name}: depends_on must name a condition for each service"
        for target, spec in deps.items():
            assert target in services(), f"{name} depends on unknown service {target}"
            condition = spec.get("condition")
            if target in one_shot:
                assert condition == "service_completed_successfully", f"{name} -> {target}: {condition}"
            else:
                assert condition == "service_healthy", f"{name} -> {target}: {condition}"
                assert "healthcheck" in services()[target], (
                    f"{name} waits for {target}, which has no healthcheck"
                )


def test_dependencies_have_no_cycle() -> None:
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        if name in done:
            return
        for target in services()[name].get("depends_on") or {}:
            visit(target, (*path, name))
        done.add(name)

    for name in services():
        visit(name, ())


# ---------------------------------------------------------------- ports


def test_published_ports_bind_loopback_and_equal_stack_env() -> None:
    env = stack_env()
    seen: dict[int, str] = {}
    for name in services():
        for host_ip, host_port, target in published_ports(name):
            assert host_ip == env["RTP_HOST"] == "127.0.0.1", (
                f"{name}: port {host_port} binds {host_ip or '*'}"
            )
            if (name, target) in PORT_VARS:
                var = PORT_VARS[name, target]
                assert host_port == int(env[var]), (
                    f"{name}:{target} published on {host_port}, {var}={env[var]}"
                )
            else:
                assert (name, target) in COMPOSE_ONLY_PORTS, f"{name}: unexpected published port {target}"
                var, default = COMPOSE_ONLY_PORTS[name, target]
                assert host_port == int(env.get(var, default)), f"{name}:{target} published on {host_port}"
                assert str(host_port) not in env.values(), f"{name}: {host_port} is taken in stack.env"
            assert host_port not in seen, f"{name} and {seen[host_port]} both publish {host_port}"
            seen[host_port] = name
    missing = [var for key, var in PORT_VARS.items() if int(env[var]) not in seen]
    assert not missing, f"not published: {missing}"


def test_every_port_the_integration_tests_use_is_published() -> None:
    from tests.conftest import STACK_PORTS

    published = {host_port for name in services() for _, host_port, _ in published_ports(name)}
    for component, var in STACK_PORTS.items():
        assert int(stack_env()[var]) in published, f"{component} ({var}) is not published"


def test_kafka_advertises_the_published_listener_to_the_host() -> None:
    env, port = environment("kafka"), int(stack_env()["KAFKA_PORT"])
    advertised = dict(item.split("://", 1) for item in env["KAFKA_ADVERTISED_LISTENERS"].split(","))
    listeners = {
        k: v.rsplit(":", 1)[1] for k, v in (i.split("://", 1) for i in env["KAFKA_LISTENERS"].split(","))
    }
    external = [name for name, addr in advertised.items() if addr == f"{stack_env()['RTP_HOST']}:{port}"]
    assert external, f"no listener advertises {stack_env()['RTP_HOST']}:{port}: {advertised}"
    # The advertised port is what clients dial, so the container must listen on the same one.
    assert int(listeners[external[0]]) == port
    internal = [name for name, addr in advertised.items() if addr == "kafka:9092"]
    assert internal and env["KAFKA_INTER_BROKER_LISTENER_NAME"] == internal[0]
    assert env["KAFKA_PROCESS_ROLES"] == "broker,controller"


# Broker settings that differ by design: addresses, the quorum and where the log lives.
KAFKA_TOPOLOGY = {
    "node.id", "listeners", "advertised.listeners", "listener.security.protocol.map", "log.dirs",
    "controller.listener.names", "inter.broker.listener.name", "controller.quorum.bootstrap.servers",
    "controller.quorum.voters",
}  # fmt: skip


def test_kafka_broker_settings_equal_the_native_stacks() -> None:
    module = REPO / "stack" / "services" / "kafka.sh"
    match = re.search(r"server\.properties\" <<(\w+)\n(.*?)\n\1\n", module.read_text(), re.S)
    assert match, f"{module} no longer writes server.properties from a here-document"
    native = dict(
        line.split("=", 1) for line in match.group(2).splitlines() if "=" in line and not line.startswith("#")
    )
    native = {k: v for k, v in native.items() if k not in KAFKA_TOPOLOGY}
    # The image turns KAFKA_A_B into the broker setting a.b.
    ours = {
        k.removeprefix("KAFKA_").lower().replace("_", "."): v
        for k, v in environment("kafka").items()
        if k.startswith("KAFKA_") and k != "KAFKA_HEAP_OPTS"
    }
    ours = {k: v for k, v in ours.items() if k not in KAFKA_TOPOLOGY}
    assert ours == native, (
        f"docker-compose.yaml vs stack/services/kafka.sh: {set(ours.items()) ^ set(native.items())}"
    )


# ---------------------------------------------------------------- files and volumes


def test_every_mounted_local_file_exists() -> None:
    for name in services():
        for kind, source, target in mounts(name):
            if kind == "bind":
                assert source.startswith("./"), f"{name}: bind mount {source} must be relative to the repo"
                assert _local(source).exists(), f"{name}: {source} (mounted at {target}) does not exist"
                if PurePosixPath(target).suffix:
                    assert _local(source).is_file(), f"{name}: {source} should be a file for {target}"


def test_named_volumes_are_declared_and_used() -> None:
    declared = set(compose().get("volumes") or {})
    used = {source for name in services() for kind, source, _ in mounts(name) if kind == "volume"}
    assert used == declared, f"undeclared: {used - declared}, unused: {declared - used}"


def test_kafka_topics_equal_the_pipelines() -> None:
    text = (REPO / "stack" / "pipeline" / "pipeline.sh").read_text()
    match = re.search(r"^PL_TOPICS=\(([^)]*)\)", text, re.M)
    assert match, "stack/pipeline/pipeline.sh no longer defines PL_TOPICS"
    expected = sorted(t.strip("\"'") for t in match.group(1).split())
    assert sorted(environment("kafka-init")["RTP_TOPICS"].split()) == expected
    assert (
        mount_target("kafka-init", "./docker/kafka/create-topics.sh") in services()["kafka-init"]["command"]
    )


# ---------------------------------------------------------------- Flink


def test_flink_processes_share_image_state_and_configuration() -> None:
    env = stack_env()
    props = {name: flink_properties(name) for name in FLINK_SERVICES}
    assert len({services()[n]["image"] for n in FLINK_SERVICES}) == 1
    for name, p in props.items():
        assert p["jobmanager.rpc.address"] == "jobmanager"
        assert p["rest.address"] == "jobmanager" and int(p["rest.port"]) in container_ports("jobmanager")
        assert p["execution.checkpointing.externalized-checkpoint-retention"] == "RETAIN_ON_CANCELLATION"
        for key in ("execution.checkpointing.dir", "execution.checkpointing.savepoint-dir"):
            assert p[key].startswith("file:///"), f"{name}: {key}={p[key]}"
            # The same named volume at the same path in every Flink process.
            volumes = {volume_of(n, p[key].removeprefix("file://")) for n in FLINK_SERVICES}
            assert len(volumes) == 1 and None not in volumes, f"{key} {p[key]} is not on one shared volume"
        assert p["metrics.reporter.influxdb.factory.class"].endswith(".InfluxdbReporterFactory")
        assert p["metrics.reporter.influxdb.db"] == env["INFLUX_DB"]
        host = p["metrics.reporter.influxdb.host"]
        assert services()[host]["image"].startswith("influxdb:"), f"{name} reports to {host}"
        assert int(p["metrics.reporter.influxdb.port"]) in container_ports(host)
    assert props["taskmanager"]["taskmanager.numberOfTaskSlots"] == "24"
    # As in the native stack: JobManager metrics to shard 1, TaskManager metrics to shard 2.
    assert props["jobmanager"]["metrics.reporter.influxdb.host"] == "influxdb1"
    assert props["taskmanager"]["metrics.reporter.influxdb.host"] == "influxdb2"
    assert int(props["sql-gateway"]["sql-gateway.endpoint.rest.port"]) in container_ports("sql-gateway")
    assert "sql-gateway.sh" in " ".join(services()["sql-gateway"]["command"])


# ---------------------------------------------------------------- stores


def test_credentials_and_databases_equal_stack_env() -> None:
    env = stack_env()
    assert environment("mariadb")["MARIADB_ROOT_PASSWORD"] == env["MARIADB_ROOT_PASSWORD"]
    sql = _local("./docker/mariadb/init/01-rtp.sql").read_text()
    assert mount_target("mariadb", "./docker/mariadb/init/01-rtp.sql").startswith(INITDB)
    user, password = env["MARIADB_CDC_USER"], env["MARIADB_CDC_PASSWORD"]
    assert re.search(rf"CREATE USER IF NOT EXISTS '{user}'@'%' IDENTIFIED BY '{re.escape(password)}'", sql)
    assert re.search(rf"GRANT [^;]*REPLICATION SLAVE[^;]* TO '{user}'@'%'", sql)
    assert "CREATE DATABASE IF NOT EXISTS shop" in sql

    pg = environment("postgres")
    assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]) == (
        env["POSTGRES_USER"],
        env["POSTGRES_PASSWORD"],
        env["POSTGRES_CATALOG_DB"],
    )
    init = _local("./docker/postgres/init/01-airflow.sql").read_text()
    assert mount_target("postgres", "./docker/postgres/init/01-airflow.sql").startswith(INITDB)
    assert re.search(rf"CREATE DATABASE airflow OWNER {env['POSTGRES_USER']}\b", init)

    for name in ("influxdb1", "influxdb2"):
        assert environment(name)["INFLUXDB_DB"] == env["INFLUX_DB"], name


def test_mariadb_writes_the_binlog_flink_cdc_reads() -> None:
    flags = {f.split("=", 1)[0]: f.partition("=")[2] for f in services()["mariadb"]["command"]}
    assert "--log-bin" in flags
    assert flags["--binlog-format"] == "ROW"
    assert flags["--binlog-row-image"] == "FULL"
    assert flags["--event-scheduler"] == "ON"
    assert flags["--server-id"] == "1"


def test_clickhouse_shards_form_rtp_cluster() -> None:
    shards = ("clickhouse1", "clickhouse2")
    macros = {}
    for name in shards:
        assert environment(name).get("CLICKHOUSE_SKIP_USER_SETUP") == "1", name
        files = {t: s for kind, s, t in mounts(name) if kind == "bind"}
        assert "/etc/clickhouse-server/users.d/rtp.xml" in files, name
        config = ET.parse(_local(files["/etc/clickhouse-server/config.d/rtp.xml"])).getroot()
        replicas = config.findall("./remote_servers/rtp_cluster/shard/replica")
        assert [(r.findtext("host"), int(r.findtext("port"))) for r in replicas] == [
            (shard, 9000) for shard in shards
        ]
        assert all(9000 in container_ports(shard) for shard in shards)
        macro = ET.parse(_local(files["/etc/clickhouse-server/config.d/macros.xml"])).getroot()
        macros[name] = (macro.findtext("./macros/shard"), macro.findtext("./macros/replica"))
    assert macros == {"clickhouse1": ("1", "clickhouse1"), "clickhouse2": ("2", "clickhouse2")}


def test_grafana_provisions_both_influxdb_shards() -> None:
    provisioning = next(s for kind, s, t in mounts("grafana") if t == "/etc/grafana/provisioning")
    datasources = []
    for path in sorted((_local(provisioning) / "datasources").glob("*.y*ml")):
        datasources += yaml.safe_load(path.read_text()).get("datasources", [])
    influx = [d for d in datasources if d["type"] == "influxdb"]
    targets = {service_of_url(d["url"]) for d in influx}
    assert targets == {("influxdb1", 8086), ("influxdb2", 8086)}
    for host, port in targets:
        assert port in container_ports(host)
    assert all(d["jsonData"]["dbName"] == stack_env()["INFLUX_DB"] for d in influx)
    assert [d["isDefault"] for d in influx if d.get("isDefault")] == [True]

    providers = []
    for path in sorted((_local(provisioning) / "dashboards").glob("*.y*ml")):
        providers += yaml.safe_load(path.read_text()).get("providers", [])
    mounted = {t for kind, _, t in mounts("grafana") if kind == "bind"}
    assert providers and all(p["options"]["path"] in mounted for p in providers)
    depends = services()["grafana"]["depends_on"]
    assert {"influxdb1", "influxdb2"} <= set(depends)


MONITORING_DOC = REPO / "docs" / "monitoring.md"
MIXED = "-- Mixed --"  # Grafana's built-in data source that lets each query pick its own


def monitoring_schema() -> dict[str, dict[str, set[str]]]:
    """measurement -> {"tag": names, "field": names}, from the tables of docs/monitoring.md."""
    schema: dict[str, dict[str, set[str]]] = {}
    current: dict[str, set[str]] | None = None
    for line in MONITORING_DOC.read_text().splitlines():
        if m := re.match(r"^### `(\w+)`", line):
            current = schema.setdefault(m[1], {"tag": set(), "field": set()})
        elif line.startswith("## "):
            current = None
        elif current is not None and (m := re.match(r"^\| (tag|field) \| `(\w+)` \|", line)):
            current[m[1]].add(m[2])
    return schema


def _grafana_dir(target: str) -> Path:
    return _local(next(s for kind, s, t in mounts("grafana") if kind == "bind" and t == target))


def dashboards() -> dict[str, dict[str, Any]]:
    providers = []
    for path in sorted((_grafana_dir("/etc/grafana/provisioning") / "dashboards").glob("*.y*ml")):
        providers += yaml.safe_load(path.read_text()).get("providers", [])
    out = {}
    for provider in providers:
        for path in sorted(_grafana_dir(provider["options"]["path"]).glob("*.json")):
            out[path.name] = json.loads(path.read_text())  # fails the test on invalid JSON
    return out


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for panel in panels:
        out += [panel, *_panels(panel.get("panels", []))] if panel.get("type") == "row" else [panel]
    return [p for p in out if p.get("type") != "row"]


def test_dashboards_query_every_shard_and_only_documented_measurements() -> None:
    datasources = []
    for path in sorted((_grafana_dir("/etc/grafana/provisioning") / "datasources").glob("*.y*ml")):
        datasources += yaml.safe_load(path.read_text()).get("datasources", [])
    shards = {d["uid"] for d in datasources if d["type"] == "influxdb"}
    schema = monitoring_schema()
    assert {"rtp_kafka_partition_lag", "rtp_kafka_group_lag", "rtp_cdc_watermark", "rtp_completeness"} <= set(
        schema
    )
    boards = dashboards()
    assert "rtp-lag.json" in boards
    assert len({b["uid"] for b in boards.values()}) == len(boards), "dashboard uids must be unique"
    for file, board in boards.items():
        variables = {
            v["name"] for v in board.get("templating", {}).get("list", []) if v["type"] == "datasource"
        }
        panels = _panels(board["panels"])
        assert panels, f"{file}: no panels"
        for panel in panels:
            where = f"{file}: panel {panel['title']!r}"
            uid = panel["datasource"]["uid"]
            targets = panel["targets"]
            assert len({t["refId"] for t in targets}) == len(targets), f"{where}: duplicate refIds"
            used = {t.get("datasource", panel["datasource"])["uid"] for t in targets}
            if uid == MIXED:
                # A series lives in one shard, unknown to the reader: ask every shard, the same question.
                assert used == shards, f"{where} queries {sorted(used)}, not every shard {sorted(shards)}"
                assert len({t["query"] for t in targets}) == 1, f"{where}: shards asked different queries"
            else:
                assert uid in shards or uid.strip("${}") in variables, f"{where}: unknown data source {uid}"
                assert used <= shards | {uid}, where
            for t in targets:
                query = t["query"]
                m = re.search(r'\bFROM "(\w+)"', query)
                assert m and m[1] in schema, f"{where}: measurement of {query!r} is not in docs/monitoring.md"
                names = schema[m[1]]["tag"] | schema[m[1]]["field"]
                unknown = set(re.findall(r'"(\w+)"', query)) - names - {m[1]}
                assert not unknown, f"{where}: {sorted(unknown)} of {m[1]} are not in docs/monitoring.md"
                assert "$timeFilter" in query, f"{where}: query without $timeFilter reads all history"


def test_exporter_writes_exactly_the_documented_schema() -> None:
    from airflow_provider_rtp.kafka.models import GroupLag, PartitionLag, PartitionStatus
    from airflow_provider_rtp.monitoring import exporter as ex
    from airflow_provider_rtp.monitoring import lake_health

    target = ex.LagTarget("p", "g", ("t",), "hb", "cdc")
    part = PartitionLag("t", 0, 0, 9, 5, PartitionStatus.LAGGING, 4, 5, 1, 1, 2, True, True)
    points = [
        *ex.group_points(target, GroupLag("g", ("t",), "STABLE", 3, (part,))),
        ex.watermark_point(target, "hb", 1, 3),
        ex.completeness_point(
            "p",
            window_start_ms=0,
            window_end_ms=1,
            complete=True,
            watermark_ms=1,
            waiting_on="x",
            decided_at_ms=2,
        ),
    ]
    schema = monitoring_schema()
    assert set(ex.MEASUREMENTS) | set(lake_health.MEASUREMENTS) == set(schema)
    for point in points:
        doc = schema[point.measurement]
        assert set(point.tags) == doc["tag"], point.measurement
        assert set(point.fields) == doc["field"], point.measurement


def test_lake_health_writes_exactly_the_documented_schema() -> None:
    from airflow_provider_rtp.iceberg.health import HealthReport, PartitionHealth, TableHealth
    from airflow_provider_rtp.monitoring.lake_health import health_points

    health = TableHealth("ods.t", 1, 0, 0, 1, partitions=(PartitionHealth("h=1"), PartitionHealth("")))
    schema = monitoring_schema()
    for point in health_points(HealthReport.judge(health)):
        doc = schema[point.measurement]
        assert set(point.tags) == doc["tag"], point.measurement
        assert set(point.fields) == doc["field"], point.measurement


# ---------------------------------------------------------------- Airflow


def _dev_connection_keys(var: str) -> set[str]:
    lines = [ln for ln in (REPO / "dev").read_text().splitlines() if f"export {var}=" in ln]
    assert len(lines) == 1, f"./dev no longer sets {var} on one line: compare the connection by hand"
    return set(re.findall(r'\\"(\w+)\\":', lines[0])) - {"extra"}


def _keys(conn: dict[str, Any]) -> set[str]:
    return set(conn) - {"extra"} | set(conn.get("extra", {}))


def test_airflow_connections_address_the_compose_services() -> None:
    env = stack_env()
    for name in AIRFLOW_SERVICES:
        a = environment(name)
        rtp = json.loads(a["AIRFLOW_CONN_RTP_DEFAULT"])
        iceberg = json.loads(a["AIRFLOW_CONN_ICEBERG_DEFAULT"])
        # Every field ./dev sets for the native stack is set here too.
        assert _dev_connection_keys("AIRFLOW_CONN_RTP_DEFAULT") <= _keys(rtp), name
        assert _dev_connection_keys("AIRFLOW_CONN_ICEBERG_DEFAULT") <= _keys(iceberg), name

        assert rtp["conn_type"] == "rtp"
        host, port = service_of_url(rtp["host"])
        assert (host, port) == ("jobmanager", 8081) and port in container_ports(host)
        host, port = service_of_url(rtp["extra"]["sql_gateway_url"])
        assert host == "sql-gateway" and port in container_ports(host)
        assert service_of_url(rtp["extra"]["web_ui_url"]) == (env["RTP_HOST"], int(env["FLINK_REST_PORT"]))

        assert iceberg["conn_type"] == "iceberg"
        assert (iceberg["host"], iceberg["port"]) == ("postgres", 5432)
        assert 5432 in container_ports("postgres")
        assert (iceberg["login"], iceberg["password"], iceberg["schema"]) == (
            env["POSTGRES_USER"],
            env["POSTGRES_PASSWORD"],
            env["POSTGRES_CATALOG_DB"],
        )
        assert iceberg["extra"]["catalog_type"] == "sql"
        # pyiceberg reads the files Flink writes: the same volume at the same path.
        warehouse = iceberg["extra"]["warehouse"].removeprefix("file://")
        assert volume_of(name, warehouse) == volume_of("taskmanager", warehouse) is not None, name

        user, pw = env["POSTGRES_USER"], env["POSTGRES_PASSWORD"]
        assert (
            a["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
            == f"postgresql+psycopg2://{user}:{pw}@postgres:5432/airflow"
        )
        assert service_of_url(a["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"])[0] == "airflow-apiserver"
        assert mount_target(name, "./dags_examples") == a.get(
            "AIRFLOW__CORE__DAGS_FOLDER", "/opt/airflow/dags"
        )
        kafka = json.loads(a["AIRFLOW_CONN_KAFKA_DEFAULT"])
        assert _dev_connection_keys("AIRFLOW_CONN_KAFKA_DEFAULT") <= _keys(kafka), name
        host, port = kafka["extra"]["bootstrap.servers"].split(":")
        assert (
            host == "kafka"
            and f"INTERNAL://{host}:{port}" in environment("kafka")["KAFKA_ADVERTISED_LISTENERS"]
        )
        clickhouse = json.loads(a["AIRFLOW_CONN_CLICKHOUSE_DEFAULT"])
        # http_ports is the native stack's own (its shards' HTTP ports differ); not needed here.
        assert _dev_connection_keys("AIRFLOW_CONN_CLICKHOUSE_DEFAULT") - {"http_ports"} <= _keys(clickhouse)
        assert clickhouse["conn_type"] == "clickhouse" and clickhouse["host"] == "clickhouse1", name
        assert {clickhouse["port"], clickhouse["extra"]["native_port"]} <= set(container_ports("clickhouse1"))
        # Tasks and triggers run in these; they wait for what the DAGs talk to.
        if name in ("airflow-scheduler", "airflow-triggerer"):
            assert {"sql-gateway", "postgres", "kafka-init", "mariadb"} <= set(services()[name]["depends_on"])


def test_airflow_runs_as_the_uid_that_owns_the_shared_warehouse() -> None:
    # The Flink image's flink user is uid 9999; both images hand /data/warehouse to it.
    for name in AIRFLOW_SERVICES:
        assert str(services()[name]["user"]).split(":") == ["9999", "0"], name
    assert "install -d -o 9999 -g 0" in dockerfile("airflow-apiserver").read_text()
    assert re.search(
        r"install -d -o flink -g flink [^\n]*/data/warehouse", dockerfile("jobmanager").read_text()
    )
