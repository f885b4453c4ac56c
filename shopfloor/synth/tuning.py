"""Optuna tuning of synthesizers: minimize the fidelity loss on held-out real minority rows.

One helper serves every synthesizer: it takes a search space (trial -> settings) and a factory
(settings -> unfitted synthesizer). Studies live in SQLite, so a run can be resumed by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from shopfloor.synth.base import Synthesizer
from shopfloor.synth.fidelity import fidelity_loss
from shopfloor.synth.wgan import WGANSynthesizer

SearchSpace = Callable[[optuna.Trial], dict[str, Any]]
Factory = Callable[[dict[str, Any]], Synthesizer]


def wgan_space(max_epochs: int = 300) -> SearchSpace:
    """The paper's WGAN space: noise in [10, 500], 1-5 hidden layers of 32-512 units, plus training.

    ``max_epochs`` caps training time per trial (epochs are searched on a log scale up to it).
    """
    if max_epochs < 1:
        raise ValueError("max_epochs must be positive")

    def space(trial: optuna.Trial) -> dict[str, Any]:
        return {"noise_dim": trial.suggest_int("noise_dim", 10, 500, log=True),
                "hidden_layers": trial.suggest_int("hidden_layers", 1, 5),
                "hidden_units": trial.suggest_int("hidden_units", 32, 512, log=True),
                "epochs": trial.suggest_int("epochs", max(1, max_epochs // 8), max_epochs, log=True),
                "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
                "learning_rate": trial.suggest_float("learning_rate", 5e-5, 2e-3, log=True),
                "penalty": trial.suggest_categorical("penalty", ["clip", "gp"])}

    return space


def wgan_factory(seed: int, progress: bool = False) -> Factory:
    """Unfitted WGANs with the trial's settings; ``progress`` shows a bar per training run."""
    return lambda params: WGANSynthesizer(seed=seed, progress=progress, **params)


@dataclass
class TuningResult:
    best_params: dict[str, Any]
    best_loss: float
    n_trials: int
    study_name: str
    synthesizer: Synthesizer


def tune(train: pd.DataFrame, valid: pd.DataFrame, space: SearchSpace, factory: Factory, *,
         n_trials: int, timeout: float | None, storage: str, study_name: str, seed: int = 0,
         progress: bool = True, sample_factor: int = 4) -> TuningResult:
    """Run (or resume) a study and return the best synthesizer, fitted on ``train``.

    Each trial fits on ``train`` and scores ``sample_factor * len(valid)`` sampled rows against
    ``valid``. Trials that fail or give a non-finite loss are pruned, not fatal.
    """
    if len(valid) < 2:
        raise ValueError("tuning needs at least 2 validation rows")

    fitted: dict[int, Synthesizer] = {}  # the best synthesizer of this session, by trial number

    def objective(trial: optuna.Trial) -> float:
        try:
            synth = factory(space(trial)).fit(train)
            loss = fidelity_loss(valid, synth.sample(sample_factor * len(valid)))
        except (RuntimeError, ValueError, FloatingPointError) as exc:
            trial.set_user_attr("failure", str(exc)[:200])
            raise optuna.TrialPruned() from exc
        if not math.isfinite(loss):
            raise optuna.TrialPruned()
        try:
            beaten = loss < trial.study.best_value
        except ValueError:  # no completed trial yet
            beaten = True
        if beaten:
            fitted.clear()
            fitted[trial.number] = synth
        return loss

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(study_name=study_name, storage=storage, direction="minimize",
                                load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner())
    study.optimize(objective, n_trials=n_trials, timeout=timeout, show_progress_bar=progress)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"study {study_name!r}: no trial completed; see the trials' 'failure' attributes")
    best = study.best_trial
    params = {**best.params}
    # Refit only when the best trial came from an earlier (resumed) session.
    synth = fitted[best.number] if best.number in fitted else factory(params).fit(train)
    return TuningResult(params, float(best.value), len(study.trials), study_name, synth)
