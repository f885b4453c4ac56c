"""The fault-detection workflow as plain functions over files, one per pipeline step.

ingest     check the table, split it 60/20/20 (train, valid, test), stratified.
synthesize (per synthesizer) tune on the training split: the synthesizer learns the faults of an inner
           part of it and is scored by fidelity to, or usefulness on, the inner rest; then, with the
           chosen settings, refit on the faults of each cross-validation fold of the development rows
           (train + valid) and on all of them, and sample candidate rows for each.
filter     (per synthesizer) filter each fold's candidates with a filter fitted on that fold's rows.
train      repeated stratified cross-validation over the development rows: every method (baseline,
           class weights, SMOTE, SMOTE filtered alike, each synthesizer) and amount of synthetic rows is
           fitted on each fold and predicts its held-out rows; the threshold and the amount are chosen on
           the pooled held-out predictions, the model with the best score is chosen, every method is
           refitted on all development rows, and the test split is scored once, for the report.
register   the chosen model in the contract, promoted only if not worse than the champion on the same
           test rows.

Synthetic rows are generated in the user's raw columns (categories stay categories, integers stay
integers) and pass through the same preprocessing as real rows. Frames travel as Parquet; candidate sets
carry a ``_fold`` column (``FINAL`` for the rows of the final model).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score
from sklearn.model_selection import train_test_split

from shopfloor.constants import EXPERIMENTS, FAULT_MODEL
from shopfloor.data import ingest as ing
from shopfloor.data.splitfiles import in_time_order, split_words, write_split
from shopfloor.defaults import FAULT_DETECTION
from shopfloor.errors import DataError
from shopfloor.fault_detection.check import check_table
from shopfloor.fault_detection.pyfunc import FaultClassifier
from shopfloor.fault_detection.selection import check_metric, evaluate_at, folds, forward_folds
from shopfloor.fault_detection.train import fit_classifier, full_model
from shopfloor.platform import failures
from shopfloor.platform.budget import Budget, BudgetSpent, Pace
from shopfloor.platform.failpoints import reach
from shopfloor.progress import PerMethod, reported
from shopfloor.registry.promotion import Decision

if TYPE_CHECKING:
    import pyarrow.parquet as pq

    from shopfloor.synth.tuning import Objective

# torch (the synthesizers), the filters and matplotlib are imported by the steps that use them: each pipeline
# step is a process of its own, and importing them all cost every step 2 of its 3.5 s of start-up.

EXPERIMENT = EXPERIMENTS["fault-detection"]
SCORE = "test_f2"
METRICS_SHOWN = ("accuracy", "precision", "recall", "f1", "f2", "g_mean", "pr_auc")
FOLD = "_fold"
FINAL = -1  # the candidate set of the final models, fitted on all development rows
RATIOS = (0.25, 0.5, 1.0)  # synthetic rows, as shares of the majority - minority gap
UTILITY_RATIO = 0.5  # synthetic rows while tuning for utility


class FoldWriter:
    """Candidate sets written to one Parquet file one fold at a time (a ``_fold`` column), so that a step holds one
    set in memory, not all: at 300,000 rows the sets of one synthesizer hold about 3 million rows."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def write(self, frame: pd.DataFrame, fold: int) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        frame = frame.reset_index(drop=True).assign(**{FOLD: fold})
        schema = self.writer.schema if self.writer is not None else None
        table = pa.Table.from_pandas(frame, schema=schema, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table)
        self.rows += len(frame)

    def __enter__(self) -> FoldWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.writer is not None:
            self.writer.close()


def read_fold(path: str | Path, fold: int) -> pd.DataFrame:
    """One fold's rows of a file ``FoldWriter`` wrote, without its ``_fold`` column."""
    rows = pd.read_parquet(path, filters=[(FOLD, "==", fold)])
    return rows.drop(columns=[FOLD]).reset_index(drop=True)


# ---------------------------------------------------------------- the development rows
@dataclass
class Development:
    """Train + valid rows, which choose everything, and the repeated stratified folds over them (forward-chaining
    folds when ingest split the rows in time order: train, then valid, each in time order).

    With more than ``cv_rows`` rows, the folds choose on a stratified sample of that many: each fold is the full
    fold restricted to the sample, so rows synthesized for a fold (from its training faults) never saw its held-out
    faults, and the chosen model is still refitted on every row (``FINAL``). Choosing needs far fewer rows than
    the final model gains from: at 300,000 rows one fold of the whole grid took the cross-validation's whole share
    of a 10-minute budget, and the grid was cut down to logistic regression (test F2 0.695, below 0.712 at 30,000
    rows; benchmarks/scaling.py)."""

    rows: pd.DataFrame
    folds: list[tuple[np.ndarray, np.ndarray]]
    sampled: int = 0  # rows the folds choose on (all of them when 0)

    @classmethod
    def load(
        cls, train: str, valid: str, n_folds: int, repeats: int, seed: int, cv_rows: int = FAULT_DETECTION.cv_rows
    ) -> Development:
        rows = pd.concat([pd.read_parquet(train), pd.read_parquet(valid)], ignore_index=True)
        labels = rows[ing.LABEL].to_numpy()
        pairs = forward_folds(labels, n_folds) if in_time_order(train) else folds(labels, n_folds, repeats, seed)
        if not cv_rows or len(rows) <= cv_rows:
            return cls(rows, pairs, len(rows))
        sample, _ = train_test_split(np.arange(len(rows)), train_size=cv_rows, stratify=labels, random_state=seed)
        sample = np.sort(sample)
        return cls(
            rows, [(np.intersect1d(fit, sample), np.intersect1d(held, sample)) for fit, held in pairs], len(sample)
        )

    def parts(self) -> Iterator[tuple[int, pd.DataFrame]]:
        """(fold id, the rows a model of that fold is fitted on), the folds first, then ``FINAL``: all."""
        for k, (fit, _) in enumerate(self.folds):
            yield k, self.rows.iloc[fit].reset_index(drop=True)
        yield FINAL, self.rows


