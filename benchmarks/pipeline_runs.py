"""What a user's first run of each pipeline makes: its comparison table, the model it chose and the figures of its
run report, kept for the docs (each pipeline's page and the summary opening the measured-results page).

For every pipeline (fault detection, health index, anomaly detection, prognosis, surface inspection) this runs
``shopfloor run PIPELINE`` with its defaults in a data directory of its own (or takes one that already holds its
champion: ``--homes DIR`` with one folder per pipeline), then reads the champion's MLflow run: the comparison table
it logged, the method it chose, its validation and test figures, and its PNG figures, copied to
``benchmarks/results/figures/PIPELINE/``. Nothing is retrained for the benchmark: the figures are the run's own.

    .venv/bin/python benchmarks/pipeline_runs.py [--homes DIR] [--pipelines fault-detection,...]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, champion_home, save  # noqa: E402

from shopfloor.constants import DEFAULT_MODELS  # noqa: E402

PIPELINES = ("fault-detection", "health-index", "anomaly-detection", "prognosis", "surface-inspection")
FIGURES = RESULTS / "figures"
#: The comparison column each pipeline chooses its model by, and which way is better (as its selection code does).
SELECTION = {
    "fault-detection": ("cv_f2", "higher"),
    "health-index": ("spearman_rul", "lower"),
    "anomaly-detection": ("valid_ap", "higher"),
    "surface-inspection": ("valid_ap", "higher"),
    "prognosis": ("valid_rmse", "lower"),
}


def _artifacts(client, run_id: str, path: str = "") -> list[str]:
    """Every artifact file of the run, by its path."""
    out: list[str] = []
    for item in client.list_artifacts(run_id, path):
        out += _artifacts(client, run_id, item.path) if item.is_dir else [item.path]
    return out


def _title(path: str) -> str:
    return Path(path).stem.replace("_", " ")


def read_run(pipeline: str, home: Path) -> dict[str, Any]:
    """The champion's run in ``home``: its comparison, choice, figures and the PNGs copied for the docs."""
    import mlflow
    from mlflow import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{home / 'mlflow.db'}")
    client = MlflowClient()
    name = DEFAULT_MODELS[pipeline]
    version = client.get_model_version_by_alias(name, "champion")
    run = client.get_run(version.run_id)
    files = _artifacts(client, run.info.run_id)
    table: list[dict[str, Any]] = []
    table_name = None
    with tempfile.TemporaryDirectory() as scratch:
        for name in sorted(f for f in files if Path(f).name.startswith("comparison") and f.endswith(".json")):
            logged = json.loads(Path(client.download_artifacts(run.info.run_id, name, scratch)).read_text())
            if isinstance(logged, dict) and "columns" in logged:  # a table logged by mlflow.log_table
                table = [dict(zip(logged["columns"], row, strict=True)) for row in logged["data"]]
                table_name = name
                break
        target = FIGURES / pipeline
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        figures = []
        for png in sorted(f for f in files if f.endswith(".png")):
            local = Path(client.download_artifacts(run.info.run_id, png, scratch))
            copied = target / Path(png).name
            shutil.copyfile(local, copied)
            figures.append({"file": str(copied.relative_to(RESULTS)), "title": _title(png)})
    metrics = {k: v for k, v in run.data.metrics.items() if k.startswith(("valid_", "test_", "cv_"))}
    selected_on, better = SELECTION.get(pipeline, (None, None))
    if selected_on and table and selected_on not in table[0]:
        raise SystemExit(f"{pipeline}: its comparison table has no column {selected_on!r}: {list(table[0])}")
    return {
        "model": name,
        "version": int(version.version),
        "chosen": run.data.tags.get("shopfloor.chosen") or run.data.params.get("method"),
        "table_name": table_name,
        "table": table,
        "selected_on": selected_on if table else None,
        "better": better,
        "metrics": metrics,
        "figures": figures,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--homes", type=Path, default=None, help="one data directory per pipeline (default: new)")
    parser.add_argument("--pipelines", default=",".join(PIPELINES), help="comma-separated pipelines to read")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    homes = args.homes or Path(tempfile.mkdtemp(prefix="shopfloor-pipeline-runs-"))
    out: dict[str, Any] = {}
    for pipeline in args.pipelines.split(","):
        home, trained = champion_home(pipeline, homes)
        out[pipeline] = {**read_run(pipeline, home), "trained_s": trained, "command": f"shopfloor run {pipeline}"}
    save("pipeline_runs", {"pipelines": out})


if __name__ == "__main__":
    main()
