"""Optuna tuning of synthesizers for fidelity, for use (utility), or both.

One helper serves every synthesizer: its search space (trial -> settings, declared on its class) and a
factory (settings -> unfitted synthesizer), looked up by name in ``shopfloor.synth.catalog``. Studies
live in SQLite, so a run can be resumed by name. Every synthesizer reports the objective at each
quarter of its epochs, and the median pruner stops trials that fall behind (single-objective studies;
Optuna does not prune two-objective ones); trials that crash or give a non-finite value are pruned too,
never fatal.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import optuna
import pandas as pd

from shopfloor.constants import OBJECTIVES
from shopfloor.errors import DataError
from shopfloor.platform.budget import BudgetSpent
from shopfloor.platform.failpoints import reach
from shopfloor.progress import bar
from shopfloor.synth.base import Synthesizer
from shopfloor.synth.catalog import synthesizer_class
from shopfloor.synth.fidelity import fidelity_loss

SearchSpace = Callable[[optuna.trial.BaseTrial], dict[str, Any]]  # a live trial, or a FixedTrial to rebuild one
Factory = Callable[[dict[str, Any]], Synthesizer]
CHECKPOINTS = 4  # fidelity reported after each quarter of the epochs


def space_for(name: str, max_steps: int = 1500) -> SearchSpace:
    """The registered synthesizer's own search space, with at most ``max_steps`` steps a trial."""
    cls = synthesizer_class(name)
    return lambda trial: cls.search_space(trial, max_steps)


def factory_for(name: str, seed: int, progress: bool = False) -> Factory:
    """Unfitted synthesizers ``name`` with a trial's settings; ``progress`` shows a bar per training run."""
    cls = synthesizer_class(name)
    return lambda params: cls(seed=seed, progress=progress, **params)


HEARTBEAT = 10  # seconds between a running trial's heartbeats; a trial silent for 3 of them has died


def open_storage(url: str, attempts: int = 5) -> optuna.storages.BaseStorage:
    """Optuna's RDB storage at ``url`` (SQLite, PostgreSQL...), safe to open from parallel workers: SQLite
    waits for a writer's lock instead of failing at once, and a schema that another process is creating at
    the same moment is waited for. Running trials send heartbeats, so the trial of a worker that was killed
    is marked failed by the next worker instead of staying "running" for ever; finished trials are kept."""
    import sqlalchemy.exc

    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
    for attempt in range(attempts):
        try:
            with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna's words; used on purpose
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(
                    url, engine_kwargs=kwargs, heartbeat_interval=HEARTBEAT, grace_period=3 * HEARTBEAT
                )
        except (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.OperationalError):
            if attempt == attempts - 1:
                raise
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def check_storage(url: str) -> str:
    """``DataError`` naming ``optuna-storage`` unless ``url`` opens as an Optuna storage now."""
    try:
        open_storage(url, attempts=1)
    except Exception as exc:  # a bad scheme, an unknown host, a refused connection, a missing driver
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise DataError("optuna-storage", f"cannot open {url!r}: {detail}") from None
    return url


@dataclass
class Objective:
    """What a fitted synthesizer is scored by: ``fidelity`` (the fidelity loss of its rows against held-out
    real faults, lower is better), ``utility`` (``utility(synthesizer)``, e.g. the PR-AUC of a classifier
    trained with its rows, higher is better) or ``both`` (a two-objective study, its Pareto front kept)."""

    kind: str
    fidelity_rows: pd.DataFrame
    utility: Callable[[Synthesizer], float] | None = None
    sample_factor: int = 4

    def __post_init__(self) -> None:
        if self.kind not in OBJECTIVES:
            raise DataError("objective", f"must be one of {list(OBJECTIVES)}, got {self.kind!r}")
        if self.kind != "fidelity" and self.utility is None:
            raise ValueError(f"objective {self.kind!r} needs a utility function")
        if len(self.fidelity_rows) < 2:
            raise ValueError("tuning needs at least 2 held-out rows")

    @property
    def directions(self) -> list[Literal["minimize", "maximize"]]:
        out: list[Literal["minimize", "maximize"]] = ["minimize"] if self.kind in ("fidelity", "both") else []
        if self.kind in ("utility", "both"):
            out.append("maximize")
        return out

    @property
    def names(self) -> list[str]:
        return {"fidelity": ["fidelity_loss"], "utility": ["utility"], "both": ["fidelity_loss", "utility"]}[self.kind]

    def values(self, synth: Synthesizer) -> list[float]:
        out = []
        if self.kind in ("fidelity", "both"):
            rows = synth.sample(self.sample_factor * len(self.fidelity_rows))
            out.append(fidelity_loss(self.fidelity_rows, rows))
        if self.kind in ("utility", "both"):
            utility = self.utility
            assert utility is not None  # checked when the objective was made
            out.append(float(utility(synth)))
        return out


@dataclass
class TuningResult:
    best_params: dict[str, Any]
    best_values: dict[str, float]  # objective name -> value of the chosen trial
    n_trials: int
    n_pruned: int
    study_name: str
    synthesizer: Synthesizer | None  # None when not refitted
    pareto: list[dict[str, Any]]  # two-objective studies: every Pareto-optimal trial; else []


