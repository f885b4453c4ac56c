"""The fault-detection workflow as plain functions over files, one per pipeline step.

KFP components are thin wrappers over these (they only map artifacts to paths), and the tests and
benchmarks call them directly. Frames travel as Parquet (raw columns as the user's table has them),
the fitted preprocessing and estimators as joblib, synthesizers with their own ``save``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from shopfloor.classify.model import FaultClassifier
from shopfloor.classify.train import augment, evaluate, fit_classifier, full_model, smote
from shopfloor.constants import EXPERIMENTS, FAULT_MODEL, FILTERS
from shopfloor.data import ingest as ing
from shopfloor.plots import confusion_matrices, pca_scatter
from shopfloor.progress import reported
from shopfloor.synth.fidelity import fidelity_report
from shopfloor.synth.filter import kmeans_filter, likelihood_filter
from shopfloor.synth.tuning import factory_for, space_for, tune

EXPERIMENT = EXPERIMENTS["fault-detection"]
SCORE = "test_f2"  # promotion rule of the foundation issue; the candidate is chosen on valid F2
METRICS_SHOWN = ("accuracy", "precision", "recall", "f1", "f2", "g_mean")
REFERENCE = "reference/train.parquet"  # the training rows logged with each model (raw columns + label)


def _write(frame: pd.DataFrame, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


# ---------------------------------------------------------------- ingest
@reported("ingest", summary=lambda i: f"{i['rows']} rows x {i['features']} columns, {i['minority_rows']} faulty "
                                      f"(label {i['positive_label']!r}); train/valid/test {i['train_rows']}/"
                                      f"{i['valid_rows']}/{i['test_rows']}")
def ingest_step(data: str, label: str, *, train: str, valid: str, test: str, preprocessing: str,
                drop: list[str] | None = None, categorical: list[str] | None = None,
                test_size: float = 0.2, valid_size: float = 0.2, seed: int = 0) -> dict[str, Any]:
    """Read and check the table, split it stratified, fit the [-1, 1] preprocessing on train."""
    table = ing.prepare(ing.read_table(data), label, drop=drop, categorical=categorical)
    splits = ing.split(table, test_size=test_size, valid_size=valid_size, seed=seed)
    for frame, path in ((splits.train, train), (splits.valid, valid), (splits.test, test)):
        _write(frame, path)
    ing.Preprocessing.fit(table, splits.train).save(preprocessing)
    return {"rows": len(table.label), "features": table.features.shape[1],
            "categorical": list(table.categorical), "minority_rows": int(table.label.sum()),
            "positive_label": table.positive_label, "train_rows": len(splits.train),
            "valid_rows": len(splits.valid), "test_rows": len(splits.test)}


# ---------------------------------------------------------------- synthesize
@reported("synthesize {synthesizer}",
          summary=lambda i: f"{i['trials']} trials ({i['pruned']} pruned), best loss {i['best_loss']:.4f}, "
                            f"KS-C {i['fidelity_ks_complement']:.3f}; {i['candidates']} candidate rows")
def synthesize_step(train: str, valid: str, preprocessing: str, *, synthesizer: str, synthesizer_dir: str,
                    candidates: str, n_trials: int, timeout: float, storage: str | None, study_name: str,
                    candidate_factor: float = 3.0, max_epochs: int = 300, seed: int = 0,
                    progress: bool = True) -> dict[str, Any]:
    """Tune ``synthesizer`` on the scaled minority training rows (fidelity on the validation faults),
    then sample ``candidate_factor`` times the rows needed to balance the training set."""
    prep = ing.Preprocessing.load(preprocessing)
    tr, va = prep.scaled(pd.read_parquet(train)), prep.scaled(pd.read_parquet(valid))
    out = Path(synthesizer_dir)
    out.mkdir(parents=True, exist_ok=True)
    real = tr[tr[ing.LABEL] == 1].drop(columns=[ing.LABEL])
    held_out = va[va[ing.LABEL] == 1].drop(columns=[ing.LABEL])
    storage = storage or f"sqlite:///{out / 'study.db'}"
    result = tune(real, held_out, space_for(synthesizer, max_epochs), factory_for(synthesizer, seed, progress),
                  n_trials=n_trials, timeout=timeout, storage=storage, study_name=f"{study_name}-{synthesizer}",
                  seed=seed, progress=progress, label=synthesizer)
    result.synthesizer.save(out / "synthesizer.pt")
    needed = int((tr[ing.LABEL] == 0).sum() - (tr[ing.LABEL] == 1).sum())
    sample = result.synthesizer.sample(max(1, int(np.ceil(candidate_factor * needed))), seed=seed + 1)
    _write(sample, candidates)
    report = fidelity_report(held_out, result.synthesizer.sample(4 * len(held_out), seed=seed + 2))
    info = {"synthesizer": synthesizer, "best_loss": result.best_loss, "trials": result.n_trials,
            "pruned": result.n_pruned, "study": result.study_name, "candidates": len(sample),
            **{f"fidelity_{k}": v for k, v in report.items()},
            **{f"param_{k}": v for k, v in result.synthesizer.get_parameters().items()}}
    (out / "info.json").write_text(json.dumps(info, indent=2, default=str))
    return info


# ---------------------------------------------------------------- filter
@reported("filter {synthesizer}", summary=lambda i: f"kept {i['kept']} of {i['candidates']} rows ({i['method']})")
def filter_step(train: str, preprocessing: str, candidates: str, *, kept: str, plot: str, method: str = "kmeans",
                d_max: float | None = None, d_max_quantile: float = 0.95, likelihood_quantile: float = 0.05,
                seed: int = 0, synthesizer: str = "") -> dict[str, Any]:
    """Filter the candidates (``kmeans``, ``likelihood`` or ``both``: likelihood first, then K-means
    picks the N nearest of the survivors); PCA plot of kept vs dropped rows. ``synthesizer`` names the
    rows' source in reports."""
    if method not in FILTERS:
        raise ValueError(f"filter must be one of {list(FILTERS)}, got {method!r}")
    tr = ing.Preprocessing.load(preprocessing).scaled(pd.read_parquet(train))
    x, y = ing.xy(tr)
    cand = pd.read_parquet(candidates)
    info: dict[str, Any] = {"candidates": len(cand), "method": method}
    index = np.arange(len(cand))
    if method in ("likelihood", "both"):
        lik = likelihood_filter(cand, x[y == 1], quantile=likelihood_quantile, seed=seed)
        index = lik.kept_index
        info |= {"after_likelihood": len(index), "log_density_threshold": lik.threshold}
    if method in ("kmeans", "both"):
        res = kmeans_filter(cand.iloc[index], x, y, d_max=d_max, d_max_quantile=d_max_quantile, seed=seed)
        index = index[res.kept_index]
        info |= {"needed": res.n_target, "d_max": res.d_max}
    survivors = cand.iloc[index].reset_index(drop=True)
    _write(survivors, kept)
    pca_scatter(x, y, {"kept": survivors, "dropped": cand.drop(index=cand.index[index])}, Path(plot))
    return {**info, "kept": len(survivors)}


