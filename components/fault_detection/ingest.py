"""Component: read and check the labelled table, split it (at random or in time order), fit the [-1, 1]
preprocessing."""

from kfp import dsl
from kfp.dsl import Dataset, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def fault_detection_ingest(
    data_path: str,
    label: str,
    train: Output[Dataset],
    valid: Output[Dataset],
    test: Output[Dataset],
    preprocessing: Output[Model],
    drop_columns: list = [],
    categorical: list = [],
    key_column: str = "",
    positive: str = "",
    time_column: str = "",
    split: str = "auto",
    test_size: float = 0.2,
    valid_size: float = 0.2,
    seed: int = 0,
):
    import time

    started = time.time()  # the run's time budget counts from here; it travels in the splits' metadata
    from shopfloor.fault_detection.workflow import ingest_step

    info = ingest_step(
        data_path,
        label,
        train=train.path,
        valid=valid.path,
        test=test.path,
        preprocessing=preprocessing.path,
        drop=drop_columns,
        categorical=categorical,
        key_column=key_column,
        positive=positive,
        time_column=time_column,
        split=split,
        test_size=test_size,
        valid_size=valid_size,
        seed=seed,
    )
    for artifact in (train, valid, test, preprocessing):
        artifact.metadata.update({**info, "run_started": started})
