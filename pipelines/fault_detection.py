"""Fault detection DAG: ingest -> for each chosen synthesizer (in parallel): tune, sample, filter ->
train -> register -> deploy (when asked for, and only a new champion).

The synthesizer choice is a list parameter (``["wgan"]``, ``["wgan", "ctgan", "flow"]``...):
``dsl.ParallelFor`` runs one branch per name and ``dsl.Collected`` hands the branches' rows, synthesizers
and plots to the training and registration steps, so the same compiled pipeline serves every choice
and only the chosen synthesizers run.
"""

from kfp import dsl

from components.filter import filter_rows
from components.ingest import ingest
from components.register import register
from components.synthesize import synthesize
from components.train import train
from pipelines.deploy import deploy_new_champion
from shopfloor.constants import FAULT_MODEL, NAMESPACE, SERVE_PORTS


@dsl.pipeline(name="fault-detection",
              description="Balance rare faults with tuned synthetic rows, train and register a classifier.")
def fault_detection(data_path: str, tracking_uri: str, label: str = "faulty",
                    drop_columns: list = [], categorical: list = [],  # noqa: B006
                    synthesizers: list = ["wgan"], filter_method: str = "kmeans",  # noqa: B006
                    classifier: str = "logreg", n_trials: int = 10, timeout: float = 75.0, optuna_storage: str = "",
                    study_name: str = "fd", max_epochs: int = 300, d_max_quantile: float = 0.95,
                    likelihood_quantile: float = 0.05, model_name: str = FAULT_MODEL, deploy_target: str = "none",
                    serve_port: int = SERVE_PORTS["fault-detection"], namespace: str = NAMESPACE, image: str = "",
                    seed: int = 0) -> str:
    data = ingest(data_path=data_path, label=label, drop_columns=drop_columns, categorical=categorical, seed=seed)
    data.set_display_name("ingest")
    tasks = [data]
    with dsl.ParallelFor(synthesizers, name="synthesizers") as name:
        made = synthesize(train=data.outputs["train"], valid=data.outputs["valid"],
                          preprocessing=data.outputs["preprocessing"], name=name, n_trials=n_trials, timeout=timeout,
                          optuna_storage=optuna_storage, study_name=study_name, max_epochs=max_epochs, seed=seed)
        made.set_display_name("synthesize")
        kept = filter_rows(train=data.outputs["train"], preprocessing=data.outputs["preprocessing"],
                           candidates=made.outputs["candidates"], method=filter_method, d_max_quantile=d_max_quantile,
                           likelihood_quantile=likelihood_quantile, seed=seed)
        kept.set_display_name("filter")
        tasks += [made, kept]
    fit = train(train=data.outputs["train"], valid=data.outputs["valid"], test=data.outputs["test"],
                preprocessing=data.outputs["preprocessing"], synthetic=dsl.Collected(kept.outputs["kept"]),
                classifier=classifier, seed=seed)
    fit.set_display_name("train: classifiers")
    reg = register(models=fit.outputs["models"], report=fit.outputs["report"], train=data.outputs["train"],
                   preprocessing=data.outputs["preprocessing"], synthesizers=dsl.Collected(made.outputs["synthesizer"]),
                   pca_plots=dsl.Collected(kept.outputs["pca_plot"]), tracking_uri=tracking_uri, model_name=model_name)
    reg.set_display_name("register: MLflow")
    tasks += [fit, reg]
    tasks += deploy_new_champion(reg, target=deploy_target, port=serve_port, namespace=namespace, image=image,
                                 tracking_uri=tracking_uri)
    for task in tasks:
        task.set_caching_options(False)
    return reg.outputs["registration"]
