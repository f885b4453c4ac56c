"""Component: the tuning jobs, ``SYNTHESIZER/WORKER`` for every chosen synthesizer and worker, for the
``dsl.ParallelFor`` of tuning workers."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def fault_detection_tuning_plan(synthesizers: list, workers: int) -> list:
    from shopfloor.errors import DataError

    if workers < 1:
        raise DataError("tuning-workers", f"must be at least 1, got {workers}")
    return [f"{name}/{worker}" for name in synthesizers for worker in range(workers)]