def gap(rows: pd.DataFrame) -> int:
    """Majority minus minority rows: the synthetic rows that would balance ``rows``."""
    faulty = int(rows[ing.LABEL].sum())
    return max(0, len(rows) - 2 * faulty)


def faults_of(rows: pd.DataFrame) -> pd.DataFrame:
    """The faulty rows' features, missing values filled (synthesizers learn from these)."""
    return ing.fill_missing(rows[rows[ing.LABEL] == 1].drop(columns=[ing.LABEL]).reset_index(drop=True))


# ---------------------------------------------------------------- ingest
@reported(
    "ingest",
    summary=lambda i: (
        f"{i['rows']} rows x {i['features']} columns, {i['minority_rows']} faulty "
        f"(label {i['positive_label']!r}); {i['split']}"
    ),
)
def ingest_step(
    data: str,
    label: str,
    *,
    train: str,
    valid: str,
    test: str,
    preprocessing: str,
    drop: list[str] | None = None,
    categorical: list[str] | None = None,
    key_column: str = "",
    positive: str = FAULT_DETECTION.positive,
    time_column: str = FAULT_DETECTION.time_column,
    split: str = FAULT_DETECTION.split,
    test_size: float = 0.2,
    valid_size: float = 0.2,
    seed: int = FAULT_DETECTION.seed,
) -> dict[str, Any]:
    """Read and check the table, split it (stratified at random, or in time order by ``time_column``), fit the
    [-1, 1] preprocessing on train. ``key_column`` (a part id) is kept out of the features and named in the model,
    so the server logs it with each answer; ``positive`` names the faulty label value (else the rarer of two);
    ``time_column`` is never a feature."""
    reach("ingest")
    _, table, splits = check_table(
        data,
        label,
        positive=positive,
        drop=drop,
        categorical=categorical,
        key_column=key_column,
        time_column=time_column,
        split=split,
        test_size=test_size,
        valid_size=valid_size,
        seed=seed,
    )
    mode = "time" if splits.by_time else "random"
    for frame, path in ((splits.train, train), (splits.valid, valid), (splits.test, test)):
        write_split(frame, path, order=mode, split=splits.describe())
    ing.Preprocessing.fit(table, splits.train, key_column=key_column).save(preprocessing)
    return {
        "rows": len(table.label),
        "features": table.features.shape[1],
        "categorical": list(table.categorical),
        "minority_rows": int(table.label.sum()),
        "positive_label": table.positive_label,
        "train_rows": len(splits.train),
        "valid_rows": len(splits.valid),
        "test_rows": len(splits.test),
        "split": splits.describe(),
        "order": mode,
    }


# ---------------------------------------------------------------- synthesize
def utility_of(
    prep: ing.Preprocessing, fit_rows: pd.DataFrame, held_rows: pd.DataFrame, classifier: str, seed: int = 0
):
    """The utility objective: PR-AUC on ``held_rows`` of a ``classifier`` trained on ``fit_rows`` plus
    ``UTILITY_RATIO`` of their gap in rows sampled from the synthesizer."""
    local = prep.refit(fit_rows)
    real = local.scaled(fit_rows)
    held_x, held_y = local.encode(held_rows), held_rows[ing.LABEL].to_numpy()
    n = max(1, round(UTILITY_RATIO * gap(fit_rows)))

    def utility(synth) -> float:
        rows = local.encode(synth.sample(n, seed=seed + 7)).assign(**{ing.LABEL: 1})
        model = fit_classifier(pd.concat([real, rows], ignore_index=True), classifier, seed=seed)
        return float(average_precision_score(held_y, model.predict_proba(held_x)[:, 1]))

    return utility


def _tuning_goal(
    train: str, preprocessing: str, objective: str, classifier: str, seed: int
) -> tuple[pd.DataFrame, Objective]:
    """The faults a synthesizer is tuned on (3/4 of train's) and what scores it (on the other 1/4): the same
    for every tuning worker and for the step that reads their study."""
    from shopfloor.synth.tuning import Objective

    prep = ing.Preprocessing.load(preprocessing)
    classifier = classifier_families(classifier)[0]  # several families: the first (the quickest) judges utility
    train_rows = pd.read_parquet(train)
    inner_fit, inner_held = train_test_split(
        train_rows, test_size=0.25, stratify=train_rows[ing.LABEL], random_state=seed
    )
    utility = utility_of(prep, inner_fit, inner_held, classifier, seed) if objective != "fidelity" else None
    return faults_of(inner_fit), Objective(objective, faults_of(inner_held), utility)


def study_url(storage: str | None, folder: Path, synthesizer: str) -> str:
    """Where ``synthesizer``'s study lives: the shared ``storage``, else a SQLite file in ``folder``."""
    return storage or f"sqlite:///{folder / f'{synthesizer}.db'}"


def _time_to_tune(budget: Budget | None, synthesizer: str) -> None:
    """``BudgetSpent`` when a run's budget has no time left for tuning (``tune`` itself says so of a study whose
    trials the deadline stopped)."""
    if budget is not None and budget.left("tune") <= 0:
        raise BudgetSpent(f"no time left for tuning {synthesizer} ({budget.estimate()})")


def _check_pace(budget: Budget | None, step: str, pace: Pace, units: int, what: str) -> None:
    """``BudgetSpent`` when ``units`` more units of work, at ``pace``, would end past ``step``'s deadline."""
    if budget is None:
        return
    left = budget.left(step)
    if left <= 0 or not pace.fits(units, left):
        raise BudgetSpent(
            f"{what}: {units} left would end past the time budget (about {pace.each:.0f} s each, "
            f"{max(0.0, left):.0f} s left; {budget.estimate()})"
        )


