"""Components of the health-index pipeline: ingest trajectories, cross-validate the health indices and remaining-life
estimators and refit the winners, evaluate, register."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Markdown, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def health_index_ingest(
    data_path: str,
    unit: str,
    time: str,
    train: Output[Dataset],
    test: Output[Dataset],
    t_d: float,
    t_f: float,
    truth: str,
    drop_columns: list,
    conditions: list,
    window: int,
    test_fraction: float,
    split: str,
    seed: int,
):
    import time as clock

    started = clock.time()  # the run's time budget counts from here; it travels in the splits' metadata
    from shopfloor.health_index.workflow import ingest_step

    info = ingest_step(
        data_path,
        unit,
        time,
        train=train.path,
        test=test.path,
        t_d=t_d,
        t_f=t_f,
        truth=truth,
        drop=drop_columns,
        conditions=conditions,
        window=window,
        test_fraction=test_fraction,
        split=split,
        seed=seed,
    )
    train.metadata.update({**{k: v for k, v in info.items() if k != "features"}, "run_started": started})


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def health_index_train(
    train: Input[Dataset],
    test: Input[Dataset],
    unit: str,
    time: str,
    model: Output[Model],
    his: Output[Dataset],
    cv: Output[Dataset],
    table: Output[Markdown],
    t_d: float,
    t_f: float,
    truth: str,
    conditions: list,
    methods: list,
    diversity: float,
    epochs: int,
    embedding_dim: int,
    weight_decay: str,
    beta: float,
    fusion: str,
    seeds: int,
    baseline: bool,
    window: int,
    folds: int,
    timeout: float,
    seed: int,
    budget: float = 900.0,
):
    from pathlib import Path

    import pandas as pd

    from shopfloor.health_index.workflow import train_step
    from shopfloor.platform.budget import Budget
    from shopfloor.tables import markdown_table

    decay = weight_decay if weight_decay == "auto" else float(weight_decay)
    info = train_step(
        train.path,
        test.path,
        unit,
        time,
        model_path=model.path,
        his_path=his.path,
        cv_path=cv.path,
        t_d=t_d,
        t_f=t_f,
        truth=truth,
        conditions=conditions,
        methods=methods,
        diversity=diversity,
        epochs=epochs,
        embedding_dim=embedding_dim,
        weight_decay=decay,
        beta=beta,
        fusion=fusion,
        seeds=seeds,
        baseline=baseline,
        window=window,
        folds=folds,
        timeout=timeout if timeout > 0 else None,
        seed=seed,
        run_budget=Budget.of_run("health-index", budget, train.metadata),
    )
    model.metadata.update({k: v for k, v in info.items() if isinstance(v, (int, float, str))})
    text = markdown_table(pd.read_csv(cv.path).set_index("method"))
    Path(table.path).write_text(
        f"### Cross-validation across units (chosen: {info['chosen']}, remaining life from "
        f"{info['rul_chosen']})\n\n{text}\n"
    )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def health_index_evaluate(
    his: Input[Dataset],
    unit: str,
    time: str,
    metrics: Output[Metrics],
    plot: Output[HTML],
    plot_png: Output[Dataset],
    report: Output[Dataset],
    truth: str,
):
    from pathlib import Path

    from shopfloor.health_index.workflow import evaluate_step, write_json
    from shopfloor.plots import png_html

    values = evaluate_step(his.path, unit, time, plot=plot_png.path, truth=truth)
    for key, value in values.items():
        metrics.log_metric(key, round(value, 4))
    write_json(report.path, {"metrics": values})
    Path(plot.path).write_text(png_html("Health index per unit (paper Fig. 5)", [Path(plot_png.path)]))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def health_index_register(
    model: Input[Model],
    his: Input[Dataset],
    report: Input[Dataset],
    plot_png: Input[Dataset],
    cv: Input[Dataset],
    tracking_uri: str,
    model_name: str,
) -> NamedTuple("Registration", registration=str, alias=str):
    import json
    from collections import namedtuple
    from pathlib import Path

    from shopfloor.health_index.workflow import register_step

    metrics = json.loads(Path(report.path).read_text())["metrics"]
    params = {k: v for k, v in model.metadata.items() if isinstance(v, (int, float, str))}
    result = register_step(
        model.path,
        his.path,
        metrics,
        tracking_uri=tracking_uri,
        model_name=model_name,
        plot=plot_png.path,
        cv=cv.path,
        params=params,
    )
    return namedtuple("Registration", ["registration", "alias"])(json.dumps(result), result["alias"])
