"""The seed's random search over the beta-VAE, with Optuna, judged by validation PR-AUC of the KL score.

The space is the seed's (``ParameterSampler`` in its notebook): beta uniform in [0.5, 9.5], 5 to 39
codings, 1 to 3 layers, 16 to 127 filters, dilations (1, 2), (1, 2, 4) or (1, 2, 4, 8), kernel 2 to 8;
the learning rate is searched too (log-uniform 1e-4 to 3e-3; the seed kept Adam's 1e-3). ``max_filters``
narrows the filters for small budgets (CPU), and is logged. The first trial is the seed's best model
(``VAEConfig()``), so a search never ends below the paper's setting on validation. Each trial trains one
VAE (early stopping on the validation loss) and scores the validation windows; the best ``keep`` trials'
VAEs are kept for an ensemble.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import optuna

from shopfloor.milling.data import WindowScaler
from shopfloor.milling.detector import Member, MillingAnomalyDetector
from shopfloor.milling.evaluate import pr_auc
from shopfloor.milling.vae import VAEConfig, encode, fit_vae, kl_divergence
from shopfloor.progress import bar

DILATIONS = {"1-2": (1, 2), "1-2-4": (1, 2, 4), "1-2-4-8": (1, 2, 4, 8)}


def sample_config(trial: optuna.Trial, base: VAEConfig, max_filters: int = 127, max_layers: int = 3,
                  window: int = 64) -> VAEConfig:
    """One configuration from the seed's space (layers capped so the window halves cleanly)."""
    layers_cap = min(max_layers, int(math.log2(window & -window)))  # the window must divide by 2^layers
    return replace(base,
                   beta=trial.suggest_float("beta", 0.5, 9.5),
                   latent=trial.suggest_int("latent", 5, 39),
                   layers=trial.suggest_int("layers", 1, max(1, layers_cap)),
                   filters=trial.suggest_int("filters", 16, max(16, max_filters)),
                   dilations=DILATIONS[trial.suggest_categorical("dilations", list(DILATIONS))],
                   kernel=trial.suggest_int("kernel", 2, 8),
                   lr=trial.suggest_float("lr", 1e-4, 3e-3, log=True))


def _as_params(config: VAEConfig) -> dict[str, Any]:
    key = next(k for k, v in DILATIONS.items() if v == tuple(config.dilations)) if tuple(config.dilations) in \
        DILATIONS.values() else "1-2-4-8"
    return {"beta": config.beta, "latent": config.latent, "layers": config.layers, "filters": config.filters,
            "dilations": key, "kernel": config.kernel, "lr": config.lr}


@dataclass
class SearchResult:
    detector: MillingAnomalyDetector  # the best trial's VAE (or the ensemble when it won on validation)
    trials: list[dict[str, Any]]
    members: list[Member]  # the best trials' VAEs, best first
    ensemble_valid_pr_auc: float | None
    chosen: str  # "single" or "ensemble of k"


def search(X_train: np.ndarray, failed_train: np.ndarray, X_valid: np.ndarray, failed_valid: np.ndarray, *,
           n_trials: int = 10, timeout: float | None = None, base: VAEConfig | None = None, max_filters: int = 127,
           keep: int = 3, ensemble: bool = True, train_classes: np.ndarray | None = None, seed: int = 0,
           score: str = "latent", threshold_metric: str = "f1", progress: bool = False,
           storage: str | None = None, study_name: str | None = None) -> SearchResult:
    """Random search; returns the detector with the best validation PR-AUC (one VAE, or the average of
    the best ``keep`` VAEs when that is better on validation), its threshold set on validation.

    ``train_classes``: a boolean mask of training windows the VAEs learn from (default: not failed);
    the scaler is fitted on all training windows.
    """
    base = base or VAEConfig()
    scaler = WindowScaler().fit(X_train)
    learn = train_classes if train_classes is not None else failed_train == 0
    train = scaler.transform(X_train[learn])
    valid_all = scaler.transform(X_valid)
    valid = valid_all[failed_valid == 0]
    members: list[tuple[float, Member]] = []
    records: list[dict[str, Any]] = []
    sampler = optuna.samplers.RandomSampler(seed=seed)
    study = optuna.create_study(direction="maximize", sampler=sampler, storage=storage, study_name=study_name,
                                load_if_exists=storage is not None)
    study.enqueue_trial(_as_params(base), skip_if_exists=True)
    started = time.monotonic()
    progress_bar = bar(total=n_trials, desc="VAE search", unit="trial", enabled=progress)

    def objective(trial: optuna.Trial) -> float:
        config = sample_config(trial, base, max_filters, window=X_train.shape[1])
        begun = time.monotonic()
        model, info = fit_vae(train, valid, config, seed=seed + trial.number, progress=False)
        mu, lv, _ = encode(model, valid_all)
        value = pr_auc(failed_valid, kl_divergence(mu, lv))
        tmu, tlv, _ = encode(model, train)
        kl = kl_divergence(tmu, tlv)
        member = Member(model, config, float(kl.mean()), float(kl.std() or 1.0), info)
        members.append((value if np.isfinite(value) else -np.inf, member))
        members.sort(key=lambda m: -m[0])
        del members[keep:]
        records.append({"trial": trial.number, **config.to_dict(), "valid_pr_auc": value, "epochs": info["epochs"],
                        "seconds": time.monotonic() - begun, "valid_loss": info["best_valid_loss"]})
        progress_bar.update()
        progress_bar.set_postfix_str(f"best valid PR-AUC {max(r['valid_pr_auc'] for r in records):.3f}")
        return value if np.isfinite(value) else 0.0

    remaining = None if timeout is None else max(1.0, timeout - (time.monotonic() - started))
    study.optimize(objective, n_trials=n_trials, timeout=remaining, catch=(RuntimeError, ValueError))
    progress_bar.close()
    if not members:
        raise RuntimeError("no VAE trial finished; raise the time budget")
    best = MillingAnomalyDetector.from_members([members[0][1]], scaler, score, threshold_metric, seed)
    best.set_threshold(X_valid, failed_valid)
    chosen, ensemble_value = "single", None
    if ensemble and len(members) > 1:
        group = MillingAnomalyDetector.from_members([m for _, m in members], scaler, score, threshold_metric, seed)
        ensemble_value = pr_auc(failed_valid, group.scores(X_valid)["latent"])
        if ensemble_value > members[0][0]:
            group.set_threshold(X_valid, failed_valid)
            best, chosen = group, f"ensemble of {len(members)}"
    return SearchResult(best, records, [m for _, m in members], ensemble_value, chosen)
