"""Every pipeline parameter's default, written once with its help text and bounds: the pipeline signatures
(``pipelines/``), the step functions (``shopfloor.<pipeline>.workflow``) and the command line all read them from
here, so a step called from a notebook trains the model the pipeline would, and ``shopfloor run PIPELINE
--help`` cannot disagree with what runs. A field made with ``setting`` is an option of ``shopfloor run`` (its
flag, help, bounds and choices in the field's metadata); a plain field is a pipeline parameter the command line
does not expose. ``tests/test_defaults.py`` holds all three to it.

Light on purpose (no torch, MLflow or KFP): ``shopfloor --help`` reads it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, TypeVar

from shopfloor.constants import (
    CLASSIFIER_CHOICES,
    DEFAULT_CLASSIFIER,
    DEFAULT_FILTER,
    DEFAULT_OBJECTIVE,
    FILTERS,
    OBJECTIVES,
    RETRAIN_METRICS,
    SPLITS,
    THRESHOLD_METRICS,
)

T = TypeVar("T")


def setting(
    default: T,
    help: str,
    *,
    flag: str = "",
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
    unit: str = "",
    duration: bool = False,
) -> T:
    """A default that ``shopfloor run`` offers as an option: ``flag`` (default: the field's name), its ``help``,
    the closed interval [``low``, ``high``] its value must lie in, its ``choices``, the ``unit`` its value is in,
    and whether it is a ``duration`` (seconds, written 90s, 15m or 1h on the command line)."""
    meta = {"help": help, "flag": flag, "low": low, "high": high, "choices": choices, "unit": unit}
    return dataclasses.field(default=default, metadata={**meta, "duration": duration})


def _budget(seconds: float, steps: str) -> float:
    return setting(
        seconds,
        "time for the whole run, e.g. 15m, 900s, 1h; 0: no limit. Shared by "
        f"{steps} by a fixed rule; past a step's share the costliest work is left out and named, and the "
        "simplest rival always completes, so a slow or busy machine registers a simpler model instead of failing",
        low=0,
        duration=True,
    )


@dataclass(frozen=True)
class FaultDetection:
    label: str = setting("faulty", "the label column", flag="--label-column")
    positive: str = setting(
        "",
        "the label value of a faulty part; empty: the rarer of two values (a label with more values needs it, and "
        "then every other value is not faulty)",
    )
    time_column: str = setting(
        "",
        "the column of when each part was made (numbers or dates; never a feature); with it the rows split in time "
        "order unless --split random",
    )
    split: str = setting(
        "auto",
        "how rows split into train, valid and test (60/20/20): random (stratified), or time (the earliest rows "
        "train, the latest test, and the cross-validation folds chain forward); auto: time when --time-column is "
        "named",
        choices=SPLITS,
    )
    synthesizers: tuple[str, ...] = setting(
        ("wgan",),
        "'all' or a comma-separated choice of synthesizers (wgan, ctgan, flow): each runs as a parallel branch",
        flag="--synthesizer",
    )
    filter_method: str = setting(
        DEFAULT_FILTER,
        "how synthetic rows are filtered (SMOTE's rows too, as an extra comparison row)",
        flag="--filter",
        choices=FILTERS,
    )
    objective: str = setting(
        DEFAULT_OBJECTIVE,
        "what tuning optimizes: fidelity to the real faults, use to a classifier, or both (Pareto)",
        choices=OBJECTIVES,
    )
    classifier: str = setting(
        DEFAULT_CLASSIFIER,
        "auto: logistic regression and gradient boosting through the same cross-validation as the methods; all: "
        "the ResNet too (retraining adapts it by EnKF); or one of them",
        choices=CLASSIFIER_CHOICES,
    )
    threshold_metric: str = setting(
        "f2", "the metric the decision threshold maximizes (and models are compared by)", choices=THRESHOLD_METRICS
    )
    n_trials: int = setting(10, "Optuna trials per synthesizer", flag="--trials", low=1)
    timeout: float = setting(60.0, "Optuna's time for each synthesizer's tuning", low=0, unit="s")
    tuning_workers: int = setting(
        1,
        "tuning workers per synthesizer (a dsl.ParallelFor of pods on Kubeflow), sharing one study and the "
        "--trials budget",
        low=1,
    )
    max_steps: int = setting(1000, "generator updates per tuning trial, at most", low=8)
    cv_folds: int = setting(5, "cross-validation folds over train + valid", low=2)
    cv_repeats: int = setting(1, "repeats of the cross-validation", low=1)
    cv_rows: int = setting(
        30000,
        "development rows the cross-validation chooses on, at most: a larger table chooses on a stratified sample "
        "of this many, and the chosen model is refitted on every row (0: all)",
        low=0,
    )
    d_max_quantile: float = 0.95
    likelihood_quantile: float = 0.05
    budget: float = _budget(
        600.0,
        "tuning (25 %), the synthesizers' refits (to 45 %), filters (to 55 %), the classifiers' cross-validation "
        "(to 85 %) and refits",
    )
    max_latency_ms: float = setting(
        10.0,
        "leave out a method whose served path takes longer than this to score one row, at the 99th percentile "
        "(0: no limit); the cheapest rival is always kept",
        low=0,
        unit="ms",
    )
    seed: int = setting(0, "random seed of every step")


@dataclass(frozen=True)
class HealthIndex:
    unit: str = setting("unit", "the column naming each unit (machine, engine)", flag="--unit-column")
    time: str = setting("time", "the column ordering each unit's rows (cycles, hours)", flag="--time-column")
    t_d: float = setting(
        30.0,
        "first steps of each unit taken as healthy (a share of each unit's life when below 1, e.g. 0.15)",
        flag="--healthy-steps",
        low=0,
    )
    t_f: float = setting(
        30.0, "last steps of each unit taken as failed (or a share, below 1)", flag="--failed-steps", low=0
    )
    methods: tuple[str, ...] = setting(
        ("ridge", "hgb", "apaic", "a2ds"), "comma-separated health-index methods to cross-validate"
    )
    diversity: float = setting(0.001, "weight of the 2DS diversity loss (0: plain DeepSAD)", low=0)
    epochs: int = setting(1000, "DeepSAD epochs (Frusque et al. train 1000)", low=1)
    embedding_dim: int = setting(16, "size of the DeepSAD embedding", low=1)
    weight_decay: str = setting(
        "1.0", "DeepSAD weight decay, or 'auto': raised from 1 until two seeds agree (Frusque et al.)"
    )
    beta: float = 0.05  # ridge of APAIC
    fusion: str = setting(
        "embedding", "what APAIC fuses: the 2DS embedding, or [features | embedding]", choices=("embedding", "both")
    )
    seeds: int = setting(1, "encoders from this many seeds, their health indices averaged", low=1)
    # chosen by cross-validation on C-MAPSS FD001 (see the measured results)
    baseline: bool = setting(
        True,
        "subtract each unit's own level over its first healthy steps",
        flag="--no-baseline",
    )
    window: int = setting(10, "rolling mean and standard deviation over this many steps (0: off)", low=0)
    folds: int = setting(5, "cross-validation folds across the fitted units", flag="--cv-folds", low=2)
    draws: int = 20
    timeout: float = setting(
        480.0,
        "time for the cross-validation: a method whose remaining folds would end past it is left out, the "
        "costliest first (0: no limit)",
        low=0,
        unit="s",
    )
    budget: float = _budget(900.0, "the cross-validation (to 80 %), the final refit and the evaluation")
    test_fraction: float = 0.25
    split: str = setting(
        "auto",
        "which units are held out and how the cross-validation folds run: random, or time (the units that started "
        "last are held out, and the folds chain forward in order of the units' starts); auto: time when the units' "
        "first time stamps differ, random when every unit starts at the same time (cycles counted from each start)",
        choices=SPLITS,
    )
    seed: int = setting(0, "random seed of every step")


@dataclass(frozen=True)
class AnomalyDetection:
    cut_column: str = setting("cut_no", "the column that names each sample's cut (tables)")
    window: int = setting(64, "sub-cut length in samples (von Hahn and Mechefske: 64)", low=2)
    stride: int = setting(64, "samples between sub-cut starts (von Hahn and Mechefske: 64)", low=1)
    time_column: str = setting(
        "",
        "the column of when each cut was made (numbers or dates; a per-sample stamp counts from the cut's first); "
        "never a signal",
    )
    split: str = setting(
        "auto",
        "cut: each cut's sub-cuts in one split, cuts drawn at random (stratified by tool class); time: the same, "
        "the earliest cuts train and the latest test; subcut: sub-cuts at random as von Hahn and Mechefske did "
        "(neighbouring sub-cuts of one cut then fall in validation and test alike); auto: time when "
        "--time-column is named, else cut",
        choices=("auto", "cut", "time", "subcut"),
    )
    n_trials: int = setting(
        10, "VAEs the random search tries (first: von Hahn and Mechefske's best model)", flag="--trials", low=1
    )
    timeout: float = setting(600.0, "time for the VAE search (0: none)", low=0, unit="s")
    budget: float = _budget(900.0, "the VAE search (to 70 %) and the simple detectors, evaluation and registration")
    epochs: int = setting(200, "most epochs per VAE (early stopping on validation, patience searched in 30-49)", low=1)
    max_filters: int = setting(
        64, "cap on the convolution filters the search tries (von Hahn and Mechefske search up to 127)", low=1
    )
    arch: str = setting("tcn", "TCN, or plain dilated convolutions", choices=("tcn", "cnn"))
    train_on: str = setting(
        "healthy",
        "tool classes the detectors learn from: healthy (as von Hahn and Mechefske), or healthy and degraded; "
        "failed tools never",
        choices=("healthy", "healthy+degraded"),
    )
    ensemble: bool = setting(True, "average the best three VAEs where that validates better", flag="--no-ensemble")
    score: str = setting(
        "latent",
        "the score the anomaly flag uses: KL divergence (latent) or reconstruction error (input)",
        choices=("latent", "input"),
    )
    threshold_metric: str = setting("f1", "the metric the threshold maximizes", choices=("f1", "f2"))
    seed: int = setting(0, "random seed of every step")


@dataclass(frozen=True)
class Prognosis:
    case: str = setting("case", "the column naming each tool (case)", flag="--case-column")
    wear: str = setting("VB", "the flank-wear column (values in mm)", flag="--wear-column")
    observed: int = setting(10, "cuts observed before the forecast (Russell and Wang: 10)", low=2)
    vb_limit: float = setting(0.7, "wear limit for the cuts left", low=0.01, high=3.0, unit="mm")
    horizon: int = setting(15, "cuts forecast by the served model", low=1)
    # Posterior draws per forecast, served and evaluated. Russell and Wang used 10,000; 2,000 was chosen on
    # simulated validation tools after measuring (benchmarks/prognosis_draws.py): p99 4.3 ms against 17.8 ms on
    # one core, band coverage 1.5 points and RMSE 0.0025 mm from 10,000 draws, the size of 10,000 draws' own
    # change under another seed.
    draws: int = 2000
    n_train: int = setting(12000, "simulated training curves (Russell and Wang: 12,000)", flag="--train", low=100)
    n_valid: int = setting(3000, "simulated validation curves (Russell and Wang: 3,000)", flag="--valid", low=10)
    prior_scale: float = setting(
        1.0,
        "standard deviation of the normal prior of a and b (Russell and Wang's text: 1; their public code: 0.3)",
        low=0,
    )
    epochs: int = setting(300, "most training epochs (Russell and Wang train 1000)", low=1)
    patience: int = setting(50, "epochs without a better validation likelihood before stopping (0: never)", low=0)
    lr: float = 1e-3
    gru_layers: int = 2
    context: int = 32
    blocks: int = 8
    hidden: int = 32
    seed: int = setting(0, "random seed of every step")


@dataclass(frozen=True)
class Retraining:
    label: str = setting("faulty", "a fault classifier's label column", flag="--label-column")
    metric: str = setting(
        "auto",
        "what champion and challenger are compared by (auto: f2 for a fault classifier, rul_ranking for a health "
        "index, ap for an anomaly detector, neg_rmse for a wear prognosis)",
        choices=RETRAIN_METRICS,
    )
    margin: float = setting(0.0, "how much worse the challenger may be and still win", low=0)
    time_column: str = setting(
        "",
        "a fault classifier's new rows: the column of when each part was made (numbers or dates; never a feature)",
    )
    split: str = setting(
        "auto",
        "which new rows judge champion and challenger (40 % held out): random (stratified), or time (the latest "
        "rows); auto: time for the served answers (--from-log) or with --time-column. Another kind keeps each "
        "unit, cut or tool whole on one side",
        choices=SPLITS,
    )
    holdout_size: float = 0.4
    ks_threshold: float = 0.1
    psi_threshold: float = 0.25
    fine_tune_epochs: int = setting(
        20, "a beta-VAE or wear-posterior challenger: most epochs continued from the champion's weights", low=0
    )
    simulations: int = setting(
        6000,
        "a wear-prognosis challenger: curves simulated from the prior refitted to the new curves "
        "(80 % train, 20 % validation)",
        low=10,
    )
    seed: int = setting(0, "random seed of every step")


@dataclass(frozen=True)
class SurfaceInspection:
    good_class: str = setting("good", "the class (subfolder or manifest label) of defect-free images")
    mode: str = setting(
        "classify",
        "classify: a defect classifier from labelled defect images (flow-synthesized images must earn their "
        "place); detect: a detector that learns the good images only, for defects nobody labelled",
        choices=("classify", "detect"),
    )
    min_images: int = setting(5, "fewest images a class may have", low=3)
    ae_steps: int = setting(1500, "autoencoder training steps (batches of 32)", low=1)
    flow_steps: int = setting(2000, "latent flow training steps", low=1)
    cnn_epochs: int = setting(25, "epochs of each defect-classifier CNN", low=1)
    ratios: tuple[str, ...] = setting(
        ("0.5", "1"), "synthetic defect images to try, as shares of the number that would balance the classes"
    )
    quantile: float = setting(
        0.95, "detect mode: the share of validation good images under the threshold", low=0.5, high=0.9999
    )
    seed: int = setting(0, "random seed of every step")


FAULT_DETECTION = FaultDetection()
HEALTH_INDEX = HealthIndex()
ANOMALY_DETECTION = AnomalyDetection()
PROGNOSIS = Prognosis()
RETRAINING = Retraining()
SURFACE_INSPECTION = SurfaceInspection()
DEFAULTS = {
    "fault-detection": FAULT_DETECTION,
    "health-index": HEALTH_INDEX,
    "anomaly-detection": ANOMALY_DETECTION,
    "prognosis": PROGNOSIS,
    "retraining": RETRAINING,
    "surface-inspection": SURFACE_INSPECTION,
}


Settings = TypeVar("Settings")


def with_overrides(config: Settings | None, default: type[Settings], overrides: dict[str, Any]) -> Settings:
    """A copy of a model's settings dataclass ``config`` (or of its defaults) with ``overrides`` applied, the
    pattern every trainable model here follows; an unknown name is a ``TypeError`` naming it, as a misspelt
    keyword argument would be."""
    base: Any = config if config is not None else default()
    unknown = [k for k in overrides if k not in {f.name for f in dataclasses.fields(base)}]
    if unknown:
        raise TypeError(f"unknown {default.__name__.removesuffix('Config')} setting {unknown[0]!r}")
    return dataclasses.replace(base, **overrides)
