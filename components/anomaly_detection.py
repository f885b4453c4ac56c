"""Components of the anomaly-detection pipeline: ingest milling cuts, train the beta-VAE search and the simple
detectors and choose on validation, evaluate with von Hahn and Mechefske's figures, register."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Markdown, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def anomaly_detection_ingest(
    data_path: str,
    windows: Output[Dataset],
    cut_column: str,
    labels_path: str,
    signals: list,
    window: int,
    stride: int,
    split: str,
    time_column: str,
    seed: int,
):
    import time

    started = time.time()  # the run's time budget counts from here; it travels in the windows' metadata
    from shopfloor.anomaly_detection.workflow import ingest_step

    info = ingest_step(
        data_path,
        windows=windows.path,
        cut_column=cut_column,
        labels=labels_path,
        signals=signals,
        window=window,
        stride=stride,
        split=split,
        time_column=time_column,
        seed=seed,
    )
    windows.metadata.update({**{k: v for k, v in info.items() if k != "dropped_reasons"}, "run_started": started})


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def anomaly_detection_train(
    windows: Input[Dataset],
    model: Output[Model],
    trials: Output[Dataset],
    n_trials: int,
    timeout: float,
    epochs: int,
    max_filters: int,
    arch: str,
    train_on: str,
    ensemble: bool,
    score: str,
    threshold_metric: str,
    seed: int,
    budget: float = 900.0,
):
    from shopfloor.anomaly_detection.workflow import train_step
    from shopfloor.platform.budget import Budget

    info = train_step(
        windows.path,
        model_path=model.path,
        trials_path=trials.path,
        n_trials=n_trials,
        timeout=timeout if timeout > 0 else None,
        epochs=epochs,
        max_filters=max_filters,
        arch=arch,
        train_on=train_on,
        ensemble=ensemble,
        score=score,
        threshold_metric=threshold_metric,
        seed=seed,
        run_budget=Budget.of_run("anomaly-detection", budget, windows.metadata),
    )
    model.metadata.update({k: v for k, v in info.items() if not isinstance(v, dict)})


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def anomaly_detection_evaluate(
    model: Input[Model],
    windows: Input[Dataset],
    metrics: Output[Metrics],
    plot: Output[HTML],
    plots: Output[Dataset],
    parameters: Output[Dataset],
    comparison: Output[Dataset],
    table: Output[Markdown],
    report: Output[Dataset],
):
    from pathlib import Path

    import pandas as pd

    from shopfloor.anomaly_detection.workflow import evaluate_step, write_json
    from shopfloor.plots import png_html
    from shopfloor.tables import markdown_table

    values = evaluate_step(
        model.path, windows.path, plots=plots.path, parameters_path=parameters.path, comparison_path=comparison.path
    )
    for key in sorted(values):
        if key.startswith("test_") or key.startswith("valid_ap"):
            metrics.log_metric(key, round(values[key], 4))
    write_json(report.path, {"metrics": values})
    rows = pd.read_csv(comparison.path).set_index("detector")
    Path(table.path).write_text("### Detectors, chosen on validation AP\n\n" + markdown_table(rows) + "\n")
    Path(plot.path).write_text(
        png_html("Milling anomaly detection: test windows", sorted(Path(plots.path).glob("*.png")))
    )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def anomaly_detection_register(
    model: Input[Model],
    windows: Input[Dataset],
    report: Input[Dataset],
    plots: Input[Dataset],
    trials: Input[Dataset],
    parameters: Input[Dataset],
    comparison: Input[Dataset],
    tracking_uri: str,
    model_name: str,
) -> NamedTuple("Registration", registration=str, alias=str):
    import json
    from collections import namedtuple
    from pathlib import Path

    from shopfloor.anomaly_detection.workflow import register_step

    metrics = json.loads(Path(report.path).read_text())["metrics"]
    params = {k: v for k, v in model.metadata.items() if isinstance(v, (int, float, str))}
    result = register_step(
        model.path,
        windows.path,
        metrics,
        tracking_uri=tracking_uri,
        model_name=model_name,
        plots=plots.path,
        trials=trials.path,
        parameters=parameters.path,
        comparison=comparison.path,
        params=params,
    )
    return namedtuple("Registration", ["registration", "alias"])(json.dumps(result), result["alias"])