@reported(
    "tune {job}",
    summary=lambda i: (
        f"worker {i['worker'] + 1} of {i['workers']}: budget {i['budget']} trials, "
        f"study {i['study']} now holds {i['trials']} ({i['pruned']} pruned)"
    ),
    per_method=PerMethod("job", outputs=("study_dir",)),
)
def tune_step(
    train: str,
    valid: str,
    preprocessing: str,
    *,
    job: str,
    study_dir: str,
    workers: int,
    n_trials: int,
    timeout: float,
    storage: str | None,
    study_name: str,
    objective: str = FAULT_DETECTION.objective,
    classifier: str = FAULT_DETECTION.classifier,
    max_steps: int = FAULT_DETECTION.max_steps,
    seed: int = FAULT_DETECTION.seed,
    progress: bool = True,
    run_budget: Budget | None = None,
) -> dict[str, Any]:
    """One tuning worker (``job`` is ``SYNTHESIZER/WORKER``): its share of the trial budget, in the study that
    all workers of the synthesizer share, with its own sampler seed so that workers explore apart. With a
    ``run_budget``, tuning ends by the budget's ``tune`` deadline, a running trial included."""
    from shopfloor.synth.tuning import factory_for, space_for, tune

    synthesizer, _, index = job.partition("/")
    worker = int(index or 0)
    if workers > 1 and not storage:
        raise DataError(
            "optuna-storage",
            f"{workers} tuning workers must share one study: give a storage that "
            "every worker reaches (e.g. postgresql+psycopg2://...)",
        )
    out = Path(study_dir)
    out.mkdir(parents=True, exist_ok=True)
    faults, goal = _tuning_goal(train, preprocessing, objective, classifier, seed)
    share = math.ceil(n_trials / workers)
    _time_to_tune(run_budget, synthesizer)
    result = tune(
        faults,
        space_for(synthesizer, max_steps),
        factory_for(synthesizer, seed, progress),
        goal,
        n_trials=share,
        timeout=timeout,
        storage=study_url(storage, out, synthesizer),
        study_name=f"{study_name}-{synthesizer}",
        seed=seed + 1000 * worker,
        progress=progress,
        label=job,
        refit=False,
        hard_deadline=run_budget.deadline("tune") if run_budget else None,
    )
    info = {
        "job": job,
        "synthesizer": synthesizer,
        "worker": worker,
        "workers": workers,
        "budget": share,
        "trials": result.n_trials,
        "pruned": result.n_pruned,
        "study": result.study_name,
        "best": result.best_values,
    }
    (out / f"{synthesizer}-{worker}.json").write_text(json.dumps(info, indent=2, default=str))
    return info


@reported(
    "synthesize {synthesizer}",
    summary=lambda i: (
        f"{i['trials']} trials ({i['pruned']} pruned), best "
        + ", ".join(f"{k} {v:.3f}" for k, v in i["best"].items())
        + f"; CV fidelity: column shapes {i['fidelity_column_shapes']:.3f}; "
        f"{i['candidates']} candidate rows in {i['sets']} sets"
    ),
    per_method=PerMethod("synthesizer", outputs=("synthesizer_dir", "candidates")),
)
def synthesize_step(
    train: str,
    valid: str,
    preprocessing: str,
    *,
    synthesizer: str,
    synthesizer_dir: str,
    candidates: str,
    n_trials: int,
    timeout: float,
    storage: str | None,
    study_name: str,
    objective: str = FAULT_DETECTION.objective,
    classifier: str = FAULT_DETECTION.classifier,
    cv_folds: int = FAULT_DETECTION.cv_folds,
    cv_repeats: int = FAULT_DETECTION.cv_repeats,
    candidate_factor: float = 3.0,
    max_steps: int = FAULT_DETECTION.max_steps,
    seed: int = FAULT_DETECTION.seed,
    progress: bool = True,
    studies_dir: str | None = None,
    run_budget: Budget | None = None,
    cv_rows: int = FAULT_DETECTION.cv_rows,
) -> dict[str, Any]:
    """Tune ``synthesizer`` on the training split (or, with ``studies_dir``, read the study that the tuning
    workers filled), refit it with the chosen settings for every fold of the development rows and for all of
    them, and write each one's candidate rows (raw columns, ``_fold``). With a ``run_budget``, when the refits
    left would end past its ``synthesize`` deadline at their pace so far, the synthesizer is left out
    (``BudgetSpent``): without a refit for every fold it cannot be compared fairly with the other methods."""
    from shopfloor.synth.fidelity import fidelity_report
    from shopfloor.synth.tuning import factory_for, space_for, tune

    out = Path(synthesizer_dir)
    out.mkdir(parents=True, exist_ok=True)
    faults, goal = _tuning_goal(train, preprocessing, objective, classifier, seed)
    folder = Path(studies_dir) if studies_dir else out
    worker_failures = [
        f for p in sorted(folder.glob(f"failed-{synthesizer}-*.json")) if (f := failures.read(p)) is not None
    ]
    local = folder / f"{synthesizer}.db"
    url = f"sqlite:///{local}" if studies_dir and local.exists() else study_url(storage, folder, synthesizer)
    _time_to_tune(run_budget, synthesizer)
    try:
        result = tune(
            faults,
            space_for(synthesizer, max_steps),
            factory_for(synthesizer, seed, progress),
            goal,
            n_trials=0 if studies_dir else n_trials,
            timeout=timeout,
            storage=url,
            study_name=f"{study_name}-{synthesizer}",
            seed=seed,
            progress=progress,
            label=synthesizer,
            refit=False,
            hard_deadline=run_budget.deadline("tune") if run_budget else None,
        )
    except BudgetSpent:
        raise
    except Exception as exc:
        if worker_failures:  # the study is empty because its workers failed: say why they did
            raise RuntimeError(worker_failures[0].error) from exc
        raise
    dev = Development.load(train, valid, cv_folds, cv_repeats, seed, cv_rows)
    reach(f"synthesize-{synthesizer}")
    factory = factory_for(synthesizer, seed, progress=False)
    fidelity = []
    pace = Pace()
    parts = len(dev.folds) + 1
    with FoldWriter(candidates) as sets:
        for done, (fold, rows) in enumerate(dev.parts()):
            _check_pace(run_budget, "synthesize", pace, parts - done, f"{synthesizer}'s refits")
            begun = time.monotonic()
            synth = factory(result.best_params).fit(faults_of(rows))
            pace.add(time.monotonic() - begun)
            n = math.ceil(candidate_factor * max(RATIOS) * max(gap(rows), 1))
            sets.write(synth.sample(n, seed=seed + 101 + fold), fold)
            if fold != FINAL:  # fidelity to the faults this fold's synthesizer never saw
                held = faults_of(dev.rows.iloc[dev.folds[fold][1]])
                fidelity.append(fidelity_report(held, synth.sample(4 * len(held), seed=seed + 2)))
    synth.save(out / "synthesizer.pt")  # the last one: fitted on all development faults
    report = {k: float(np.mean([f[k] for f in fidelity])) for k in fidelity[0]}
    info = {
        "synthesizer": synthesizer,
        "objective": objective,
        "best": result.best_values,
        "trials": result.n_trials,
        "pruned": result.n_pruned,
        "study": result.study_name,
        "candidates": sets.rows,
        "sets": parts,
        "pareto": result.pareto,
        **{f"fidelity_{k}": v for k, v in report.items()},
        **{f"param_{k}": v for k, v in synth.get_parameters().items()},
    }
    (out / "info.json").write_text(json.dumps(info, indent=2, default=str))
    return info


