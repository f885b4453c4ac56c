"""Optuna tuning of synthesizers: minimize the fidelity loss on held-out real minority rows.

One helper serves every synthesizer: a search space (trial -> settings) and a factory (settings ->
unfitted synthesizer), both looked up by name in ``SYNTHESIZERS``. Studies live in SQLite, so a run
can be resumed by name. Synthesizers that train by epochs report the fidelity loss at each quarter
of training, and the median pruner stops trials that fall behind; trials that crash or give a
non-finite loss are pruned too, never fatal.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from shopfloor.synth.base import Synthesizer
from shopfloor.synth.ctgan import CTGANSynthesizer
from shopfloor.synth.fidelity import fidelity_loss
from shopfloor.synth.flow import FlowSynthesizer
from shopfloor.synth.wgan import WGANSynthesizer

SearchSpace = Callable[[optuna.Trial], dict[str, Any]]
Factory = Callable[[dict[str, Any]], Synthesizer]
CHECKPOINTS = 4  # fidelity reported after each quarter of the epochs


def _epochs(trial: optuna.Trial, max_epochs: int) -> int:
    if max_epochs < 1:
        raise ValueError("max_epochs must be positive")
    return trial.suggest_int("epochs", max(1, max_epochs // 8), max_epochs, log=True)


def wgan_space(max_epochs: int = 300) -> SearchSpace:
    """The paper's WGAN space: noise in [10, 500], 1-5 hidden layers of 32-512 units, plus training."""

    def space(trial: optuna.Trial) -> dict[str, Any]:
        return {"noise_dim": trial.suggest_int("noise_dim", 10, 500, log=True),
                "hidden_layers": trial.suggest_int("hidden_layers", 1, 5),
                "hidden_units": trial.suggest_int("hidden_units", 32, 512, log=True),
                "epochs": _epochs(trial, max_epochs),
                "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
                "learning_rate": trial.suggest_float("learning_rate", 5e-5, 2e-3, log=True),
                "penalty": trial.suggest_categorical("penalty", ["clip", "gp"])}

    return space


def flow_space(max_epochs: int = 300) -> SearchSpace:
    """Depth and width of the coupling stack, and the Adam settings."""

    def space(trial: optuna.Trial) -> dict[str, Any]:
        return {"n_blocks": trial.suggest_int("n_blocks", 2, 10),
                "hidden_units": trial.suggest_int("hidden_units", 16, 256, log=True),
                "hidden_layers": trial.suggest_int("hidden_layers", 1, 3),
                "epochs": _epochs(trial, max_epochs),
                "batch_size": trial.suggest_categorical("batch_size", [16, 32, 64, 128]),
                "learning_rate": trial.suggest_float("learning_rate", 1e-4, 5e-3, log=True),
                "weight_decay": trial.suggest_float("weight_decay", 1e-6, 1e-3, log=True)}

    return space


def ctgan_space(max_epochs: int = 300) -> SearchSpace:
    """CTGAN's own knobs: embedding, network sizes, learning rates, epochs, batch (a multiple of pac)."""

    def space(trial: optuna.Trial) -> dict[str, Any]:
        g_units = trial.suggest_categorical("generator_units", [64, 128, 256])
        d_units = trial.suggest_categorical("discriminator_units", [64, 128, 256])
        g_layers = trial.suggest_int("generator_layers", 1, 3)
        d_layers = trial.suggest_int("discriminator_layers", 1, 3)
        return {"epochs": _epochs(trial, max_epochs),
                "batch_size": trial.suggest_categorical("batch_size", [50, 100, 200, 500]),
                "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
                "generator_dim": (g_units,) * g_layers, "discriminator_dim": (d_units,) * d_layers,
                "generator_lr": trial.suggest_float("generator_lr", 5e-5, 1e-3, log=True),
                "discriminator_lr": trial.suggest_float("discriminator_lr", 5e-5, 1e-3, log=True)}

    return space


SYNTHESIZERS: dict[str, tuple[type[Synthesizer], Callable[[int], SearchSpace]]] = {
    "wgan": (WGANSynthesizer, wgan_space), "ctgan": (CTGANSynthesizer, ctgan_space),
    "flow": (FlowSynthesizer, flow_space)}


def space_for(name: str, max_epochs: int = 300) -> SearchSpace:
    return SYNTHESIZERS[_known(name)][1](max_epochs)


def factory_for(name: str, seed: int, progress: bool = False) -> Factory:
    """Unfitted synthesizers ``name`` with a trial's settings; ``progress`` shows a bar per training run."""
    cls = SYNTHESIZERS[_known(name)][0]
    return lambda params: cls(seed=seed, progress=progress, **params)


def _known(name: str) -> str:
    if name not in SYNTHESIZERS:
        raise ValueError(f"synthesizer must be one of {sorted(SYNTHESIZERS)}, got {name!r}")
    return name


@dataclass
class TuningResult:
    best_params: dict[str, Any]
    best_loss: float
    n_trials: int
    n_pruned: int
    study_name: str
    synthesizer: Synthesizer


def _pruning_callback(trial: optuna.Trial, synth: Synthesizer, valid: pd.DataFrame, n: int,
                      epochs: int) -> Callable[[int], None]:
    marks = {max(0, round(epochs * k / CHECKPOINTS) - 1): k for k in range(1, CHECKPOINTS)}

    def report(epoch: int) -> None:
        if epoch in marks:
            trial.report(fidelity_loss(valid, synth.sample(n)), step=marks[epoch])
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after {epoch + 1} epochs")

    return report


def tune(train: pd.DataFrame, valid: pd.DataFrame, space: SearchSpace, factory: Factory, *,
         n_trials: int, timeout: float | None, storage: str, study_name: str, seed: int = 0,
         progress: bool = True, sample_factor: int = 4) -> TuningResult:
    """Run (or resume) a study and return the best synthesizer, fitted on ``train``.

    Each trial fits on ``train`` and scores ``sample_factor * len(valid)`` sampled rows against
    ``valid``.
    """
    if len(valid) < 2:
        raise ValueError("tuning needs at least 2 validation rows")
    n_sample = sample_factor * len(valid)
    fitted: dict[int, Synthesizer] = {}  # the best synthesizer of this session, by trial number

    def objective(trial: optuna.Trial) -> float:
        params = space(trial)
        try:
            synth = factory(params)
            if "epochs" in params:
                synth.callback = _pruning_callback(trial, synth, valid, n_sample, int(params["epochs"]))
            synth.fit(train)
            synth.callback = None
            loss = fidelity_loss(valid, synth.sample(n_sample))
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
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    study.optimize(objective, n_trials=n_trials, timeout=timeout, show_progress_bar=progress)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"study {study_name!r}: no trial completed; see the trials' 'failure' attributes")
    best = study.best_trial
    params = space(optuna.trial.FixedTrial(best.params))
    # Refit only when the best trial came from an earlier (resumed) session.
    synth = fitted[best.number] if best.number in fitted else factory(params).fit(train)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return TuningResult(params, float(best.value), len(study.trials), pruned, study_name, synth)
