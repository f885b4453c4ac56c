"""Surface inspection DAG: load and split the images -> train the mode's comparison (classify: a CNN with and
without flow-synthesized defect images against classic rivals; detect: latent-flow likelihood against simple
detectors) -> register -> deploy (when asked for, and only a new champion)."""

from kfp import dsl

from components.surface_inspection import (
    surface_inspection_ingest,
    surface_inspection_register,
    surface_inspection_train,
)
from pipelines.deploy import finish
from shopfloor.constants import NAMESPACE, SERVE_PORTS, SURFACE_MODEL
from shopfloor.defaults import SURFACE_INSPECTION


@dsl.pipeline(
    name="surface-inspection",
    description="Flag defective parts from photographs of their surface: a defect classifier that may learn from "
    "flow-synthesized defect images, or a detector of defects nobody labelled, each chosen on validation.",
)
def surface_inspection(
    tracking_uri: str,
    data_path: str,
    good_class: str = SURFACE_INSPECTION.good_class,
    mode: str = SURFACE_INSPECTION.mode,
    min_images: int = SURFACE_INSPECTION.min_images,
    ae_steps: int = SURFACE_INSPECTION.ae_steps,
    flow_steps: int = SURFACE_INSPECTION.flow_steps,
    cnn_epochs: int = SURFACE_INSPECTION.cnn_epochs,
    ratios: list = list(SURFACE_INSPECTION.ratios),
    quantile: float = SURFACE_INSPECTION.quantile,
    model_name: str = SURFACE_MODEL,
    deploy_target: str = "none",
    serve_port: int = SERVE_PORTS["surface-inspection"],
    namespace: str = NAMESPACE,
    image: str = "",
    seed: int = SURFACE_INSPECTION.seed,
) -> str:
    ingest = surface_inspection_ingest(data_path=data_path, good_class=good_class, min_images=min_images, seed=seed)
    ingest.set_display_name("ingest: decode, check and split the images")
    fit = surface_inspection_train(
        splits=ingest.outputs["splits"],
        mode=mode,
        ae_steps=ae_steps,
        flow_steps=flow_steps,
        cnn_epochs=cnn_epochs,
        ratios=ratios,
        quantile=quantile,
        seed=seed,
    )
    fit.set_display_name("train: compare on validation, keep the best")
    reg = surface_inspection_register(
        model=fit.outputs["model"],
        report=fit.outputs["report"],
        figure=fit.outputs["figure"],
        splits=ingest.outputs["splits"],
        tracking_uri=tracking_uri,
        model_name=model_name,
    )
    reg.set_display_name("register: MLflow")
    return finish(
        [ingest, fit, reg],
        reg,
        target=deploy_target,
        port=serve_port,
        namespace=namespace,
        image=image,
        tracking_uri=tracking_uri,
    )
