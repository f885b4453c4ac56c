"""Compile pipelines to KFP IR YAML, with every task's container image set to the Shopfloor image."""

from __future__ import annotations

from pathlib import Path

import yaml
from kfp import compiler

from pipelines.catalog import get
from pipelines.monitored import monitored
from shopfloor.constants import IMAGE

COMPILED_DIR = Path(__file__).parent / "compiled"


def compile_pipeline(name: str, out: str | Path | None = None, image: str | None = None) -> Path:
    """Write pipeline ``name`` as IR YAML (default ``pipelines/compiled/NAME.yaml``) and return the path.

    Components are declared with the default image; ``image`` replaces it in every executor, so one
    compiled file can point at the image a cluster's registry actually holds. The compiled pipeline ends with
    an exit step that records the run's outcome (``pipelines.monitored``).
    """
    out = Path(out) if out else COMPILED_DIR / f"{name}.yaml"
    out.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(monitored(get(name)), str(out))
    if image and image != IMAGE:
        spec, *platform = yaml.safe_load_all(out.read_text())  # the pipeline, then its Kubernetes settings
        for executor in spec["deploymentSpec"]["executors"].values():
            executor["container"]["image"] = image
        out.write_text(yaml.safe_dump_all([spec, *platform], sort_keys=False))
    return out


def documents(path: str | Path) -> tuple[dict, dict]:
    """A compiled pipeline's IR and its Kubernetes platform settings (volumes; empty where it has none)."""
    spec, *platform = yaml.safe_load_all(Path(path).read_text())
    return spec, (platform[0] if platform else {})


def images(path: str | Path) -> set[str]:
    """The container images a compiled pipeline names."""
    spec, _ = documents(path)
    return {e["container"]["image"] for e in spec["deploymentSpec"]["executors"].values()}
