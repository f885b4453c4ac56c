"""Component: log the chosen model, its metrics and plots to MLflow and set its alias."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Model

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def register(models: Input[Model], report: Input[Dataset], train: Input[Dataset], synthesizer: Input[Model],
             pca_plot: Input[HTML], tracking_uri: str, model_name: str = "gearbox-fault-classifier") -> str:
    import json
    from pathlib import Path

    from shopfloor.fault_detection import register_step

    files = [str(Path(models.path) / "confusion_matrices.png"), pca_plot.path,
             str(Path(synthesizer.path) / "synthesizer.pt"), str(Path(synthesizer.path) / "info.json"), report.path]
    params = {k: v for k, v in synthesizer.metadata.items() if k.startswith("param_") or k == "trials"}
    result = register_step(models.path, report.path, train.path, tracking_uri=tracking_uri,
                           model_name=model_name, params=params, files=files)
    result["report"] = json.loads(Path(report.path).read_text())
    return json.dumps(result)
