"""The surface inspection steps: load and split the images, train the chosen mode's comparison and keep the
winner, register it. Each step is a plain function (what a notebook or a KFP component calls) that reads and
writes files.

Classify mode fits the autoencoder and latent flow on the training defect images (Russell and Wang's set-up),
puts every row of ``classify.compare`` through validation, keeps the best validation AP, and sets its threshold
for the best validation F2. Detect mode fits on the training good images only, keeps the best validation ROC-AUC
and the threshold of ``detect.compare``. Test figures are computed for the report, never for a choice.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd

from shopfloor.constants import EXPERIMENTS, SURFACE_MODEL
from shopfloor.defaults import SURFACE_INSPECTION
from shopfloor.surface_inspection import classify, detect
from shopfloor.surface_inspection import synthesis as syn
from shopfloor.surface_inspection.data import ImageSet, load, split
from shopfloor.surface_inspection.pyfunc import SurfaceInspectionPyfunc

EXPERIMENT = EXPERIMENTS["surface-inspection"]
SPLITS = ("train", "valid", "test")


def ingest_step(
    data: str,
    out: str,
    *,
    good_class: str = SURFACE_INSPECTION.good_class,
    min_images: int = SURFACE_INSPECTION.min_images,
    seed: int = SURFACE_INSPECTION.seed,
) -> dict[str, Any]:
    """Decode and check every image, split them stratified by class, write them as one ``.npz``."""
    images = load(data, good_class=good_class, min_images=min_images)
    parts = split(images, seed=seed)
    arrays: dict[str, Any] = {}
    for name, part in zip(SPLITS, parts, strict=True):
        arrays[f"{name}_images"], arrays[f"{name}_labels"] = part.images, part.labels
    with open(out, "wb") as handle:  # a path without .npz stays as it is (KFP names the artifact's file)
        np.savez_compressed(handle, good_class=good_class, **arrays)
    counts = {
        name: {str(k): int(v) for k, v in zip(*np.unique(p.labels, return_counts=True), strict=True)}
        for name, p in zip(SPLITS, parts, strict=True)
    }
    return {"images": len(images), "good_class": good_class, "kinds": images.kinds, "splits": counts}


def read_splits(path: str) -> tuple[ImageSet, ImageSet, ImageSet]:
    with np.load(path, allow_pickle=False) as saved:
        good = str(saved["good_class"])
        return tuple(  # type: ignore[return-value]
            ImageSet(saved[f"{n}_images"], saved[f"{n}_labels"], [], good) for n in SPLITS
        )


def _figures(autoencoder: syn.Autoencoder, flow: Any, real: np.ndarray, out: Path, seed: int) -> Path:
    """Real, flow-synthesized and Gaussian-decoded defect images side by side (Russell and Wang's Fig. 4)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(6, len(real))
    rows = [
        ("real", real[:n]),
        ("flow", syn.sample(autoencoder, n, flow, seed)),
        ("Gaussian codes", syn.sample(autoencoder, n, None, seed)),
    ]
    fig, axes = plt.subplots(3, n, figsize=(1.6 * n, 5.2), squeeze=False)
    for r, (title, images) in enumerate(rows):
        for c in range(n):
            axes[r][c].imshow(images[c], cmap="gray", vmin=0, vmax=1)
            axes[r][c].axis("off")
        axes[r][0].set_title(title, loc="left", fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110, format="png")  # the path as given: a KFP artifact has no suffix
    plt.close(fig)
    return out


def train_step(
    splits: str,
    *,
    model_path: str,
    report_path: str,
    figure_path: str,
    mode: str = SURFACE_INSPECTION.mode,
    ae_steps: int = SURFACE_INSPECTION.ae_steps,
    flow_steps: int = SURFACE_INSPECTION.flow_steps,
    cnn_epochs: int = SURFACE_INSPECTION.cnn_epochs,
    ratios: tuple[str, ...] = SURFACE_INSPECTION.ratios,
    quantile: float = SURFACE_INSPECTION.quantile,
    seed: int = SURFACE_INSPECTION.seed,
    ae_filters: int = syn.AutoencoderConfig.filters,
) -> dict[str, Any]:
    """Every row of the mode's comparison on validation, the winner saved as the registered model's pickle."""
    train, valid, test = read_splits(splits)
    ae = syn.AutoencoderConfig(steps=ae_steps, filters=ae_filters)
    flow_config = syn.FlowConfig(steps=flow_steps)
    classes: dict[str, Any] = {"good_class": train.good_class, "defect_kinds": train.kinds}
    started = time.perf_counter()
    table: list[dict[str, Any]] = []
    if mode == "classify":
        defects = train.images[train.defect == 1]
        autoencoder, ae_info = syn.fit_autoencoder(defects, ae, seed)
        flow, flow_info = syn.fit_flow(autoencoder, defects, flow_config, seed)
        draws = iter(range(10**6))

        def synthesize(n: int, use_flow: bool) -> np.ndarray:
            return syn.sample(autoencoder, n, flow if use_flow else None, seed=1000 * seed + next(draws))

        rows = classify.compare(
            train.images,
            train.defect,
            valid.images,
            valid.defect,
            synthesize,
            ratios=tuple(float(r) for r in ratios),
            config=classify.CNNConfig(epochs=cnn_epochs),
            seed=seed,
        )
        best = classify.chosen(rows)
        threshold = classify.f2_threshold(valid.defect, best.score(valid.images))
        model = SurfaceInspectionPyfunc(best.scorer, threshold, mode, best.name, classes)
        table = [
            {
                "method": r.name,
                "valid_ap": r.valid_ap,
                "valid_roc_auc": r.valid_auc,
                "seconds": r.seconds,
                "chosen": r is best,
            }
            for r in rows
        ]
        _figures(autoencoder, flow, defects, Path(figure_path), seed)
        info: dict[str, Any] = {**ae_info, **flow_info, "chosen": best.name, "threshold": threshold}
    elif mode == "detect":
        detectors, latent = detect.compare(
            train.images[train.defect == 0], valid.images, valid.defect, ae, flow_config, quantile=quantile, seed=seed
        )
        chosen = detect.chosen(detectors)
        classes["quantile"] = quantile
        model = SurfaceInspectionPyfunc(chosen.scorer, chosen.threshold, mode, chosen.name, classes)
        table = [
            {
                "method": d.name,
                "valid_roc_auc": d.valid_auc,
                "threshold": d.threshold,
                "seconds": d.seconds,
                "chosen": d is chosen,
            }
            for d in detectors
        ]
        good = train.images[train.defect == 0]
        _figures(latent.autoencoder_, latent.flow_, good, Path(figure_path), seed)
        info = {**latent.ae_info_, **latent.flow_info_, "chosen": chosen.name, "threshold": chosen.threshold}
    else:
        raise ValueError(f"mode must be classify or detect, got {mode!r}")
    test_score = model.scorer.score(test.images)
    info["test"] = _scores(test.defect, test_score, model.threshold)
    info["valid"] = _scores(valid.defect, model.scorer.score(valid.images), model.threshold)
    info["seconds"] = time.perf_counter() - started
    joblib.dump(model, model_path)
    Path(report_path).write_text(json.dumps({"table": table, **info, "mode": mode, **classes}, indent=1, default=str))
    return info


def _scores(truth: np.ndarray, score: np.ndarray, threshold: float) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, fbeta_score, roc_auc_score

    flagged = (score >= threshold).astype(int)
    return {
        "ap": float(average_precision_score(truth, score)),
        "roc_auc": float(roc_auc_score(truth, score)),
        "f2": float(fbeta_score(truth, flagged, beta=2, zero_division=0)),
        "good_flagged": float(flagged[truth == 0].mean()) if (truth == 0).any() else 0.0,
    }


def register_step(
    model_path: str,
    report_path: str,
    figure_path: str,
    splits: str,
    *,
    tracking_uri: str | None = None,
    model_name: str = SURFACE_MODEL,
    promote: bool | None = None,
) -> dict[str, Any]:
    """Register the trained model with its validation and test figures, comparison table and figure."""
    from shopfloor.registry import register_model, use_tracking

    use_tracking(tracking_uri)
    model: SurfaceInspectionPyfunc = joblib.load(model_path)
    report = json.loads(Path(report_path).read_text())
    _, valid, _ = read_splits(splits)
    metrics = {f"{part}_{k}": v for part in ("valid", "test") for k, v in report[part].items()}
    metric = "valid_ap" if model.mode == "classify" else "valid_roc_auc"
    from shopfloor.data.images import encode_png

    example = {"image": [encode_png(valid.images[0])]}
    registration = register_model(
        model,
        example,
        model_name=model_name,
        experiment=EXPERIMENT,
        metrics=metrics,
        params={"mode": model.mode, "method": model.method, "threshold": model.threshold},
        score_metric=metric,
        artifacts={"figures/real_flow_gaussian.png": Path(figure_path), "report/comparison.json": Path(report_path)},
        tables={"comparison.json": pd.DataFrame(report["table"]).drop(columns="chosen", errors="ignore")},
        tags={"shopfloor.pipeline": "surface-inspection", "shopfloor.chosen": model.method},
        promote=promote,
    )
    return {
        "model_name": model_name,
        "version": registration.version,
        "alias": registration.alias,
        "run_id": registration.run_id,
        "report_html": registration.report_uri,
        "metric": metric,
        "score": registration.score,
        "mode": model.mode,
        "method": model.method,
        "table": report["table"],
        "valid": report["valid"],
        "test": report["test"],
    }
