"""The shape of the house: imports run down (CLI -> pipelines -> components -> shopfloor; serving -> shopfloor),
no lower module imports a workflow, one name per pipeline in every layer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ("fault_detection", "health_index", "anomaly_detection", "prognosis", "retraining", "surface_inspection")
WORKFLOWS = {f"shopfloor.{name}.workflow" for name in PIPELINES}  # each pipeline's steps, in its package


def imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth of its code."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def reaches(found: set[str], prefixes: tuple[str, ...]) -> list[str]:
    return sorted(m for m in found if any(m == p or m.startswith(p + ".") for p in prefixes))


@pytest.mark.parametrize("path", files("shopfloor"), ids=lambda p: str(p.relative_to(ROOT)))
def test_shopfloor_imports_no_upper_layer(path):
    bad = reaches(imports(path), ("kfp", "kserve", "components", "pipelines", "serving", "shopfloor_cli"))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


LOWER = [p for p in files("shopfloor") if p.name != "workflow.py" or p.parent.name not in PIPELINES]


@pytest.mark.parametrize("path", LOWER, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_lower_module_imports_a_workflow(path):
    bad = reaches(imports(path), tuple(WORKFLOWS))
    assert not bad, f"{path.relative_to(ROOT)} imports the workflow(s) {bad}"


@pytest.mark.parametrize("path", files("serving"), ids=lambda p: str(p.relative_to(ROOT)))
def test_serving_imports_neither_workflows_nor_pipelines(path):
    bad = reaches(imports(path), ("components", "pipelines", "shopfloor_cli", *WORKFLOWS))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("path", files("components"), ids=lambda p: str(p.relative_to(ROOT)))
def test_components_import_no_pipeline(path):
    bad = reaches(imports(path), ("pipelines", "shopfloor_cli", "serving"))
    assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


@pytest.mark.parametrize("name", PIPELINES)
def test_one_name_per_pipeline_in_every_layer(name):
    assert (ROOT / "shopfloor" / name / "workflow.py").is_file()
    assert (ROOT / "pipelines" / f"{name}.py").is_file()
    assert (ROOT / "components" / f"{name}.py").is_file() or (ROOT / "components" / name).is_dir()
    from pipelines.catalog import PIPELINES as CATALOG
    from shopfloor.constants import EXPERIMENTS

    command = name.replace("_", "-")
    assert command in CATALOG and command in EXPERIMENTS and EXPERIMENTS[command] == command
    assert CATALOG[command].name == command  # the compiled pipeline's name (the Kubeflow dashboard shows it)


@pytest.mark.parametrize("kind", ["fault-detection", "health-index", "anomaly-detection", "prognosis"])
def test_a_kind_is_named_as_its_pipeline_and_lives_in_its_package(kind):
    from shopfloor.kinds import KINDS

    package = f"shopfloor.{kind.replace('-', '_')}."
    assert KINDS[kind].model.startswith(package) and KINDS[kind].retrainer.startswith(package)


def test_shopfloor_holds_one_package_per_pipeline_and_the_platforms():
    packages = {p.name for p in (ROOT / "shopfloor").iterdir() if (p / "__init__.py").is_file()}
    assert packages == {*PIPELINES, "data", "monitoring", "platform", "registry", "synth"}


def test_one_module_named_registry():
    named = [p for p in ROOT.rglob("registry*.py") if ".venv" not in p.parts and "tests" not in p.parts]
    assert [p.relative_to(ROOT) for p in named] == [], named  # the registry is one package: shopfloor/registry/


def _module_graph() -> dict[str, set[str]]:
    """Every Shopfloor module (``shopfloor``, ``serving``) to the Shopfloor modules it imports, imports inside
    functions and relative imports included."""
    modules = {}
    for package in ("shopfloor", "serving"):
        for path in files(package):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                module = ".".join([*base, node.module] if node.module else base) if node.level else node.module
                for alias in node.names:
                    target = f"{module}.{alias.name}"
                    found.add(target if target in modules else module)
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle():
    assert _cycles(_module_graph()) == []


MODEL_KINDS = ("fault-detection", "health-index", "anomaly-detection", "prognosis")
NAMED_KIND = "|".join(MODEL_KINDS)
KIND_BRANCH = re.compile(rf"is_classifier|KIND\s*[!=]=|kind\s*[!=]=\s*(\w+\.KIND|[\"']({NAMED_KIND})[\"'])")
KIND_PACKAGES = (
    "shopfloor/fault_detection/",
    "shopfloor/health_index/",
    "shopfloor/anomaly_detection/",
    "shopfloor/prognosis/",
    "shopfloor/synth/",
)


@pytest.mark.parametrize("package", ["shopfloor", "serving", "shopfloor_cli"])
def test_the_retraining_asks_the_kind_and_never_branches_on_it(package):
    """The retraining steps, the log's training rows and the retraining command ask the kind's retrainer."""
    branching = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in files(package)
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if KIND_BRANCH.search(line) and not str(p.relative_to(ROOT)).startswith(KIND_PACKAGES)
    ]
    known = {"shopfloor_cli/prognose.py"}  # the prognosis command refuses another kind's model, by design
    assert [b for b in branching if b.split(":")[0] not in known] == []


READS_SHOPFLOOR_VARIABLE = re.compile(r"""(environ\.get\(|environ\[|getenv\()\s*["']SHOPFLOOR_""")


@pytest.mark.parametrize("package", ["shopfloor", "serving", "shopfloor_cli", "components", "pipelines"])
def test_shopfloor_variables_are_read_only_in_config(package):
    reading = [
        f"{p.relative_to(ROOT)}:{n}"
        for p in files(package)
        if p.name != "config.py"
        for n, line in enumerate(p.read_text().splitlines(), 1)
        if READS_SHOPFLOOR_VARIABLE.search(line)
    ]
    assert reading == []


@pytest.mark.parametrize("name", PIPELINES)
def test_a_pipelines_components_are_named_after_it(name):
    """``<pipeline>_<verb>``: a component's name says which pipeline's step it is, in the DAG and on the
    Kubeflow dashboard."""
    folder = ROOT / "components" / name
    paths = sorted(folder.glob("[a-z]*.py")) if folder.is_dir() else [ROOT / "components" / f"{name}.py"]
    functions = [
        node.name
        for path in paths
        for node in ast.parse(path.read_text()).body
        if isinstance(node, ast.FunctionDef) and any("component" in ast.unparse(d) for d in node.decorator_list)
    ]
    assert functions and [f for f in functions if not f.startswith(f"{name}_")] == []