# ---------------------------------------------------------------- filter
@reported(
    "filter {synthesizer}",
    summary=lambda i: (
        f"{i['method']}: kept {i['kept']} of {i['candidates']} rows in "
        f"{i['sets']} sets" + (f"; {i['note']}" if i.get("note") else "")
    ),
    per_method=PerMethod("synthesizer", inputs=("candidates",), outputs=("kept", "plot")),
)
def filter_step(
    train: str,
    valid: str,
    preprocessing: str,
    candidates: str,
    *,
    kept: str,
    plot: str,
    method: str = "kmeans",
    d_max_quantile: float = FAULT_DETECTION.d_max_quantile,
    likelihood_quantile: float = FAULT_DETECTION.likelihood_quantile,
    cv_folds: int = FAULT_DETECTION.cv_folds,
    cv_repeats: int = FAULT_DETECTION.cv_repeats,
    seed: int = FAULT_DETECTION.seed,
    synthesizer: str = "",
    run_budget: Budget | None = None,
    cv_rows: int = FAULT_DETECTION.cv_rows,
) -> dict[str, Any]:
    """Filter every candidate set with a filter fitted on the rows of its fold; PCA plot of the final set's
    kept vs dropped rows. ``synthesizer`` names the rows' source in reports. With a ``run_budget``, filters that
    would end past its ``filter`` deadline leave the synthesizer out (``BudgetSpent``)."""
    from shopfloor.plots import pca_scatter
    from shopfloor.synth.filter import filter_rows

    prep = ing.Preprocessing.load(preprocessing)
    dev = Development.load(train, valid, cv_folds, cv_repeats, seed, cv_rows)
    infos = []
    pace = Pace()
    with FoldWriter(kept) as sets:
        for done, (fold, rows) in enumerate(dev.parts()):
            _check_pace(run_budget, "filter", pace, len(dev.folds) + 1 - done, f"{synthesizer or 'the'} filters")
            begun = time.monotonic()
            local = prep.refit(rows)
            x, y = ing.xy(local.scaled(rows))
            raw = read_fold(candidates, fold)
            encoded = local.encode(raw)
            result = filter_rows(
                method, encoded, x, y, seed=seed, d_max_quantile=d_max_quantile, likelihood_quantile=likelihood_quantile
            )
            sets.write(raw.iloc[result.order], fold)
            infos.append(result.info)
            pace.add(time.monotonic() - begun)
    final = infos[-1]
    dropped = np.setdiff1d(np.arange(len(encoded)), result.order)
    pca_scatter(x, y, {"kept": encoded.iloc[result.order], "dropped": encoded.iloc[dropped]}, Path(plot))
    summary = {
        "method": method,
        "sets": len(infos),
        "candidates": final["candidates"],
        "kept": final["kept"],
        "kept_share_mean": float(np.mean([i["kept"] / max(i["candidates"], 1) for i in infos])),
    }
    if "premise_holds" in final:
        summary |= {"premise_held_in": sum(i["premise_holds"] for i in infos), "note": final["note"]}
    return summary


