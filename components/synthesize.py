"""Component: tune one synthesizer with Optuna on the minority rows and sample candidate rows."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def synthesize(train: Input[Dataset], valid: Input[Dataset], preprocessing: Input[Model], name: str,
               synthesizer: Output[Model], candidates: Output[Dataset], n_trials: int = 10, timeout: float = 75.0,
               optuna_storage: str = "", study_name: str = "fd", candidate_factor: float = 3.0,
               max_epochs: int = 300, seed: int = 0):
    from shopfloor.fault_detection import synthesize_step

    info = synthesize_step(train.path, valid.path, preprocessing.path, synthesizer=name,
                           synthesizer_dir=synthesizer.path, candidates=candidates.path, n_trials=n_trials,
                           timeout=timeout, storage=optuna_storage or None, study_name=study_name,
                           candidate_factor=candidate_factor, max_epochs=max_epochs, seed=seed)
    synthesizer.metadata.update({k: v for k, v in info.items() if isinstance(v, (int, float, str, bool))})
    candidates.metadata.update({"synthesizer": name, "rows": info["candidates"]})
