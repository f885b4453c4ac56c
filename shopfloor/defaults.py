"""Every pipeline parameter's default, written once: the pipeline signatures (``pipelines/``), the step functions
(``shopfloor.<pipeline>``) and the command line (``shopfloor run``) all read them from here, so a step called from
a notebook trains the model the pipeline would. ``tests/test_defaults.py`` holds all three to it.

Light on purpose (no torch, MLflow or KFP): ``shopfloor --help`` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shopfloor.constants import DEFAULT_CLASSIFIER, DEFAULT_FILTER, DEFAULT_OBJECTIVE


@dataclass(frozen=True)
class FaultDetection:
    label: str = "faulty"
    synthesizers: tuple[str, ...] = ("wgan",)
    filter_method: str = DEFAULT_FILTER
    objective: str = DEFAULT_OBJECTIVE
    classifier: str = DEFAULT_CLASSIFIER
    threshold_metric: str = "f2"
    n_trials: int = 10
    timeout: float = 60.0  # seconds of tuning per synthesizer
    tuning_workers: int = 1
    max_steps: int = 1000  # generator updates per trial, at most
    cv_folds: int = 5
    cv_repeats: int = 1
    cv_rows: int = 30000  # development rows the cross-validation chooses on, at most (0: all); the winner gets all
    d_max_quantile: float = 0.95
    likelihood_quantile: float = 0.05
    budget: float = 600.0  # seconds for the whole run (0: none), shared by the steps (shopfloor.platform.budget)
    max_latency_ms: float = 10.0  # a method slower to score one row (99th percentile) is left out (0: no limit)
    seed: int = 0


@dataclass(frozen=True)
class HealthIndex:
    unit: str = "unit"
    time: str = "time"
    t_d: float = 30.0
    t_f: float = 30.0
    methods: tuple[str, ...] = ("ridge", "hgb", "apaic", "a2ds")
    diversity: float = 0.001  # lambda of the 2DS diversity loss (Frusque et al.)
    epochs: int = 1000  # DeepSAD epochs (Frusque et al.)
    embedding_dim: int = 16
    weight_decay: str = "1.0"  # or "auto"
    beta: float = 0.05  # ridge of APAIC
    fusion: str = "embedding"
    seeds: int = 1
    baseline: bool = True  # chosen by cross-validation on C-MAPSS FD001 (see the measured results)
    window: int = 10  # likewise
    folds: int = 5
    draws: int = 20
    timeout: float = 480.0  # seconds of cross-validation; the costliest method is left out past it
    budget: float = 900.0  # seconds for the whole run (0: none), shared by the steps (shopfloor.platform.budget)
    test_fraction: float = 0.25
    seed: int = 0


@dataclass(frozen=True)
class AnomalyDetection:
    cut_column: str = "cut_no"
    window: int = 64  # von Hahn and Mechefske's sub-cuts
    stride: int = 64
    split: str = "cut"
    n_trials: int = 10
    timeout: float = 600.0  # seconds of VAE search
    budget: float = 900.0  # seconds for the whole run (0: none), shared by the steps (shopfloor.platform.budget)
    epochs: int = 200
    max_filters: int = 64
    arch: str = "tcn"
    train_on: str = "healthy"
    ensemble: bool = True
    score: str = "latent"
    threshold_metric: str = "f1"
    seed: int = 0


@dataclass(frozen=True)
class Prognosis:
    case: str = "case"
    wear: str = "VB"
    observed: int = 10
    vb_limit: float = 0.7
    horizon: int = 15
    # Posterior draws per forecast, served and evaluated. Russell and Wang used 10,000; 2,000 was chosen on
    # simulated validation tools after measuring (benchmarks/prognosis_draws.py): p99 4.3 ms against 17.8 ms on
    # one core, band coverage 1.5 points and RMSE 0.0025 mm from 10,000 draws, the size of 10,000 draws' own
    # change under another seed.
    draws: int = 2000
    n_train: int = 12000
    n_valid: int = 3000
    prior_scale: float = 1.0
    epochs: int = 300
    patience: int = 50
    lr: float = 1e-3
    gru_layers: int = 2
    context: int = 32
    blocks: int = 8
    hidden: int = 32
    seed: int = 0


@dataclass(frozen=True)
class Retraining:
    label: str = "faulty"
    metric: str = "auto"  # the first of the champion's kind in RETRAIN_METRICS_BY_KIND (a classifier: f2)
    margin: float = 0.0
    holdout_size: float = 0.4
    ks_threshold: float = 0.1
    psi_threshold: float = 0.25
    fine_tune_epochs: int = 20  # a network challenger (beta-VAE, wear posterior) continues from the champion's weights
    simulations: int = 6000  # wear curves simulated from the prior refitted to the new curves (80 % train, 20 % valid)
    seed: int = 0


FAULT_DETECTION = FaultDetection()
HEALTH_INDEX = HealthIndex()
ANOMALY_DETECTION = AnomalyDetection()
PROGNOSIS = Prognosis()
RETRAINING = Retraining()
DEFAULTS = {"fault-detection": FAULT_DETECTION, "health-index": HEALTH_INDEX, "anomaly-detection": ANOMALY_DETECTION,
            "prognosis": PROGNOSIS, "retraining": RETRAINING}