# ---------------------------------------------------------------- train
class TrainingSets:
    """Every candidate's encoded training rows (and class weight) for one fold, built when asked: ``baseline``,
    ``class_weighted``, ``smote@r``, ``smote-FILTER@r`` for each of ``smote_filters`` and ``NAME@r`` for each
    synthesizer, with ``r`` times the fold's gap in new minority rows (kept candidates in their filter's order).

    A set is made only when a fit asks for it and only one is held at a time, so memory grows with one training
    set, not with the grid (at 300,000 rows, eleven sets of up to twice the rows each would not fit in 4 GiB); the
    candidate pools (SMOTE's, filtered SMOTE's, each synthesizer's) are made once per fold, on first use."""

    def __init__(
        self,
        local: ing.Preprocessing,
        rows: pd.DataFrame,
        synthetic: dict[str, pd.DataFrame],
        smote_filters: tuple[str, ...],
        ratios: tuple[float, ...],
        seed: int = 0,
    ) -> None:
        self.local, self.synthetic, self.smote_filters, self.seed = local, synthetic, smote_filters, seed
        self.real = local.scaled(rows)
        self.need = {r: int(round(r * gap(rows))) for r in ratios}
        self._pools: dict[str, pd.DataFrame] = {}

    @staticmethod
    def configs(
        synthesizers: list[str], smote_filters: tuple[str, ...], ratios: tuple[float, ...]
    ) -> list[tuple[str, float | None]]:
        """(method, ratio) of every training set, simplest first: without synthetic rows, SMOTE, filtered SMOTE,
        each synthesizer."""
        pools = ["smote", *(f"smote-{m}" for m in smote_filters), *synthesizers]
        return [("baseline", None), ("class_weighted", None), *((p, r) for p in pools for r in ratios)]

    def _pool(self, name: str) -> pd.DataFrame:
        from shopfloor.fault_detection.train import smote_candidates
        from shopfloor.synth.filter import filter_rows

        if name not in self._pools:
            most = max(self.need.values())
            if name == "smote":
                self._pools[name] = smote_candidates(self.real, most, self.seed)
            elif name.startswith("smote-") and name.removeprefix("smote-") in self.smote_filters:
                extra = smote_candidates(self.real, 3 * most, self.seed + 1)
                x, y = ing.xy(self.real)
                self._pools[name] = extra.iloc[
                    filter_rows(name.removeprefix("smote-"), extra, x, y, seed=self.seed).order
                ]
            else:
                self._pools[name] = self.local.encode(self.synthetic[name])
        return self._pools[name]

    def rows(self, method: str, ratio: float | None) -> tuple[pd.DataFrame, str | None]:
        """The training rows of ``method`` at ``ratio`` and their class weight."""
        if method == "baseline":
            return self.real, None
        if method == "class_weighted":
            return self.real, "balanced"
        if ratio is None:
            raise ValueError(f"{method} adds synthetic rows: it needs a ratio")
        rows = self._pool(method).head(self.need[ratio]).assign(**{ing.LABEL: 1})
        return pd.concat([self.real, rows], ignore_index=True), None


def classifier_families(choice: str) -> tuple[str, ...]:
    """The classifiers a ``--classifier`` choice puts through cross-validation: ``auto`` logistic regression and
    gradient boosting, ``all`` the ResNet too, or one by name."""
    from shopfloor.constants import CLASSIFIER_CHOICES, CLASSIFIER_FAMILIES

    if choice not in CLASSIFIER_CHOICES:
        raise DataError("classifier", f"choose one of {', '.join(CLASSIFIER_CHOICES)}, got {choice!r}")
    return CLASSIFIER_FAMILIES.get(choice, (choice,))


def model_file(method: str) -> str:
    """The file a method's final model is kept in (method names may hold a '/')."""
    return f"{method.replace('/', '__')}.joblib"


def _train_summary(s: dict[str, Any]) -> str:
    failed = f"; {len(s['failed'])} failed ({', '.join(s['failed'])})" if s["failed"] else ""
    cut = f"; {len(s['left_out'])} left out by the time budget" if s["left_out"] else ""
    return (
        f"{len(s['methods'])} methods x amounts, {'/'.join(s['classifiers'])}, {s['cv']['folds']} CV folds, "
        f"{s['grid']['fits']} fits; chosen: {s['best']} (CV {s['threshold_metric']} "
        f"{s['methods'][s['best']]['cv']['score']:.3f}, test {s['methods'][s['best']]['test']['f2']:.3f} F2)"
        f"{failed}{cut}"
    )


VERIFY_ROWS = 20_000  # development rows the compiled path is checked on at registration
BATCH_ROWS = 100  # rows whose scoring time is measured for each method (one row, and all of them as a batch)


