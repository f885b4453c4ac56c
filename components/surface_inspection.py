"""Components of the surface inspection pipeline: load and split the images, train the mode's comparison,
register the winner."""

from typing import NamedTuple

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def surface_inspection_ingest(data_path: str, splits: Output[Dataset], good_class: str, min_images: int, seed: int):
    from shopfloor.surface_inspection.workflow import ingest_step

    summary = ingest_step(data_path, splits.path, good_class=good_class, min_images=min_images, seed=seed)
    splits.metadata.update({"images": summary["images"], "defect_kinds": ",".join(summary["kinds"])})


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def surface_inspection_train(
    splits: Input[Dataset],
    model: Output[Model],
    report: Output[Dataset],
    figure: Output[Dataset],
    metrics: Output[Metrics],
    plot: Output[HTML],
    mode: str,
    ae_steps: int,
    flow_steps: int,
    cnn_epochs: int,
    ratios: list,
    quantile: float,
    seed: int,
):
    from pathlib import Path

    from shopfloor.plots import png_html
    from shopfloor.surface_inspection.workflow import train_step

    info = train_step(
        splits.path,
        model_path=model.path,
        report_path=report.path,
        figure_path=figure.path,
        mode=mode,
        ae_steps=ae_steps,
        flow_steps=flow_steps,
        cnn_epochs=cnn_epochs,
        ratios=tuple(str(r) for r in ratios),
        quantile=quantile,
        seed=seed,
    )
    for part in ("valid", "test"):
        for key, value in info[part].items():
            metrics.log_metric(f"{part}_{key}", round(value, 5))
    model.metadata.update({"chosen": info["chosen"], "threshold": info["threshold"]})
    Path(plot.path).write_text(png_html("Real, flow-synthesized and Gaussian-decoded images", [Path(figure.path)]))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def surface_inspection_register(
    model: Input[Model],
    report: Input[Dataset],
    figure: Input[Dataset],
    splits: Input[Dataset],
    tracking_uri: str,
    model_name: str,
) -> NamedTuple("Registration", registration=str, alias=str):
    import json
    from collections import namedtuple

    from shopfloor.surface_inspection.workflow import register_step

    result = register_step(
        model.path, report.path, figure.path, splits.path, tracking_uri=tracking_uri, model_name=model_name
    )
    return namedtuple("Registration", ["registration", "alias"])(json.dumps(result), result["alias"])
