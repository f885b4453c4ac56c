"""Optuna tuning of synthesizers: minimize the fidelity loss on held-out real minority rows.

One helper serves every synthesizer: its search space (trial -> settings, declared on its class) and a
factory (settings -> unfitted synthesizer), looked up by name in ``shopfloor.synth.registry``. Studies
live in SQLite, so a run can be resumed by name. Every synthesizer reports the fidelity loss at each
quarter of its epochs, and the median pruner stops trials that fall behind; trials that crash or give
a non-finite loss are pruned too, never fatal.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
import pandas as pd

from shopfloor.progress import bar
from shopfloor.synth.base import Synthesizer
from shopfloor.synth.fidelity import fidelity_loss
from shopfloor.synth.registry import synthesizer_class

SearchSpace = Callable[[optuna.Trial], dict[str, Any]]
Factory = Callable[[dict[str, Any]], Synthesizer]
CHECKPOINTS = 4  # fidelity reported after each quarter of the epochs


def space_for(name: str, max_epochs: int = 300) -> SearchSpace:
    """The registered synthesizer's own search space, with at most ``max_epochs`` epochs a trial."""
    cls = synthesizer_class(name)
    return lambda trial: cls.search_space(trial, max_epochs)


def factory_for(name: str, seed: int, progress: bool = False) -> Factory:
    """Unfitted synthesizers ``name`` with a trial's settings; ``progress`` shows a bar per training run."""
    cls = synthesizer_class(name)
    return lambda params: cls(seed=seed, progress=progress, **params)


def open_storage(url: str, attempts: int = 5) -> optuna.storages.BaseStorage:
    """Optuna's RDB storage at ``url``, safe to open from parallel pipeline branches: SQLite waits for a
    writer's lock instead of failing at once, and a schema that another process is creating at the same
    moment is waited for."""
    import sqlalchemy.exc

    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    for attempt in range(attempts):
        try:
            return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


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
         progress: bool = True, sample_factor: int = 4, label: str = "") -> TuningResult:
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
    study = optuna.create_study(study_name=study_name, storage=open_storage(storage), direction="minimize",
                                load_if_exists=True, sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1))
    with bar(total=n_trials, desc=f"tune {label or study_name}", unit="trial", enabled=progress) as trials:
        def advance(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
            done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
            trials.set_postfix_str(f"best loss {min(t.value for t in done):.4f}" if done else "no trial done yet")
            trials.update()

        study.optimize(objective, n_trials=n_trials, timeout=timeout, callbacks=[advance])
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise RuntimeError(f"study {study_name!r}: no trial completed; see the trials' 'failure' attributes")
    best = study.best_trial
    params = space(optuna.trial.FixedTrial(best.params))
    # Refit only when the best trial came from an earlier (resumed) session.
    synth = fitted[best.number] if best.number in fitted else factory(params).fit(train)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    return TuningResult(params, float(best.value), len(study.trials), pruned, study_name, synth)