@reported("train", summary=_train_summary)
def train_step(
    train: str,
    valid: str,
    test: str,
    preprocessing: str,
    synthetic: dict[str, str],
    *,
    models_dir: str,
    report: str,
    plot: str,
    classifier: str,
    filter_method: str,
    threshold_metric: str,
    ratios: tuple[float, ...] = RATIOS,
    cv_folds: int,
    cv_repeats: int,
    seed: int,
    smote_filters: tuple[str, ...] | None = None,
    run_budget: Budget | None = None,
    max_latency_ms: float = FAULT_DETECTION.max_latency_ms,
    cv_rows: int = FAULT_DETECTION.cv_rows,
) -> dict[str, Any]:
    """Choose by repeated stratified cross-validation on train + valid among every method, amount of synthetic rows
    and classifier family; refit each method's best on all of them, score each once on test. The test split never
    chooses anything. SMOTE's rows also go through ``filter_method`` (or each of ``smote_filters``) as extra
    comparison rows. A synthesizer whose branch failed (its rows are a failure record) and a method whose
    classifier fails to fit are left out and reported; the run fails only when no method is left.

    With a ``run_budget``, the grid ends by the budget's ``cv`` deadline (``shopfloor.fault_detection.grid``: successive
    halving, then fits left out, the first family without synthetic rows always kept) and the final refits by its
    ``train`` deadline: the chosen method's refit always, the others' while time is left (each left out is named).
    Each refitted method's one-row scoring time is measured on its served path; a method whose 99th percentile
    exceeds ``max_latency_ms`` (0: no limit) is left out, named, except the cheapest rival."""
    from shopfloor.fault_detection.grid import Candidate, run_grid
    from shopfloor.platform.latency import scoring_latency
    from shopfloor.plots import confusion_matrices

    check_metric(threshold_metric)
    families = classifier_families(classifier)
    several = len(families) > 1
    if smote_filters is None:
        smote_filters = () if filter_method == "none" else (filter_method,)
    prep = ing.Preprocessing.load(preprocessing)
    dev = Development.load(train, valid, cv_folds, cv_repeats, seed, cv_rows)
    failed: dict[str, failures.Failure] = {}
    left_out: dict[str, str] = {}
    kept: dict[str, str] = {}  # each synthesizer's kept rows, read one fold at a time
    for name, path in synthetic.items():
        record = failures.read(path)
        if record is None:
            kept[name] = path
        elif record.error.startswith(BudgetSpent.__name__):
            left_out[name] = f"{record.step}: {record.error.removeprefix(BudgetSpent.__name__ + ': ')}"
        else:
            failed[name] = record

    def synthetic_for(fold: int) -> dict[str, pd.DataFrame]:
        return {name: read_fold(path, fold) for name, path in kept.items()}

    def fit(train_rows: pd.DataFrame, candidate: Candidate, weight: str | None, where: str):
        """A fitted classifier, or None after recording the method's failure."""
        method = candidate.method
        if method in failed:
            return None
        try:
            return fit_classifier(train_rows, candidate.family, seed=seed, class_weight=weight)
        except DataError:
            raise
        except Exception as exc:  # noqa: BLE001  (one classifier failing leaves the others to compare)
            failed[method] = failures.Failure.of(method, where, exc)
            return None

    def fold(k: int) -> tuple[int, np.ndarray, pd.DataFrame, TrainingSets]:
        fit_idx, held = dev.folds[k]
        rows, held_rows = dev.rows.iloc[fit_idx].reset_index(drop=True), dev.rows.iloc[held]
        local = prep.refit(rows)
        return (
            k,
            held_rows[ing.LABEL].to_numpy(),
            local.encode(held_rows),
            TrainingSets(local, rows, synthetic_for(k), smote_filters, ratios, seed),
        )

    def fit_predict(candidate: Candidate, context: tuple[int, np.ndarray, pd.DataFrame, TrainingSets]):
        k, labels, held_x, sets = context
        train_rows, weight = sets.rows(candidate.method, candidate.ratio)
        model = fit(train_rows, candidate, weight, f"train (fold {k + 1})")
        return None if model is None else (labels, model.predict_proba(held_x)[:, 1])

    configs = TrainingSets.configs(list(kept), smote_filters, ratios)
    candidates = [Candidate(method, f, ratio) for method, ratio in configs for f in families]
    cv_left = (lambda: run_budget.left("cv")) if run_budget else (lambda: float("inf"))
    grid = run_grid(
        candidates, len(dev.folds), fold, fit_predict, metric=threshold_metric, protected=[candidates[0]], left=cv_left
    )
    left_out |= {c.name(several): why for c, why in grid.left_out.items()}
    scores = {c: s for c, s in grid.scores.items() if c.method not in failed}
    best_config: dict[str, Candidate] = {}
    for c, score in scores.items():  # each method's best amount of synthetic rows
        method = c.method_name(several)
        if method not in best_config or score.score > scores[best_config[method]].score:
            best_config[method] = c
    # ties go to the simpler method: baseline, class weights, SMOTE, synthesizers (the grid's order)
    ranked = sorted(best_config, key=lambda m: (-scores[best_config[m]].score, candidates.index(best_config[m])))
    out = Path(models_dir)
    out.mkdir(parents=True, exist_ok=True)
    final = prep.refit(dev.rows)
    final.save(out / "preprocessing.joblib")
    dev.rows.to_parquet(out / "reference.parquet", index=False)
    test_rows = pd.read_parquet(test)
    x_test, y_test = ing.xy(test_rows)
    final_sets = TrainingSets(final, dev.rows, synthetic_for(FINAL), smote_filters, ratios, seed)
    methods: dict[str, dict[str, Any]] = {}
    # a final refit sees every development row; a fold's fit saw its share of the (sampled) rows
    growth = len(dev.rows) / max(1.0, float(np.mean([len(fit_rows) for fit_rows, _ in dev.folds])))
    for method in ranked:
        c = best_config[method]
        expected = growth * grid.seconds.get(c, 0.0)
        # the chosen method is always refitted; the others while the budget's time lasts
        if methods and run_budget is not None and expected > run_budget.left("train"):
            left_out[method] = (
                f"not refitted for the test split: its refit takes about {expected:.0f} s, "
                f"{max(0.0, run_budget.left('train')):.0f} s were left (CV {threshold_metric} "
                f"{scores[c].score:.3f})"
            )
            continue
        train_rows, weight = final_sets.rows(c.method, c.ratio)
        fitted = fit(train_rows, c, weight, "train (final refit)")
        if fitted is None:
            continue
        model = full_model(final.preprocessor, fitted)
        threshold = scores[c].threshold
        served = FaultClassifier(model, final.schema, threshold=threshold)
        latency = scoring_latency(served, x_test.head(BATCH_ROWS))
        if max_latency_ms > 0 and latency["latency_one_p99_ms"] > max_latency_ms and c != candidates[0]:
            left_out[method] = (
                f"too slow to serve: one row takes {latency['latency_one_p99_ms']:.2f} ms at the "
                f"99th percentile, over --max-latency-ms {max_latency_ms:g} (CV {threshold_metric} "
                f"{scores[c].score:.3f})"
            )
            continue
        joblib.dump(model, out / model_file(method))
        methods[method] = {
            "config": c.name(several),
            "classifier": c.family,
            "ratio": c.ratio,
            "threshold": threshold,
            "cv": scores[c].to_dict(),
            "train_rows": len(train_rows),
            "test": evaluate_at(y_test, model.predict_proba(x_test)[:, 1], threshold),
            "latency": {k.removeprefix("latency_"): round(v, 4) for k, v in latency.items()},
        }
    if not methods:
        raise RuntimeError("no method worked: " + "; ".join(str(f) for f in failed.values()))
    best = next(iter(methods))  # the best CV score among those refitted: the ranking's first that worked
    for c, why in grid.left_out.items():  # a method none of whose candidates went through: named with a reason
        method = c.method_name(several)
        if method not in methods and method not in failed and method not in best_config:
            left_out.setdefault(method, why)
    confusion_matrices({m: v["test"] for m, v in methods.items()}, Path(plot))
    summary = {
        "best": best,
        "classifier": classifier,
        "classifiers": list(families),
        "threshold_metric": threshold_metric,
        "filter": filter_method,
        "cv": {
            "folds": len(dev.folds),
            "repeats": cv_repeats,
            "rows": len(dev.rows),
            "sampled_rows": dev.sampled,
            "ratios": list(ratios),
        },
        "grid": {
            "candidates": len(candidates),
            "fits": grid.fits,
            "seconds_per_fit": {c.name(several): round(t, 3) for c, t in grid.seconds.items()},
        },
        "budget": {
            "seconds": run_budget.seconds if run_budget else 0.0,
            "left_after": round(run_budget.remaining(), 1) if run_budget else None,
        },
        "methods": methods,
        "configs": {c.name(several): s.to_dict() for c, s in scores.items()},
        "best_test_method": max(methods, key=lambda m: methods[m]["test"]["f2"]),
        "failed": {name: {"step": f.step, "error": f.error} for name, f in failed.items()},
        "left_out": left_out,
        "methods_failed": len(failed),
    }
    Path(report).write_text(json.dumps(summary, indent=2))
    return summary


