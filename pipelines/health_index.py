"""Health-index DAG: ingest trajectories -> health indices (2DS + APAIC and its rivals) and remaining-life estimators
cross-validated across units, the winners refitted -> metrics and plots -> register -> deploy (when asked for, and
only a new champion)."""

from kfp import dsl

from components.health_index import (
    health_index_evaluate,
    health_index_ingest,
    health_index_register,
    health_index_train,
)
from pipelines.deploy import finish
from shopfloor.constants import HEALTH_MODEL, NAMESPACE, SERVE_PORTS
from shopfloor.defaults import HEALTH_INDEX


@dsl.pipeline(
    name="health-index",
    description="Turn run-to-failure trajectories into a health index and a remaining-life estimate, "
    "each chosen by cross-validation across units; register and serve them.",
)
def health_index(
    data_path: str,
    tracking_uri: str,
    unit: str = HEALTH_INDEX.unit,
    time: str = HEALTH_INDEX.time,
    truth: str = "",
    drop_columns: list = [],
    conditions: list = [],
    t_d: float = HEALTH_INDEX.t_d,
    t_f: float = HEALTH_INDEX.t_f,
    methods: list = list(HEALTH_INDEX.methods),
    diversity: float = HEALTH_INDEX.diversity,
    epochs: int = HEALTH_INDEX.epochs,
    embedding_dim: int = HEALTH_INDEX.embedding_dim,
    weight_decay: str = HEALTH_INDEX.weight_decay,
    beta: float = HEALTH_INDEX.beta,
    fusion: str = HEALTH_INDEX.fusion,
    seeds: int = HEALTH_INDEX.seeds,
    baseline: bool = HEALTH_INDEX.baseline,
    window: int = HEALTH_INDEX.window,
    folds: int = HEALTH_INDEX.folds,
    timeout: float = HEALTH_INDEX.timeout,
    test_fraction: float = HEALTH_INDEX.test_fraction,
    split: str = HEALTH_INDEX.split,
    model_name: str = HEALTH_MODEL,
    deploy_target: str = "none",
    serve_port: int = SERVE_PORTS["health-index"],
    namespace: str = NAMESPACE,
    image: str = "",
    budget: float = HEALTH_INDEX.budget,
    seed: int = HEALTH_INDEX.seed,
) -> str:
    data = health_index_ingest(
        data_path=data_path,
        unit=unit,
        time=time,
        t_d=t_d,
        t_f=t_f,
        truth=truth,
        drop_columns=drop_columns,
        conditions=conditions,
        window=window,
        test_fraction=test_fraction,
        split=split,
        seed=seed,
    )
    data.set_display_name("ingest trajectories")
    fit = health_index_train(
        train=data.outputs["train"],
        test=data.outputs["test"],
        unit=unit,
        time=time,
        t_d=t_d,
        t_f=t_f,
        truth=truth,
        conditions=conditions,
        methods=methods,
        diversity=diversity,
        epochs=epochs,
        embedding_dim=embedding_dim,
        weight_decay=weight_decay,
        beta=beta,
        fusion=fusion,
        seeds=seeds,
        baseline=baseline,
        window=window,
        folds=folds,
        timeout=timeout,
        seed=seed,
        budget=budget,
    )
    fit.set_display_name("train: health indices and remaining life, cross-validated")
    ev = health_index_evaluate(his=fit.outputs["his"], unit=unit, time=time, truth=truth)
    ev.set_display_name("evaluate: HI metrics, RUL")
    reg = health_index_register(
        model=fit.outputs["model"],
        his=fit.outputs["his"],
        report=ev.outputs["report"],
        plot_png=ev.outputs["plot_png"],
        cv=fit.outputs["cv"],
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
