"""Continuous retraining DAG: check new data and drift -> challenger from the champion -> promote or keep.

Any kind of champion: a classifier's challenger is an EnKF warm start of a ResNet or a refit of a
scikit-learn model; a health index is refitted on its training units plus the new ones; a beta-VAE detector
continues from its weights on new healthy cuts; a wear posterior continues from its weights on curves from a
prior refitted to the new curves. Champion and challenger are scored on the same held-out new rows. Servers
that follow ``@champion`` reload a promoted version by themselves, so no deploy step is needed.
"""

from kfp import dsl

from components.retraining import retraining_challenger, retraining_check, retraining_promote
from pipelines.deploy import step_options
from shopfloor.constants import FAULT_MODEL
from shopfloor.defaults import RETRAINING


@dsl.pipeline(
    name="retraining",
    description="Retrain the champion on new data (EnKF warm start or refit); promote only if not worse.",
)
def retraining(
    data_path: str,
    tracking_uri: str,
    label: str = RETRAINING.label,
    model_name: str = FAULT_MODEL,
    metric: str = RETRAINING.metric,
    margin: float = RETRAINING.margin,
    holdout_size: float = RETRAINING.holdout_size,
    ks_threshold: float = RETRAINING.ks_threshold,
    psi_threshold: float = RETRAINING.psi_threshold,
    time_column: str = RETRAINING.time_column,
    split: str = RETRAINING.split,
    fine_tune_epochs: int = RETRAINING.fine_tune_epochs,
    simulations: int = RETRAINING.simulations,
    seed: int = RETRAINING.seed,
) -> str:
    check = retraining_check(
        data_path=data_path,
        label=label,
        tracking_uri=tracking_uri,
        model_name=model_name,
        holdout_size=holdout_size,
        ks_threshold=ks_threshold,
        psi_threshold=psi_threshold,
        time_column=time_column,
        split=split,
        seed=seed,
    )
    check.set_display_name("check: signature, split, drift")
    fit = retraining_challenger(
        adapt=check.outputs["adapt"],
        tracking_uri=tracking_uri,
        model_name=model_name,
        fine_tune_epochs=fine_tune_epochs,
        simulations=simulations,
        seed=seed,
    )
    fit.set_display_name("retrain: challenger from champion")
    decide = retraining_promote(
        adapt=check.outputs["adapt"],
        holdout=check.outputs["holdout"],
        challenger=fit.outputs["challenger"],
        drift=check.outputs["drift"],
        retrain_info=fit.outputs["Output"],
        check_info=check.outputs["Output"],
        tracking_uri=tracking_uri,
        model_name=model_name,
        metric=metric,
        margin=margin,
    )
    decide.set_display_name("promote: champion vs challenger")
    step_options([check, fit, decide])
    return decide.outputs["Output"]
