"""The package's layers: imports point one way only, and no module imports itself back.

    completeness                      pure decision core + the Pipeline declaration
    flink kafka iceberg cdc monitoring clickhouse   one system each
    evaluation                        gathers observations and runs the core
    hooks                             Airflow connections -> configured clients
    operators sensors triggers assets links cli plugins   wiring

Every import counts, also one inside a function or under ``TYPE_CHECKING``: a lazy
import is still a dependency, and a cycle hidden behind one is still a cycle.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import airflow_provider_rtp

PACKAGE = "airflow_provider_rtp"
ROOT = Path(airflow_provider_rtp.__file__).parent

# Lower rank = lower layer. A module may import its own layer's package and lower layers.
RANKS = {
    "": 0,  # the package itself, exceptions (the error root), get_provider_info (plain data)
    "completeness": 1,
    "flink": 2,
    "kafka": 2,
    "iceberg": 2,
    "cdc": 2,
    "monitoring": 2,
    "clickhouse": 2,
    "evaluation": 3,
    "hooks": 4,
    "operators": 5,
    "sensors": 5,
    "triggers": 5,
    "assets": 5,
    "links": 5,
    "cli": 5,
    "plugins": 5,
}
SYSTEMS = {name for name, rank in RANKS.items() if rank == 2}
# One system package may read another's plain models where its job is to translate them.
SYSTEM_PEERS = {
    ("monitoring", "kafka"),  # the lag exporter turns Kafka lag into InfluxDB points
    ("monitoring", "iceberg"),  # a table's health report becomes InfluxDB points
    ("iceberg", "clickhouse"),  # the chdb engine reads a window through ClickHouse SQL
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def _imports(module: str, path: Path) -> set[str]:
    """Modules of this package that ``module`` imports, anywhere in its text."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != PACKAGE:
                continue
            submodules = {f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in MODULES}
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(target)
    found.discard(module)
    return {m for m in found if m in MODULES}


GRAPH = {m: _imports(m, p) for m, p in MODULES.items()}


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in RANKS else ""


def test_every_module_has_a_layer() -> None:
    loose = sorted(
        m for m in MODULES if m.count(".") == 1 and _layer(m) == "" and not m.endswith(".__init__")
    )
    assert set(loose) <= {f"{PACKAGE}.exceptions", f"{PACKAGE}.get_provider_info"}, loose


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_imports(module: str) -> None:
    importlib.import_module(module)


def test_imports_point_down() -> None:
    wrong = []
    for module, deps in GRAPH.items():
        layer = _layer(module)
        for dep in deps:
            target = _layer(dep)
            if RANKS[target] < RANKS[layer] or target == layer:
                continue
            if RANKS[target] == RANKS[layer] == 5:
                continue  # wiring may use wiring (a sensor defers to its trigger)
            if layer in SYSTEMS and (layer, target) in SYSTEM_PEERS:
                continue
            wrong.append(f"{module} ({layer or 'root'}) imports {dep} ({target or 'root'})")
    assert wrong == []


def test_no_import_cycles() -> None:
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(GRAPH[node]):
            if state.get(dep) == 1:
                cycles.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module)
    assert [" -> ".join(c) for c in cycles] == []


@pytest.mark.parametrize(
    "module", [f"{PACKAGE}.completeness", f"{PACKAGE}.completeness.pipeline", f"{PACKAGE}.evaluation"]
)
def test_light_modules_import_no_client_library(module: str) -> None:
    script = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    loaded = set(
        subprocess.run(
            [sys.executable, "-c", script], check=True, capture_output=True, text=True
        ).stdout.split()
    )
    heavy = {"airflow", "requests", "confluent_kafka", "pyiceberg"}
    if module.endswith(".evaluation"):
        heavy = {"airflow"}  # the rule set drives the system clients, but never Airflow
    assert heavy & {m.split(".")[0] for m in loaded} == set()


def test_walks_the_whole_package() -> None:
    walked = {m.name for m in pkgutil.walk_packages([str(ROOT)], PACKAGE + ".")}
    assert walked <= set(MODULES)


def test_unit_tests_mirror_the_package() -> None:
    """tests/unit/<folder>/ tests airflow_provider_rtp/<folder>/; only repo-wide checks sit on top."""
    tests = Path(__file__).parent
    folders = {p.name for p in tests.iterdir() if p.is_dir() and not p.name.startswith("__")}
    assert folders <= {name for name in RANKS if name}, folders - set(RANKS)
    top = {p.name for p in tests.glob("test_*.py")}
    repo_wide = {
        "test_layers.py",
        "test_lint.py",
        "test_provider_info.py",
        "test_docker_compose.py",
        "test_dags_examples.py",
    }
    assert top <= repo_wide, top - repo_wide


# Extras that add a capability (not the test tools): a library they declare may be imported.
FEATURE_EXTRAS = ("clickhouse", "lake-read")


def test_every_imported_distribution_is_declared() -> None:
    """A library the package imports is a dependency it declares (not one that comes along)."""
    import re
    import tomllib
    from importlib.metadata import packages_distributions

    project = tomllib.loads((ROOT.parent / "pyproject.toml").read_text())["project"]
    declared = {
        re.split(r"[\[<>=!~; ]", spec, maxsplit=1)[0].lower().replace("_", "-")
        for extra in (project["dependencies"], *(project["optional-dependencies"][e] for e in FEATURE_EXTRAS))
        for spec in extra
    }
    owners = packages_distributions()
    imported = set()
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            imported.update(n.split(".")[0] for n in names)
    third_party = imported - set(sys.stdlib_module_names) - {PACKAGE}
    missing = {
        top: owners.get(top)
        for top in third_party
        if not {d.lower().replace("_", "-") for d in owners.get(top, [])} & declared
    }
    assert missing == {}
