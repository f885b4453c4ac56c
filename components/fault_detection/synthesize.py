"""Component: one synthesizer with the best settings of its study (filled by the tuning workers), refitted for
every cross-validation fold, and its candidate rows."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def fault_detection_synthesize(
    train: Input[Dataset],
    valid: Input[Dataset],
    preprocessing: Input[Model],
    studies: Input[Artifact],
    name: str,
    synthesizer: Output[Model],
    candidates: Output[Dataset],
    objective: str,
    classifier: str,
    n_trials: int,
    timeout: float,
    optuna_storage: str,
    study_name: str,
    max_steps: int,
    cv_folds: int,
    cv_repeats: int,
    cv_rows: int,
    seed: int,
    budget: float = 600.0,
):
    from shopfloor.fault_detection.workflow import synthesize_step
    from shopfloor.platform.budget import Budget

    info = synthesize_step(
        train.path,
        valid.path,
        preprocessing.path,
        synthesizer=name,
        synthesizer_dir=synthesizer.path,
        candidates=candidates.path,
        n_trials=n_trials,
        timeout=timeout,
        storage=optuna_storage or None,
        study_name=study_name,
        objective=objective,
        classifier=classifier,
        cv_folds=cv_folds,
        cv_repeats=cv_repeats,
        cv_rows=cv_rows,
        max_steps=max_steps,
        seed=seed,
        studies_dir=studies.path,
        run_budget=Budget.of_run("fault-detection", budget, train.metadata),
    )
    synthesizer.metadata.update(
        {**{k: v for k, v in info.items() if isinstance(v, (int, float, str, bool))}, "synthesizer": name}
    )
    candidates.metadata.update({"synthesizer": name, "rows": info.get("candidates", 0)})