def comparison_table(summary: dict[str, Any], split: str = "test") -> pd.DataFrame:
    """One row per method, the test metrics that matter, its CV score, threshold and synthetic share; a method
    that failed has a row of its own with the step and error that left it out."""
    rows = {}
    for name, m in summary["methods"].items():
        rows[name] = {
            **{k: m[split][k] for k in METRICS_SHOWN},
            f"cv_{summary['threshold_metric']}": m["cv"]["score"],
            "threshold": m["threshold"],
            "synthetic_share": m["ratio"] if m["ratio"] is not None else 0.0,
        }
        if "latency" in m:  # the served path's scoring time, one row and a batch of 100
            rows[name] |= {"row_p99_ms": m["latency"]["one_p99_ms"], "batch_p50_ms": m["latency"]["batch_p50_ms"]}
    failed = summary.get("failed", {})
    for name, f in failed.items():
        rows[name] = {"failed": f"{f['step']}: {f['error']}"[:160]}
    # a whole method the time budget left out (its candidates dropped one by one are in the report's JSON)
    cut = {
        name: why
        for name, why in summary.get("left_out", {}).items()
        if name not in rows and "@" not in name and not any(m.startswith(f"{name}/") for m in rows)
    }
    for name, why in cut.items():
        rows[name] = {"left_out": why[:160]}
    frame = pd.DataFrame.from_dict(rows, orient="index").rename_axis("model")
    for column, present in (("failed", failed), ("left_out", cut)):
        if present:
            frame[column] = frame[column].fillna("")
    return frame


# ---------------------------------------------------------------- register
def promotion(
    model: FaultClassifier, test_rows: pd.DataFrame, model_name: str, metric: str = "f2", force: bool = False
) -> Decision:
    """Score the current champion and ``model`` on the same test rows; the new model takes ``@champion``
    only if not worse. A champion that cannot read these rows (other columns) is never replaced silently:
    the new model is a challenger unless ``force``."""
    from shopfloor.errors import RegistryError
    from shopfloor.fault_detection.metrics import classification_report
    from shopfloor.registry import champion_contract, load_version

    try:
        contract = champion_contract(model_name)
    except RegistryError:
        return Decision(True, "no champion yet")
    version = str(contract.version.version)
    y = test_rows[ing.LABEL].to_numpy()
    new = classification_report(y, model.predict(None, test_rows)["class"].to_numpy())[metric]
    names = contract.inputs.names
    missing = [c for c in names if c not in test_rows.columns]
    if missing or contract.kind != FaultClassifier.KIND:
        why = (
            f"champion v{version} takes other columns (e.g. {missing[0]!r})"
            if missing
            else f"champion v{version} is a {contract.kind} model"
        )
        if force:
            return Decision(True, f"{why}; replaced because --force-champion was given", version, None, new, len(y))
        return Decision(False, f"{why}: kept; register with --force-champion to replace it", version, None, new, len(y))
    champion = load_version(model_name, version)
    old = classification_report(y, champion.predict(None, test_rows[names])["class"].to_numpy())[metric]
    promote = force or new >= old
    verdict = "promoted" if new >= old else ("promoted (--force-champion)" if force else "kept the champion")
    return Decision(
        promote,
        f"{verdict}: new {metric} {new:.3f} vs champion v{version} {old:.3f} on the same {len(y)} test rows",
        version,
        old,
        new,
        len(y),
        {"champion_test_f2_same_rows": old},
    )


