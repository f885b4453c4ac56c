"""Fault detection DAG: ingest -> tuning workers (in parallel: every chosen synthesizer times
``tuning_workers``, the workers of a synthesizer sharing one Optuna study) -> for each synthesizer (in
parallel): refit the study's best settings per CV fold, sample, filter -> train (cross-validated choice of
method, amount and threshold) -> register -> deploy (when asked for, and only a new champion).

The synthesizer choice is a list parameter (``["wgan"]``, ``["wgan", "ctgan", "flow"]``...):
``dsl.ParallelFor`` runs one branch per name and ``dsl.Collected`` hands the branches' rows, synthesizers
and plots to the training and registration steps, so the same compiled pipeline serves every choice
and only the chosen synthesizers run.
"""

from kfp import dsl

from components.fault_detection.filter import fault_detection_filter
from components.fault_detection.gather import fault_detection_gather
from components.fault_detection.ingest import fault_detection_ingest
from components.fault_detection.register import fault_detection_register
from components.fault_detection.synthesize import fault_detection_synthesize
from components.fault_detection.train import fault_detection_train
from components.fault_detection.tune import fault_detection_tune
from components.fault_detection.tuning_plan import fault_detection_tuning_plan
from pipelines.deploy import finish
from shopfloor.constants import (
    FAULT_MODEL,
    NAMESPACE,
    SERVE_PORTS,
)
from shopfloor.defaults import FAULT_DETECTION


@dsl.pipeline(
    name="fault-detection",
    description="Balance rare faults with tuned synthetic rows, train and register a classifier.",
)
def fault_detection(
    data_path: str,
    tracking_uri: str,
    label: str = FAULT_DETECTION.label,
    positive: str = FAULT_DETECTION.positive,
    time_column: str = FAULT_DETECTION.time_column,
    split: str = FAULT_DETECTION.split,
    drop_columns: list = [],
    categorical: list = [],
    synthesizers: list = list(FAULT_DETECTION.synthesizers),
    filter_method: str = FAULT_DETECTION.filter_method,
    objective: str = FAULT_DETECTION.objective,
    classifier: str = FAULT_DETECTION.classifier,
    threshold_metric: str = FAULT_DETECTION.threshold_metric,
    n_trials: int = FAULT_DETECTION.n_trials,
    timeout: float = FAULT_DETECTION.timeout,
    optuna_storage: str = "",
    study_name: str = "fd",
    tuning_workers: int = FAULT_DETECTION.tuning_workers,
    max_steps: int = FAULT_DETECTION.max_steps,
    cv_folds: int = FAULT_DETECTION.cv_folds,
    cv_repeats: int = FAULT_DETECTION.cv_repeats,
    cv_rows: int = FAULT_DETECTION.cv_rows,
    d_max_quantile: float = FAULT_DETECTION.d_max_quantile,
    likelihood_quantile: float = FAULT_DETECTION.likelihood_quantile,
    model_name: str = FAULT_MODEL,
    force_promote: bool = False,
    deploy_target: str = "none",
    serve_port: int = SERVE_PORTS["fault-detection"],
    namespace: str = NAMESPACE,
    image: str = "",
    key_column: str = "",
    budget: float = FAULT_DETECTION.budget,
    max_latency_ms: float = FAULT_DETECTION.max_latency_ms,
    seed: int = FAULT_DETECTION.seed,
) -> str:
    data = fault_detection_ingest(
        data_path=data_path,
        label=label,
        positive=positive,
        time_column=time_column,
        split=split,
        drop_columns=drop_columns,
        categorical=categorical,
        key_column=key_column,
        seed=seed,
    )
    data.set_display_name("ingest")
    tasks = [data]
    splits = {
        "train": data.outputs["train"],
        "valid": data.outputs["valid"],
        "preprocessing": data.outputs["preprocessing"],
    }
    cv = {"cv_folds": cv_folds, "cv_repeats": cv_repeats, "cv_rows": cv_rows, "seed": seed}
    time = {"budget": budget}  # one time budget, counted from ingest's start (in the splits' metadata)
    study = {
        "objective": objective,
        "classifier": classifier,
        "n_trials": n_trials,
        "timeout": timeout,
        "optuna_storage": optuna_storage,
        "study_name": study_name,
        "max_steps": max_steps,
    }
    jobs = fault_detection_tuning_plan(synthesizers=synthesizers, workers=tuning_workers)
    jobs.set_display_name("tuning plan")
    with dsl.ParallelFor(jobs.output, name="tuning-workers") as job:
        tuned = fault_detection_tune(**splits, job=job, workers=tuning_workers, seed=seed, **study, **time)
        tuned.set_display_name("tune")
    studies = fault_detection_gather(studies=dsl.Collected(tuned.outputs["study"]))
    studies.set_display_name("studies")
    tasks += [jobs, tuned, studies]
    with dsl.ParallelFor(synthesizers, name="synthesizers") as name:
        made = fault_detection_synthesize(
            **splits, studies=studies.outputs["gathered"], name=name, **study, **cv, **time
        )
        made.set_display_name("synthesize")
        kept = fault_detection_filter(
            **splits,
            candidates=made.outputs["candidates"],
            method=filter_method,
            d_max_quantile=d_max_quantile,
            likelihood_quantile=likelihood_quantile,
            **cv,
            **time,
        )
        kept.set_display_name("filter")
        tasks += [made, kept]
    fit = fault_detection_train(
        **splits,
        test=data.outputs["test"],
        synthetic=dsl.Collected(kept.outputs["kept"]),
        classifier=classifier,
        filter_method=filter_method,
        threshold_metric=threshold_metric,
        max_latency_ms=max_latency_ms,
        **cv,
        **time,
    )
    fit.set_display_name("train: classifiers")
    reg = fault_detection_register(
        models=fit.outputs["models"],
        report=fit.outputs["report"],
        test=data.outputs["test"],
        synthesizers=dsl.Collected(made.outputs["synthesizer"]),
        pca_plots=dsl.Collected(kept.outputs["pca_plot"]),
        tracking_uri=tracking_uri,
        model_name=model_name,
        force_promote=force_promote,
    )
    reg.set_display_name("register: MLflow")
    return finish(
        [*tasks, fit, reg],
        reg,
        target=deploy_target,
        port=serve_port,
        namespace=namespace,
        image=image,
        tracking_uri=tracking_uri,
    )