# ---------------------------------------------------------------- train
@dataclass
class Candidate:
    name: str
    model: Any
    valid: dict[str, float]
    test: dict[str, float]


@reported("train", summary=lambda s: f"{len(s['models'])} {s['classifier']} models; chosen on validation F2: "
                                     f"{s['best']} ({s['models'][s['best']]['valid']['f2']:.3f})")
def train_step(train: str, valid: str, test: str, preprocessing: str, synthetic: dict[str, str], *,
               models_dir: str, report: str, plot: str, classifier: str = "logreg", threshold: float = 0.5,
               seed: int = 0) -> dict[str, Any]:
    """Fit the ``classifier`` (logreg or resnet) on each set: the references (baseline, class-weighted
    baseline, SMOTE) and one augmented model per synthetic set; pick the best by validation F2.

    The test split is only evaluated and reported, never used to choose.
    """
    prep = ing.Preprocessing.load(preprocessing)
    tr = prep.scaled(pd.read_parquet(train))
    va, te = pd.read_parquet(valid), pd.read_parquet(test)
    sets = {"baseline": tr, "class_weighted": tr, "smote": smote(tr, seed),
            **{name: augment(tr, pd.read_parquet(path)) for name, path in synthetic.items()}}
    out = Path(models_dir)
    out.mkdir(parents=True, exist_ok=True)
    cands = []
    for name, rows in sets.items():
        weight = "balanced" if name == "class_weighted" else None
        model = full_model(prep.preprocessor, fit_classifier(rows, classifier, seed=seed, class_weight=weight))
        joblib.dump(model, out / f"{name}.joblib")
        cands.append(Candidate(name, model, evaluate(model, va, threshold), evaluate(model, te, threshold)))
    best = max(cands, key=lambda c: (c.valid["f2"], c.name != "baseline"))
    confusion_matrices({c.name: c.test for c in cands}, Path(plot))
    table = {c.name: {"valid": c.valid, "test": c.test, "train_rows": len(sets[c.name])} for c in cands}
    summary = {"best": best.name, "classifier": classifier, "threshold": threshold, "models": table}
    Path(report).write_text(json.dumps(summary, indent=2))
    return summary


