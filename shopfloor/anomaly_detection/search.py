"""Random search over beta-VAEs as von Hahn and Mechefske select theirs, within a stated budget, judged by the
average precision (AP) of the KL score on the validation windows.

Their space (``ParameterSampler`` in their code): beta uniform in [0.5, 9.5], 5 to 39 codings, 1 to 3 layers, 16 to
127 filters, dilations (1, 2), (1, 2, 4) or (1, 2, 4, 8), kernel 2 to 8, early-stopping patience 30 to 49; the
output activation is searched too ({SELU, sigmoid}: their best model has SELU, their code's default is sigmoid).
Adam keeps its 1e-3, as theirs. ``max_filters`` narrows the filters for small budgets (CPU), and is logged. The
first trial is their best model (``VAEConfig()``), so a search never ends below it on validation. Each trial
trains one VAE (early stopping on the validation windows of the training classes) and scores all validation
windows; the best ``keep`` trials' VAEs are kept, and their average is chosen when it is better on validation.

They trained about 1,000 models; one run of the recipe varies a lot from seed to seed, so the budget (trials and
seconds) is what buys quality here.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import optuna
from sklearn.metrics import average_precision_score

from shopfloor.anomaly_detection.base import DEFAULT_TRAIN_ON, training_mask
from shopfloor.anomaly_detection.data import FAILED, WindowScaler
from shopfloor.anomaly_detection.detector import Member, MillingAnomalyDetector, member
from shopfloor.anomaly_detection.vae import OUTPUTS, VAEConfig, encode, fit_vae, kl_divergence
from shopfloor.progress import bar

DILATIONS = {"1-2": (1, 2), "1-2-4": (1, 2, 4), "1-2-4-8": (1, 2, 4, 8)}


def average_precision(failed: np.ndarray, score: np.ndarray) -> float:
    """AP of a score (NaN where a class is missing or the score is not finite)."""
    if not 0 < failed.sum() < len(failed) or not np.isfinite(score).all():
        return float("nan")
    return float(average_precision_score(failed, score))


def sample_config(
    trial: optuna.Trial, base: VAEConfig, max_filters: int = 127, max_layers: int = 3, window: int = 64
) -> VAEConfig:
    """One configuration from their space (layers capped so the window halves cleanly)."""
    layers_cap = min(max_layers, int(math.log2(window & -window)))  # the window must divide by 2^layers
    return replace(
        base,
        beta=trial.suggest_float("beta", 0.5, 9.5),
        latent=trial.suggest_int("latent", 5, 39),
        layers=trial.suggest_int("layers", 1, max(1, layers_cap)),
        filters=trial.suggest_int("filters", 16, max(16, max_filters)),
        dilations=DILATIONS[trial.suggest_categorical("dilations", list(DILATIONS))],
        kernel=trial.suggest_int("kernel", 2, 8),
        patience=trial.suggest_int("patience", 30, 49),
        output=trial.suggest_categorical("output", list(OUTPUTS)),
    )


def _as_params(config: VAEConfig) -> dict[str, Any]:
    key = next((k for k, v in DILATIONS.items() if v == tuple(config.dilations)), "1-2-4-8")
    return {
        "beta": config.beta,
        "latent": config.latent,
        "layers": config.layers,
        "filters": config.filters,
        "dilations": key,
        "kernel": config.kernel,
        "patience": min(49, max(30, config.patience)),
        "output": config.output,
    }


@dataclass
class SearchResult:
    detector: MillingAnomalyDetector  # the best trial's VAE (or the ensemble when it won on validation)
    trials: list[dict[str, Any]]
    members: list[Member]  # the best trials' VAEs, best first
    ensemble_valid_ap: float | None
    chosen: str  # "single" or "ensemble of k"


def search(
    X_train: np.ndarray,
    class_train: np.ndarray,
    X_valid: np.ndarray,
    class_valid: np.ndarray,
    *,
    n_trials: int = 10,
    timeout: float | None = None,
    base: VAEConfig | None = None,
    max_filters: int = 127,
    keep: int = 3,
    ensemble: bool = True,
    train_on: str = DEFAULT_TRAIN_ON,
    seed: int = 0,
    score: str = "latent",
    threshold_metric: str = "f1",
    progress: bool = False,
    storage: str | None = None,
    study_name: str | None = None,
) -> SearchResult:
    """Random search; returns the detector with the best validation AP (one VAE, or the average of the best
    ``keep`` VAEs when that is better on validation), its threshold set on validation.

    ``class_*``: each window's tool class. The VAEs learn from the training windows of the ``train_on`` classes
    and stop early on the validation windows of those classes; the scaler is fitted on all training windows.
    """
    base = base or VAEConfig()
    scaler = WindowScaler().fit(X_train)
    train = scaler.transform(X_train[training_mask(class_train, train_on)])
    valid_all = scaler.transform(X_valid)
    valid = valid_all[training_mask(class_valid, train_on)]
    failed_valid = (np.asarray(class_valid) == FAILED).astype(int)
    members: list[tuple[float, Member]] = []
    records: list[dict[str, Any]] = []
    sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(
        direction="maximize",
        sampler=sampler,
        storage=storage,
        study_name=study_name,
        load_if_exists=storage is not None,
    )
    study.enqueue_trial(_as_params(base), skip_if_exists=True)
    started = time.monotonic()
    progress_bar = bar(total=n_trials, desc="VAE search", unit="trial", enabled=progress)

    def objective(trial: optuna.Trial) -> float:
        config = sample_config(trial, base, max_filters, window=X_train.shape[1])
        begun = time.monotonic()
        model, info = fit_vae(train, valid, config, seed=seed + trial.number, progress=False)
        mu, lv, _ = encode(model, valid_all)
        value = average_precision(failed_valid, kl_divergence(mu, lv))
        members.append((value if np.isfinite(value) else -np.inf, member(model, config, info, train)))
        members.sort(key=lambda m: -m[0])
        del members[keep:]
        records.append(
            {
                "trial": trial.number,
                **config.to_dict(),
                "valid_ap": value,
                "epochs": info["epochs"],
                "seconds": time.monotonic() - begun,
                "valid_loss": info["best_valid_loss"],
            }
        )
        progress_bar.update()
        progress_bar.set_postfix_str(f"best valid AP {np.nanmax([r['valid_ap'] for r in records]):.3f}")
        return value if np.isfinite(value) else 0.0

    remaining = None if timeout is None else max(1.0, timeout - (time.monotonic() - started))
    study.optimize(objective, n_trials=n_trials, timeout=remaining, catch=(RuntimeError, ValueError))
    progress_bar.close()
    if not members:
        raise RuntimeError("no VAE trial finished; raise the time budget")
    build: dict[str, Any] = {
        "scaler": scaler,
        "score": score,
        "threshold_metric": threshold_metric,
        "seed": seed,
        "train_on": train_on,
    }
    best = MillingAnomalyDetector.from_members([members[0][1]], **build)
    best.set_threshold(X_valid, failed_valid)
    chosen, ensemble_value = "single", None
    if ensemble and len(members) > 1:
        group = MillingAnomalyDetector.from_members([m for _, m in members], **build)
        ensemble_value = average_precision(failed_valid, group.scores(X_valid)[score])
        if ensemble_value > members[0][0]:
            group.set_threshold(X_valid, failed_valid)
            best, chosen = group, f"ensemble of {len(members)}"
    return SearchResult(best, records, [m for _, m in members], ensemble_value, chosen)
