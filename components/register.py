"""Component: log the chosen model, its metrics, plots and synthesizers to MLflow and set its alias."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Model

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def register(models: Input[Model], report: Input[Dataset], train: Input[Dataset], synth_wgan: Input[Model],
             synth_ctgan: Input[Model], synth_flow: Input[Model], pca_wgan: Input[HTML], pca_ctgan: Input[HTML],
             pca_flow: Input[HTML], tracking_uri: str, model_name: str = "gearbox-fault-classifier") -> str:
    import json
    from pathlib import Path

    from shopfloor.fault_detection import register_step

    synthesizers = {"wgan": synth_wgan.path, "ctgan": synth_ctgan.path, "flow": synth_flow.path}
    plots = {"wgan": pca_wgan.path, "ctgan": pca_ctgan.path, "flow": pca_flow.path}
    result = register_step(models.path, report.path, train.path, tracking_uri=tracking_uri, model_name=model_name,
                           synthesizers=synthesizers, plots=plots,
                           files=[str(Path(models.path) / "confusion_matrices.png")])
    result["report"] = json.loads(Path(report.path).read_text())
    return json.dumps(result)