def _run_report(
    model: FaultClassifier, summary: dict[str, Any], test_rows: pd.DataFrame, model_name: str, split: str, rows: int
):
    """The fault-detection sections of the run's report: what was learnt, how the rows were split, the test
    split's precision-recall and ROC curves and confusion matrix of the chosen model at its threshold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, PrecisionRecallDisplay, RocCurveDisplay

    from shopfloor.registry.report import RunReport

    best = summary["best"]
    faulty, healthy = model.labels[1], model.labels[0]
    report = RunReport(
        f"{model_name}: fault detection",
        lead=(
            f"Tells a faulty part ({faulty!r}) from a good one ({healthy!r}) from {len(model.inputs.columns)} columns; "
            f"fitted on {rows} rows (train + valid), chosen by {summary['cv']['folds']}-fold cross-validation "
            f"on {summary['threshold_metric']}: {best}, threshold {model.threshold:.3f}."
        ),
        limits=(
            "it knows the columns, categories and process of its training rows: a new variant, a changed supplier "
            "or a drifted process (the retraining drift report says which columns moved) is answered without "
            f"warning; its threshold weighs recall as {summary['threshold_metric']} does."
        ),
    )
    if split:
        report.section("data and split", split)
    truth = test_rows[ing.LABEL].to_numpy(dtype=int)
    proba = model.predict(None, test_rows.drop(columns=[ing.LABEL]))["fault_probability"].to_numpy()
    figure, axes = plt.subplots(1, 3, figsize=(13, 4))
    PrecisionRecallDisplay.from_predictions(truth, proba, ax=axes[0], name=best)
    RocCurveDisplay.from_predictions(truth, proba, ax=axes[1], name=best)
    ConfusionMatrixDisplay.from_predictions(
        truth, (proba >= model.threshold).astype(int), ax=axes[2], display_labels=[healthy, faulty], colorbar=False
    )
    axes[2].set_title(f"at threshold {model.threshold:.3f}")
    report.figure(f"test split: {len(truth)} rows, {int(truth.sum())} faulty", figure)
    return report


@reported("register", summary=lambda r: f"{r['model_name']} version {r['version']} as @{r['alias']}; {r['reason']}")
def register_step(
    models_dir: str,
    report: str,
    test: str,
    *,
    tracking_uri: str,
    model_name: str = FAULT_MODEL,
    synthesizer_dirs: dict[str, str] | None = None,
    plots: dict[str, str] | None = None,
    files: list[str] | None = None,
    force_promote: bool = False,
) -> dict[str, Any]:
    """Register the model chosen by cross-validation, in the model contract, with its metrics, the
    comparison, each synthesizer and its plots; the alias moves only if it is not worse than the champion
    on this run's test rows."""
    from shopfloor.registry import REFERENCE, register_model, use_tracking

    out = Path(models_dir)
    artifacts = {Path(f).name: Path(f) for f in files or [] if Path(f).exists()}
    artifacts["comparison.json"] = Path(report)
    artifacts[REFERENCE] = out / "reference.parquet"  # what drift is measured against when new data arrive
    params: dict[str, Any] = {}
    fidelity = {}
    for name, folder in (synthesizer_dirs or {}).items():
        if failures.read(folder) is not None:  # a branch that failed: reported in the comparison, nothing to log
            continue
        info = json.loads((Path(folder) / "info.json").read_text())
        fidelity[name] = {k.removeprefix("fidelity_"): v for k, v in info.items() if k.startswith("fidelity_")}
        params |= {f"{name}.{k.removeprefix('param_')}": v for k, v in info.items() if k.startswith("param_")}
        params |= {
            f"{name}.trials": info["trials"],
            f"{name}.pruned": info["pruned"],
            f"{name}.objective": info["objective"],
        }
        artifacts[f"synthesizers/{name}/synthesizer.pt"] = Path(folder) / "synthesizer.pt"
        artifacts[f"synthesizers/{name}/info.json"] = Path(folder) / "info.json"
        if plots and name in plots:
            artifacts[f"plots/pca_{name}.html"] = Path(plots[name])
    summary = json.loads(Path(report).read_text())
    best = summary["best"]
    chosen = summary["methods"][best]
    prep = ing.Preprocessing.load(out / "preprocessing.joblib")
    model = FaultClassifier(
        joblib.load(out / model_file(best)),
        prep.schema,
        threshold=chosen["threshold"],
        labels=prep.labels,
        key_column=getattr(prep, "key_column", ""),
    )
    metrics = {f"test_{k}": v for k, v in chosen["test"].items()}
    metrics |= {f"cv_{k}": v for k, v in chosen["cv"].items()}
    for name, m in summary["methods"].items():
        metrics |= {f"{name}_test_{k}": m["test"][k] for k in METRICS_SHOWN}
        metrics[f"{name}_cv_score"] = m["cv"]["score"]
    for name, scores in fidelity.items():
        metrics |= {f"{name}_fidelity_{k}": v for k, v in scores.items()}
    metrics["methods_failed"] = float(summary.get("methods_failed", 0))
    test_rows = pd.read_parquet(test)
    example = test_rows.drop(columns=[ing.LABEL]).head(5)
    # the compiled serving path against the fitted pipeline on the development rows (train + valid), at most
    # VERIFY_ROWS of them (all 240,000 of a 300,000-row table took the register step 36 s)
    reference = pd.read_parquet(out / "reference.parquet").drop(columns=[ing.LABEL])
    model.verify(reference.sample(min(len(reference), VERIFY_ROWS), random_state=0))
    use_tracking(tracking_uri)
    tables = {"comparison_test.json": comparison_table(summary).reset_index()}
    run_report = _run_report(model, summary, test_rows, model_name, split_words(test), len(reference))
    if fidelity:
        tables["fidelity.json"] = (
            pd.DataFrame.from_dict(fidelity, orient="index").rename_axis("synthesizer").reset_index()
        )
    reg = register_model(
        model,
        example,
        model_name=model_name,
        experiment=EXPERIMENT,
        metrics=metrics,
        params={
            **params,
            "chosen_model": best,
            "classifier": summary["classifier"],
            "threshold": model.threshold,
            "threshold_metric": summary["threshold_metric"],
            "synthetic_share": chosen["ratio"],
            "filter": summary["filter"],
            "cv_folds": summary["cv"]["folds"],
        },
        score_metric=SCORE,
        artifacts=artifacts,
        tables=tables,
        # decided under the registry lock, against the champion of that moment
        promote=lambda: promotion(model, test_rows, model_name, force=force_promote),
        report=run_report,
        tags={
            "shopfloor.pipeline": "fault-detection",
            "shopfloor.chosen": best,
            **(
                {
                    "shopfloor.failed_methods": "; ".join(
                        f"{n} at {f['step']}: {f['error']}" for n, f in summary["failed"].items()
                    )[:4900]
                }
                if summary.get("failed")
                else {}
            ),
        },
    )
    decision = reg.decision
    return {
        "model_name": reg.model_name,
        "version": reg.version,
        "alias": reg.alias,
        "run_id": reg.run_id,
        "report_html": reg.report_uri,
        "chosen": best,
        SCORE: reg.score,
        "reason": decision.reason,
        "champion_version": decision.champion_version,
        "champion_test_f2": decision.champion_score,
    }
