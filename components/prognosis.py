"""Components of the prognosis pipeline: simulate the prior, train the flow + GRU, evaluate, register."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def prognosis_simulate(simulations: Output[Dataset], n_train: int, n_valid: int, prior_scale: float, seed: int):
    from shopfloor.prognosis.workflow import simulate_step

    simulations.metadata.update(
        simulate_step(simulations.path, n_train=n_train, n_valid=n_valid, prior_scale=prior_scale, seed=seed)
    )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def prognosis_train(
    simulations: Input[Dataset],
    model: Output[Model],
    history: Output[Dataset],
    epochs: int,
    patience: int,
    lr: float,
    gru_layers: int,
    context: int,
    blocks: int,
    hidden: int,
    seed: int,
):
    from shopfloor.prognosis.workflow import train_step

    info = train_step(
        simulations.path,
        model_path=model.path,
        history_path=history.path,
        epochs=epochs,
        patience=patience,
        lr=lr,
        gru_layers=gru_layers,
        context=context,
        blocks=blocks,
        hidden=hidden,
        seed=seed,
    )
    model.metadata.update({k: v for k, v in info.items() if isinstance(v, (int, float, str))})


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def prognosis_evaluate(
    model: Input[Model],
    metrics: Output[Metrics],
    plot: Output[HTML],
    plots: Output[Dataset],
    table: Output[Dataset],
    report: Output[Dataset],
    data_path: str,
    case: str,
    wear: str,
    cut: str,
    valid_cases: list,
    test_cases: list,
    observed: int,
    vb_limit: float,
    seed: int,
):
    from pathlib import Path

    from shopfloor.plots import png_html
    from shopfloor.prognosis.workflow import evaluate_step, write_json

    values = evaluate_step(
        model.path,
        plots=plots.path,
        table_path=table.path,
        data=data_path,
        case=case,
        wear=wear,
        cut=cut,
        valid_cases=valid_cases,
        test_cases=test_cases,
        observed=observed,
        limit=vb_limit,
        seed=seed,
    )
    for key in sorted(values):
        metrics.log_metric(key, round(values[key], 5))
    write_json(report.path, {"metrics": values})
    Path(plot.path).write_text(
        png_html(f"Prognosis after {observed} observed cuts (paper Figs. 9-10)", sorted(Path(plots.path).glob("*.png")))
    )


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def prognosis_register(
    model: Input[Model],
    report: Input[Dataset],
    plots: Input[Dataset],
    table: Input[Dataset],
    history: Input[Dataset],
    tracking_uri: str,
    model_name: str,
    horizon: int,
    vb_limit: float,
) -> NamedTuple("Registration", registration=str, alias=str):
    import json
    from collections import namedtuple
    from pathlib import Path

    from shopfloor.prognosis.workflow import register_step

    metrics = json.loads(Path(report.path).read_text())["metrics"]
    params = {k: v for k, v in model.metadata.items() if isinstance(v, (int, float, str))}
    result = register_step(
        model.path,
        metrics,
        tracking_uri=tracking_uri,
        model_name=model_name,
        horizon=horizon,
        limit=vb_limit,
        plots=plots.path,
        files={"prognosis_curves.csv": table.path, "training_history.csv": history.path},
        params=params,
        curves_table=table.path,
    )
    return namedtuple("Registration", ["registration", "alias"])(json.dumps(result), result["alias"])