def _epoch_callback(
    trial: optuna.Trial,
    synth: Synthesizer,
    objective: Objective,
    single: bool,
    deadline: float | None,
    fitted: dict,
    hard_deadline: float | None = None,
) -> Callable[[int], None]:
    """After each epoch: stop a trial that runs past the study's time budget once some trial of this session
    has finished (Optuna only checks the budget between trials, and one trial of a large network can take
    minutes), and any trial, the first too, past ``hard_deadline`` (epoch seconds: the run's time budget); for
    single-objective studies, report the objective at each quarter of the epochs (known once training starts)
    and prune."""

    def report(epoch: int) -> None:
        if deadline is not None and fitted and time.monotonic() > deadline:
            raise optuna.TrialPruned(f"stopped after {epoch + 1} epochs: the tuning time budget is spent")
        if hard_deadline is not None and time.time() > hard_deadline:
            raise optuna.TrialPruned(f"stopped after {epoch + 1} epochs: the run's time budget is spent")
        marks = {max(0, round(synth.total_epochs * k / CHECKPOINTS) - 1): k for k in range(1, CHECKPOINTS)}
        if single and epoch in marks:
            trial.report(objective.values(synth)[0], step=marks[epoch])
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after {epoch + 1} epochs")

    return report


def _pareto_pick(front: list[optuna.trial.FrozenTrial]) -> optuna.trial.FrozenTrial:
    """The Pareto-optimal trial with the smallest sum of its ranks on the two objectives (a balanced one)."""
    fid = sorted(front, key=lambda t: t.values[0])
    util = sorted(front, key=lambda t: -t.values[1])
    return min(front, key=lambda t: (fid.index(t) + util.index(t), -t.values[1]))


def tune(
    train: pd.DataFrame,
    space: SearchSpace,
    factory: Factory,
    objective: Objective,
    *,
    n_trials: int,
    timeout: float | None,
    storage: str,
    study_name: str,
    seed: int = 0,
    progress: bool = True,
    label: str = "",
    refit: bool = True,
    hard_deadline: float | None = None,
) -> TuningResult:
    """Run (or resume, or join: several workers may share one study) a study and return its best settings and,
    with ``refit``, the best synthesizer fitted on ``train``.

    Every trial fits a synthesizer on ``train`` and is scored by ``objective``; single-objective trials
    report at each quarter of their epochs and the median pruner stops weak ones. ``n_trials=0`` only reads
    the study (what the workers of a ``--tuning-workers`` run left). ``hard_deadline`` (epoch seconds) stops a
    running trial, the first one too, and starts no other after it.
    """
    fitted: dict[int, Synthesizer] = {}  # this session's fitted synthesizers, by trial number
    single = len(objective.directions) == 1
    deadline = time.monotonic() + timeout if timeout else None
    if hard_deadline is not None:
        timeout = max(0.0, min(timeout or float("inf"), hard_deadline - time.time()))

    def run(trial: optuna.Trial) -> float | tuple[float, ...]:
        params = space(trial)
        try:
            synth = factory(params)
            synth.callback = _epoch_callback(trial, synth, objective, single, deadline, fitted, hard_deadline)
            synth.fit(train)
            synth.callback = None
            values = objective.values(synth)
        except (RuntimeError, ValueError, FloatingPointError) as exc:
            trial.set_user_attr("failure", str(exc)[:200])
            raise optuna.TrialPruned() from exc
        if not all(math.isfinite(v) for v in values):
            raise optuna.TrialPruned()
        fitted[trial.number] = synth
        return values[0] if single else tuple(values)

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1) if single else None
    study = optuna.create_study(
        study_name=study_name,
        storage=open_storage(storage),
        directions=objective.directions,
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=pruner,
    )
    if n_trials > 0:
        with bar(total=n_trials, desc=f"tune {label or study_name}", unit="trial", enabled=progress) as trials:

            def advance(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
                done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
                if single and done:
                    trials.set_postfix_str(f"best {objective.names[0]} {study.best_value:.4f}")
                trials.update()
                if trial.state == optuna.trial.TrialState.COMPLETE:
                    reach("tuning")

            study.optimize(run, n_trials=n_trials, timeout=timeout, callbacks=[advance])
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete and hard_deadline is not None and time.time() > hard_deadline:
        raise BudgetSpent(f"study {study_name!r}: no trial completed within the run's time budget")
    if not complete:
        raise RuntimeError(f"study {study_name!r}: no trial completed; see the trials' 'failure' attributes")
    front = [] if single else study.best_trials
    best = study.best_trial if single else _pareto_pick(front)
    params = space(optuna.trial.FixedTrial(best.params))
    synth = None
    if refit:  # refit only when the chosen trial came from another session or worker
        synth = fitted[best.number] if best.number in fitted else factory(params).fit(train)
    pruned = sum(t.state == optuna.trial.TrialState.PRUNED for t in study.trials)
    pareto = [{"trial": t.number, **dict(zip(objective.names, t.values, strict=True)), **t.params} for t in front]
    return TuningResult(
        params,
        dict(zip(objective.names, best.values, strict=True)),
        len(study.trials),
        pruned,
        study_name,
        synth,
        pareto,
    )
