"""Component: the exit step of every compiled pipeline, recording how the run ended (succeeded or failed)."""

from kfp import dsl

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def record_run_outcome(status: dsl.PipelineTaskFinalStatus, pipeline_name: str) -> str:
    import json

    from shopfloor.platform.run_outcomes import record_outcome

    return json.dumps(
        record_outcome(
            pipeline_name, status.state, error=status.error_message or "", task=status.pipeline_task_name or ""
        )
    )
