"""Anomaly-detection DAG: ingest milling cuts -> random search over beta-VAEs beside simple detectors, the best on
validation chosen -> metrics, comparison and figures -> register -> deploy (when asked for, and only a new
champion)."""

from kfp import dsl

from components.anomaly_detection import (
    anomaly_detection_evaluate,
    anomaly_detection_ingest,
    anomaly_detection_register,
    anomaly_detection_train,
)
from pipelines.deploy import finish
from shopfloor.constants import ANOMALY_MODEL, NAMESPACE, SERVE_PORTS
from shopfloor.defaults import ANOMALY_DETECTION


@dsl.pipeline(
    name="anomaly-detection",
    description="Detect worn milling tools from spindle current, vibration and acoustic emission: a "
    "beta-VAE and simple detectors trained on healthy tools, the best on validation registered "
    "and served.",
)
def anomaly_detection(
    data_path: str,
    tracking_uri: str,
    cut_column: str = ANOMALY_DETECTION.cut_column,
    labels_path: str = "",
    signals: list = [],
    window: int = ANOMALY_DETECTION.window,
    stride: int = ANOMALY_DETECTION.stride,
    split: str = ANOMALY_DETECTION.split,
    time_column: str = ANOMALY_DETECTION.time_column,
    n_trials: int = ANOMALY_DETECTION.n_trials,
    timeout: float = ANOMALY_DETECTION.timeout,
    epochs: int = ANOMALY_DETECTION.epochs,
    max_filters: int = ANOMALY_DETECTION.max_filters,
    arch: str = ANOMALY_DETECTION.arch,
    train_on: str = ANOMALY_DETECTION.train_on,
    ensemble: bool = ANOMALY_DETECTION.ensemble,
    score: str = ANOMALY_DETECTION.score,
    threshold_metric: str = ANOMALY_DETECTION.threshold_metric,
    model_name: str = ANOMALY_MODEL,
    deploy_target: str = "none",
    serve_port: int = SERVE_PORTS["anomaly-detection"],
    namespace: str = NAMESPACE,
    image: str = "",
    budget: float = ANOMALY_DETECTION.budget,
    seed: int = ANOMALY_DETECTION.seed,
) -> str:
    data = anomaly_detection_ingest(
        data_path=data_path,
        cut_column=cut_column,
        labels_path=labels_path,
        signals=signals,
        window=window,
        stride=stride,
        split=split,
        time_column=time_column,
        seed=seed,
    )
    data.set_display_name("ingest: cuts -> sub-cuts")
    fit = anomaly_detection_train(
        windows=data.outputs["windows"],
        n_trials=n_trials,
        timeout=timeout,
        epochs=epochs,
        max_filters=max_filters,
        arch=arch,
        train_on=train_on,
        ensemble=ensemble,
        score=score,
        threshold_metric=threshold_metric,
        seed=seed,
        budget=budget,
    )
    fit.set_display_name("train: beta-VAE search and simple detectors")
    ev = anomaly_detection_evaluate(model=fit.outputs["model"], windows=data.outputs["windows"])
    ev.set_display_name("evaluate: AP, ROC-AUC, comparison, figures")
    reg = anomaly_detection_register(
        model=fit.outputs["model"],
        windows=data.outputs["windows"],
        report=ev.outputs["report"],
        plots=ev.outputs["plots"],
        trials=fit.outputs["trials"],
        parameters=ev.outputs["parameters"],
        comparison=ev.outputs["comparison"],
        tracking_uri=tracking_uri,
        model_name=model_name,
    )
    reg.set_display_name("register: MLflow")
    return finish(
        [data, fit, ev, reg],
        reg,
        target=deploy_target,
        port=serve_port,
        namespace=namespace,
        image=image,
        tracking_uri=tracking_uri,
    )
