"""Component: one Optuna tuning worker of one synthesizer (``job`` = ``SYNTHESIZER/WORKER``); the workers of a
synthesizer share one study, as pods of a ``dsl.ParallelFor``."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def fault_detection_tune(
    train: Input[Dataset],
    valid: Input[Dataset],
    preprocessing: Input[Model],
    job: str,
    workers: int,
    study: Output[Artifact],
    objective: str,
    classifier: str,
    n_trials: int,
    timeout: float,
    optuna_storage: str,
    study_name: str,
    max_steps: int,
    seed: int,
    budget: float = 600.0,
):
    from shopfloor.fault_detection.workflow import tune_step
    from shopfloor.platform.budget import Budget

    info = tune_step(
        train.path,
        valid.path,
        preprocessing.path,
        job=job,
        study_dir=study.path,
        workers=workers,
        n_trials=n_trials,
        timeout=timeout,
        storage=optuna_storage or None,
        study_name=study_name,
        objective=objective,
        classifier=classifier,
        max_steps=max_steps,
        seed=seed,
        run_budget=Budget.of_run("fault-detection", budget, train.metadata),
    )
    study.metadata.update({k: v for k, v in info.items() if isinstance(v, (int, float, str, bool))})