def comparison_table(summary: dict[str, Any], split: str = "test") -> pd.DataFrame:
    """One row per model, the metrics that matter as columns."""
    rows = {name: {k: m[split][k] for k in METRICS_SHOWN} for name, m in summary["models"].items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub-style Markdown table (KFP's Markdown viewer and terminals both read it)."""
    head = "| " + " | ".join([frame.index.name or "", *frame.columns]) + " |"
    rule = "|" + "---|" * (len(frame.columns) + 1)
    body = ["| " + " | ".join([str(i), *(f"{v:.3f}" for v in row)]) + " |" for i, row in frame.iterrows()]
    return "\n".join([head, rule, *body])


# ---------------------------------------------------------------- register
@reported("register", summary=lambda r: f"{r['model_name']} version {r['version']} as @{r['alias']} "
                                        f"(test F2 {r[SCORE]:.3f})")
def register_step(models_dir: str, report: str, train: str, preprocessing: str, *, tracking_uri: str,
                  model_name: str = FAULT_MODEL, synthesizers: dict[str, str] | None = None,
                  plots: dict[str, str] | None = None, files: list[str] | None = None) -> dict[str, Any]:
    """Register the model chosen by validation F2, in the model contract, with its metrics, the fidelity
    table of the synthesizers that ran, each synthesizer, its PCA plot and the confusion matrices."""
    from shopfloor.registry import register_model, use_tracking

    artifacts = {Path(f).name: Path(f) for f in files or [] if Path(f).exists()}
    artifacts["comparison.json"] = Path(report)
    artifacts[REFERENCE] = Path(train)  # what drift is measured against when new data arrive
    params: dict[str, Any] = {}
    fidelity = {}
    for name, folder in (synthesizers or {}).items():
        info = json.loads((Path(folder) / "info.json").read_text())
        fidelity[name] = {k.removeprefix("fidelity_"): v for k, v in info.items() if k.startswith("fidelity_")}
        params |= {f"{name}.{k.removeprefix('param_')}": v for k, v in info.items() if k.startswith("param_")}
        params |= {f"{name}.trials": info["trials"], f"{name}.pruned": info["pruned"]}
        artifacts[f"synthesizers/{name}/synthesizer.pt"] = Path(folder) / "synthesizer.pt"
        artifacts[f"synthesizers/{name}/info.json"] = Path(folder) / "info.json"
        if plots and name in plots:
            artifacts[f"plots/pca_{name}.html"] = Path(plots[name])
    summary = json.loads(Path(report).read_text())
    best = summary["best"]
    prep = ing.Preprocessing.load(preprocessing)
    model = FaultClassifier(joblib.load(Path(models_dir) / f"{best}.joblib"), prep.schema,
                            threshold=summary.get("threshold", 0.5), labels=prep.labels)
    chosen = summary["models"][best]
    metrics = {f"{split}_{k}": v for split in ("valid", "test") for k, v in chosen[split].items()}
    for name, m in summary["models"].items():
        metrics |= {f"{name}_test_{k}": m["test"][k] for k in METRICS_SHOWN}
    for name, scores in fidelity.items():
        metrics |= {f"{name}_fidelity_{k}": v for k, v in scores.items()}
    example = pd.read_parquet(train).drop(columns=[ing.LABEL]).head(5)
    use_tracking(tracking_uri)
    tables = {"comparison_test.json": comparison_table(summary).reset_index()}
    if fidelity:
        tables["fidelity.json"] = pd.DataFrame.from_dict(fidelity, orient="index").rename_axis("synthesizer")\
            .reset_index()
    reg = register_model(model, example, model_name=model_name, experiment=EXPERIMENT, metrics=metrics,
                         params={**params, "chosen_model": best, "classifier": summary.get("classifier", "logreg"),
                                 "threshold": model.threshold},
                         score_metric=SCORE, artifacts=artifacts, tables=tables,
                         tags={"shopfloor.pipeline": "fault-detection", "shopfloor.chosen": best})
    return {"model_name": reg.model_name, "version": reg.version, "alias": reg.alias, "run_id": reg.run_id,
            "chosen": best, SCORE: reg.score, "previous_champion": reg.previous_champion_score}
