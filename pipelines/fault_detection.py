"""Fault detection DAG: ingest -> synthesize (WGAN + Optuna) -> K-means filter -> train -> register."""

from kfp import dsl

from components.filter import kmeans_filter
from components.ingest import ingest
from components.register import register
from components.synthesize import synthesize
from components.train import train


@dsl.pipeline(name="fault-detection",
              description="Balance rare faults with tuned synthetic rows, train and register a classifier.")
def fault_detection(data_path: str, tracking_uri: str, label: str = "faulty",
                    drop_columns: list = [], categorical: list = [],  # noqa: B006
                    n_trials: int = 10, timeout: float = 75.0, optuna_storage: str = "",
                    study_name: str = "wgan", max_epochs: int = 300, d_max_quantile: float = 0.95,
                    model_name: str = "gearbox-fault-classifier", seed: int = 0) -> str:
    data = ingest(data_path=data_path, label=label, drop_columns=drop_columns, categorical=categorical, seed=seed)
    data.set_display_name("ingest")
    synth = synthesize(train=data.outputs["train"], valid=data.outputs["valid"],
                       preprocessor=data.outputs["preprocessor"], n_trials=n_trials, timeout=timeout,
                       optuna_storage=optuna_storage, study_name=study_name, max_epochs=max_epochs,
                       seed=seed)
    synth.set_display_name("synthesize: WGAN")
    kept = kmeans_filter(train=data.outputs["train"], preprocessor=data.outputs["preprocessor"],
                         candidates=synth.outputs["candidates"], d_max_quantile=d_max_quantile, seed=seed)
    kept.set_display_name("filter: K-means")
    fit = train(train=data.outputs["train"], valid=data.outputs["valid"], test=data.outputs["test"],
                preprocessor=data.outputs["preprocessor"], synthetic=kept.outputs["kept"], seed=seed)
    fit.set_display_name("train: logistic regression")
    reg = register(models=fit.outputs["models"], report=fit.outputs["report"], train=data.outputs["train"],
                   synthesizer=synth.outputs["synthesizer"], pca_plot=kept.outputs["pca_plot"],
                   tracking_uri=tracking_uri, model_name=model_name)
    reg.set_display_name("register: MLflow")
    for task in (data, synth, kept, fit, reg):
        task.set_caching_options(False)
    return reg.output
