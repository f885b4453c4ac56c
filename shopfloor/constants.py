"""Names and choices that the command line, components, pipelines and serving all use: said once, here.

This module imports nothing heavy (no torch, MLflow, KFP or KServe), so ``shopfloor --help`` can build
its choices from it at once.
"""

from __future__ import annotations

import re

from shopfloor.config import environment
from shopfloor.errors import DataError

# ------------------------------------------------------------------ models and pipelines
#: Default registered-model names, one per pipeline. They name the models trained on the embedded
#: simulators; a run on the user's own table must name its model (``--model-name``), so two production
#: lines never share one champion by accident.
FAULT_MODEL = "gearbox-fault-classifier"
HEALTH_MODEL = "health-index"
ANOMALY_MODEL = "milling-anomaly-detector"
PROGNOSIS_MODEL = "tool-wear-prognosis"
SURFACE_MODEL = "surface-inspection"
DEFAULT_MODELS = {
    "fault-detection": FAULT_MODEL,
    "health-index": HEALTH_MODEL,
    "retraining": FAULT_MODEL,
    "anomaly-detection": ANOMALY_MODEL,
    "prognosis": PROGNOSIS_MODEL,
    "surface-inspection": SURFACE_MODEL,
}
PIPELINE_NAMES = tuple(DEFAULT_MODELS)

#: MLflow experiments, one per pipeline.
EXPERIMENTS = {
    name: name
    for name in (
        "fault-detection",
        "health-index",
        "retraining",
        "anomaly-detection",
        "prognosis",
        "surface-inspection",
    )
}

CHAMPION, CHALLENGER = "champion", "challenger"

# ------------------------------------------------------------------ choices
CLASSIFIERS = ("logreg", "hgb", "resnet")
#: ``--classifier`` choices: one family, or several put through the same cross-validation as everything else.
CLASSIFIER_FAMILIES = {"auto": ("logreg", "hgb"), "all": CLASSIFIERS}
CLASSIFIER_CHOICES = (*CLASSIFIER_FAMILIES, *CLASSIFIERS)
DEFAULT_CLASSIFIER = "auto"
FILTERS = ("none", "kmeans", "likelihood", "discriminator", "both")
DEFAULT_FILTER = "discriminator"  # chosen likewise, in benchmarks/results/fault_detection_quality_*.json
OBJECTIVES = ("fidelity", "utility", "both")
#: Chosen on cross-validation scores (never test) in benchmarks/results/objective_*.json: see the README.
DEFAULT_OBJECTIVE = "both"
THRESHOLD_METRICS = ("f2", "f1", "g_mean")
DEPLOY_TARGETS = ("none", "local", "cluster")
#: What a retraining run may compare champion and challenger by, for each kind of model (higher is better; an
#: error enters negated). The first of each is what ``auto`` picks.
RETRAIN_METRICS_BY_KIND = {
    "fault-detection": ("f2", "f1", "recall", "precision", "g_mean", "accuracy"),
    "health-index": ("rul_ranking", "neg_rul_rmse", "rul_interval_coverage"),
    "anomaly-detection": ("ap", "precision", "recall"),
    "prognosis": ("neg_rmse", "coverage"),
    "surface-inspection": ("ap", "roc_auc", "f2"),
}
RETRAIN_METRICS = ("auto", *dict.fromkeys(m for ms in RETRAIN_METRICS_BY_KIND.values() for m in ms))
PROTOCOLS = ("v1", "v2", "both")

# ------------------------------------------------------------------ cluster
#: The one container image every component and the model server run in.
IMAGE = environment().image
#: What each pipeline step asks of the cluster; its threads follow the limit (shopfloor.platform.cpus).
STEP_CPU_REQUEST, STEP_CPU_LIMIT = "1", "2"
STEP_MEMORY_REQUEST, STEP_MEMORY_LIMIT = "2G", "8G"
#: The Kubeflow profile namespace of a default install, where pipelines run and InferenceServices live.
NAMESPACE = "kubeflow-user-example-com"
#: The profile's shared volume (``manifests/base/data.yaml``), mounted in every pipeline step on the cluster: a
#: run's ``data_path`` of ``/data/line-3.csv`` is the file copied there (``kubectl cp``; docs/kubeflow.md).
DATA_VOLUME, DATA_MOUNT = "shopfloor-data", "/data"
#: MLflow's tracking server as pods in the cluster reach it (manifests/base/mlflow.yaml).
CLUSTER_TRACKING_URI = "http://mlflow.shopfloor.svc.cluster.local:5000"
KFP_EXPERIMENT = "shopfloor"

# ------------------------------------------------------------------ local serving
#: The model server's port in a container, and the default local port of each pipeline's model.
SERVER_PORT = 8080
SERVE_PORTS = {
    "fault-detection": SERVER_PORT,
    "health-index": SERVER_PORT + 1,
    "retraining": SERVER_PORT,
    "anomaly-detection": SERVER_PORT + 2,
    "prognosis": SERVER_PORT + 3,
    "surface-inspection": SERVER_PORT + 4,
}
DEFAULT_MAX_BATCH = 4096
#: Live quality (answers with an outcome): recomputed this often by the model server, over this window, and
#: believed (by alerts and schedule triggers) over at least this many answers.
QUALITY_REFRESH_SECONDS = 30.0
QUALITY_WINDOW_SECONDS = 7 * 86400.0
MIN_LABELLED_ROWS = 200

# ------------------------------------------------------------------ model names
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$")


def check_model_name(name: str, field: str = "model-name") -> str:
    """``name`` if MLflow, URLs and Prometheus labels all take it; else a ``DataError`` naming ``field``.

    MLflow itself refuses empty names, '/' and ':' and path tricks such as '..'; the model name also
    becomes part of every inference URL (``/v1/models/NAME:predict``) and of file names, so only
    letters, digits, '.', '_' and '-' are allowed, starting with a letter or digit, at most 63 long.
    """
    if not isinstance(name, str) or not _NAME.match(name) or ".." in name:
        raise DataError(
            field,
            f"{name!r} is not a usable model name: use letters, digits, '.', '_' and '-', "
            "starting with a letter or digit, at most 63 characters",
        )
    return name


SPLITS = ("auto", "random", "time")  # how a table splits into train / valid / test: auto is time given a time column
