"""The shape of the house: imports run down (CLI -> pipelines -> components -> shopfloor; serving -> shopfloor),
no lower module imports a workflow, one name per pipeline in every layer."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PIPELINES = ("fault_detection", "health_index", "anomaly_detection", "prognosis", "retraining")
WORKFLOWS = {f"shopfloor.{name}" for name in PIPELINES}


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


LOWER = [p for p in files("shopfloor") if p.stem not in PIPELINES or p.parent.name != "shopfloor"]


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
    assert (ROOT / "shopfloor" / f"{name}.py").is_file()
    assert (ROOT / "pipelines" / f"{name}.py").is_file()
    assert (ROOT / "components" / f"{name}.py").is_file() or (ROOT / "components" / name).is_dir()
    from pipelines.catalog import PIPELINES as CATALOG
    from shopfloor.constants import EXPERIMENTS

    command = name.replace("_", "-")
    assert command in CATALOG and command in EXPERIMENTS and EXPERIMENTS[command] == command
    assert CATALOG[command].name == command  # the compiled pipeline's name (the Kubeflow dashboard shows it)


def test_one_module_named_registry():
    named = [p for p in ROOT.rglob("registry*.py") if ".venv" not in p.parts and "tests" not in p.parts]
    assert [p.relative_to(ROOT) for p in named] == [], named  # the registry is one package: shopfloor/registry/
