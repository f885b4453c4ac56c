"""Fault detection DAG: ingest -> {WGAN, CTGAN, flow} branches (tune, sample, filter) -> train -> register
-> deploy.

The three synthesizer branches always exist in the DAG and run in parallel; a branch whose
synthesizer was not selected (``synthesizer`` = wgan | ctgan | flow | all) finishes at once with an
empty output, so the same compiled pipeline serves every choice.
"""

from kfp import dsl

from components.deploy import deploy
from components.filter import filter_rows
from components.ingest import ingest
from components.register import register
from components.synthesize import synthesize
from components.train import train

BRANCHES = ("wgan", "ctgan", "flow")


@dsl.pipeline(name="fault-detection",
              description="Balance rare faults with tuned synthetic rows, train and register a classifier.")
def fault_detection(data_path: str, tracking_uri: str, label: str = "faulty",
                    drop_columns: list = [], categorical: list = [],  # noqa: B006
                    synthesizer: str = "wgan", filter_method: str = "kmeans", classifier: str = "logreg",
                    n_trials: int = 10, timeout: float = 75.0, optuna_storage: str = "",
                    study_name: str = "fd", max_epochs: int = 300, d_max_quantile: float = 0.95,
                    likelihood_quantile: float = 0.05, model_name: str = "gearbox-fault-classifier",
                    deploy_target: str = "none", serve_port: int = 8080, namespace: str = "kubeflow-user-example-com",
                    image: str = "", seed: int = 0) -> str:
    data = ingest(data_path=data_path, label=label, drop_columns=drop_columns, categorical=categorical, seed=seed)
    data.set_display_name("ingest")
    tasks = [data]
    synths, kept = {}, {}
    for name in BRANCHES:
        synths[name] = synthesize(train=data.outputs["train"], valid=data.outputs["valid"],
                                  preprocessor=data.outputs["preprocessor"], name=name, selection=synthesizer,
                                  n_trials=n_trials, timeout=timeout, optuna_storage=optuna_storage,
                                  study_name=study_name, max_epochs=max_epochs, seed=seed)
        synths[name].set_display_name(f"synthesize: {name}")
        kept[name] = filter_rows(train=data.outputs["train"], preprocessor=data.outputs["preprocessor"],
                                 candidates=synths[name].outputs["candidates"], method=filter_method,
                                 d_max_quantile=d_max_quantile, likelihood_quantile=likelihood_quantile, seed=seed)
        kept[name].set_display_name(f"filter: {name}")
        tasks += [synths[name], kept[name]]
    fit = train(train=data.outputs["train"], valid=data.outputs["valid"], test=data.outputs["test"],
                preprocessor=data.outputs["preprocessor"], wgan=kept["wgan"].outputs["kept"],
                ctgan=kept["ctgan"].outputs["kept"], flow=kept["flow"].outputs["kept"], classifier=classifier,
                seed=seed)
    fit.set_display_name("train: classifiers")
    reg = register(models=fit.outputs["models"], report=fit.outputs["report"], train=data.outputs["train"],
                   synth_wgan=synths["wgan"].outputs["synthesizer"], synth_ctgan=synths["ctgan"].outputs["synthesizer"],
                   synth_flow=synths["flow"].outputs["synthesizer"], pca_wgan=kept["wgan"].outputs["pca_plot"],
                   pca_ctgan=kept["ctgan"].outputs["pca_plot"], pca_flow=kept["flow"].outputs["pca_plot"],
                   tracking_uri=tracking_uri, model_name=model_name)
    reg.set_display_name("register: MLflow")
    serve = deploy(registration=reg.output, target=deploy_target, port=serve_port, namespace=namespace, image=image,
                   tracking_uri=tracking_uri)
    serve.set_display_name("deploy: KServe")
    for task in (*tasks, fit, reg, serve):
        task.set_caching_options(False)
    return reg.output
