"""Component: log the chosen model, its metrics, plots and synthesizers to MLflow and decide its alias."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Model

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def fault_detection_register(
    models: Input[Model],
    report: Input[Dataset],
    test: Input[Dataset],
    synthesizers: Input[list[Model]],
    pca_plots: Input[list[HTML]],
    tracking_uri: str,
    model_name: str,
    force_promote: bool,
) -> NamedTuple("Registration", registration=str, alias=str):
    import json
    from collections import namedtuple
    from pathlib import Path

    from shopfloor.fault_detection.workflow import register_step

    result = register_step(
        models.path,
        report.path,
        test.path,
        tracking_uri=tracking_uri,
        model_name=model_name,
        synthesizer_dirs={s.metadata["synthesizer"]: s.path for s in synthesizers},
        plots={p.metadata["synthesizer"]: p.path for p in pca_plots},
        files=[str(Path(models.path) / "confusion_matrices.png")],
        force_promote=force_promote,
    )
    result["report"] = json.loads(Path(report.path).read_text())
    return namedtuple("Registration", ["registration", "alias"])(json.dumps(result), result["alias"])
