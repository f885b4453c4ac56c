"""The deploy tail every model pipeline ends with: serve the newly registered version when the run asked
for it (``deploy_target`` local or cluster) and only when it became the champion; KFP conditions, so the
deploy task does not run at all otherwise."""

from kfp import dsl, kubernetes

from components.deploy import deploy
from shopfloor.constants import (
    CHAMPION,
    DATA_MOUNT,
    DATA_VOLUME,
    STEP_CPU_LIMIT,
    STEP_CPU_REQUEST,
    STEP_MEMORY_LIMIT,
    STEP_MEMORY_REQUEST,
)


def deploy_new_champion(
    registration: dsl.PipelineTask, *, target, port, namespace, image, tracking_uri
) -> list[dsl.PipelineTask]:
    """Add the conditional deploy task after ``registration`` (a task with ``registration`` and ``alias``
    outputs); returns the tasks added, for caching options."""
    with dsl.If(target != "none", name="deploy asked for"):
        with dsl.If(registration.outputs["alias"] == CHAMPION, name="new champion"):
            serve = deploy(
                registration=registration.outputs["registration"],
                target=target,
                port=port,
                namespace=namespace,
                image=image,
                tracking_uri=tracking_uri,
            )
            serve.set_display_name("deploy: KServe")
    return [serve]


def step_options(tasks: list[dsl.PipelineTask]) -> None:
    """What every step of every pipeline gets: no caching (each run trains anew), CPU and memory requests and
    limits (its threads follow the limit, ``shopfloor.platform.cpus``), and on the cluster the profile's shared
    data volume at ``/data`` (kfp.local runs in this machine's files and ignores it)."""
    for task in tasks:
        kubernetes.mount_pvc(task, pvc_name=DATA_VOLUME, mount_path=DATA_MOUNT)
        task.set_caching_options(False)
        task.set_cpu_request(STEP_CPU_REQUEST).set_cpu_limit(STEP_CPU_LIMIT)
        task.set_memory_request(STEP_MEMORY_REQUEST).set_memory_limit(STEP_MEMORY_LIMIT)


def finish(
    tasks: list[dsl.PipelineTask], registration: dsl.PipelineTask, *, target, port, namespace, image, tracking_uri
):
    """The end of every model pipeline: the conditional deploy after ``registration``, no caching (each run
    trains and registers anew), CPU and memory requests and limits on every step (its threads follow them), and
    the registration as the pipeline's output."""
    tasks = [
        *tasks,
        *deploy_new_champion(
            registration, target=target, port=port, namespace=namespace, image=image, tracking_uri=tracking_uri
        ),
    ]
    step_options(tasks)
    return registration.outputs["registration"]
