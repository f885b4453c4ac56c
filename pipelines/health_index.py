"""Health-index DAG: ingest trajectories -> 2DS + APAIC -> metrics and plots -> register -> deploy (when
asked for, and only a new champion)."""

from kfp import dsl

from components.health import health_evaluate, health_ingest, health_register, health_train
from pipelines.deploy import deploy_new_champion
from shopfloor.constants import HEALTH_MODEL, NAMESPACE, SERVE_PORTS


@dsl.pipeline(name="health-index",
              description="Turn run-to-failure trajectories into a monotone health index, register and serve it.")
def health_index(data_path: str, tracking_uri: str, unit: str = "unit", time: str = "time", truth: str = "",
                 drop_columns: list = [], t_d: int = 30, t_f: int = 30, diversity: float = 1.0,  # noqa: B006
                 epochs: int = 60, embedding_dim: int = 8, beta: float = 0.05, test_fraction: float = 0.25,
                 model_name: str = HEALTH_MODEL, deploy_target: str = "none",
                 serve_port: int = SERVE_PORTS["health-index"], namespace: str = NAMESPACE, image: str = "",
                 seed: int = 0) -> str:
    data = health_ingest(data_path=data_path, unit=unit, time=time, t_d=t_d, t_f=t_f, truth=truth,
                         drop_columns=drop_columns, test_fraction=test_fraction, seed=seed)
    data.set_display_name("ingest trajectories")
    fit = health_train(train=data.outputs["train"], test=data.outputs["test"], unit=unit, time=time, t_d=t_d, t_f=t_f,
                       truth=truth, diversity=diversity, epochs=epochs, embedding_dim=embedding_dim, beta=beta,
                       seed=seed)
    fit.set_display_name("train: 2DS + APAIC")
    ev = health_evaluate(his=fit.outputs["his"], unit=unit, time=time, truth=truth)
    ev.set_display_name("evaluate: HI metrics")
    reg = health_register(model=fit.outputs["model"], his=fit.outputs["his"], report=ev.outputs["report"],
                          plot_png=ev.outputs["plot_png"], tracking_uri=tracking_uri, model_name=model_name)
    reg.set_display_name("register: MLflow")
    tasks = [data, fit, ev, reg]
    tasks += deploy_new_champion(reg, target=deploy_target, port=serve_port, namespace=namespace, image=image,
                                 tracking_uri=tracking_uri)
    for task in tasks:
        task.set_caching_options(False)
    return reg.outputs["registration"]
