"""Every pipeline as it is compiled for Kubeflow: its DAG inside ``dsl.ExitHandler``, whose exit step records
how the run ended (``components.run_outcome``), so that an unattended run that fails at 03:00 raises an alert.

KFP lets a pipeline return outputs only from its top level, and an exit handler is a group; so the monitored
pipeline runs the pipeline as a sub-DAG and returns nothing (the steps' outputs stay in the run's artifacts),
while ``shopfloor run`` runs the pipeline itself for its result and records the outcome the same way.
"""

from __future__ import annotations

import inspect

from kfp import dsl

from components.run_outcome import record_run_outcome
from pipelines.deploy import step_options


def monitored(pipeline):
    """``pipeline`` (a ``@dsl.pipeline``) wrapped in an exit handler; same name, same parameters and defaults."""
    signature = inspect.signature(pipeline.pipeline_func)
    names = list(signature.parameters)

    def body(*args, **kwargs):
        kwargs.update(zip(names, args, strict=False))  # KFP passes the parameters' placeholders by position
        exit_step = record_run_outcome(pipeline_name=pipeline.name)
        exit_step.set_display_name("record the run's outcome")
        step_options([exit_step])
        with dsl.ExitHandler(exit_step, name="run"):
            pipeline(**kwargs)

    body.__signature__ = signature.replace(return_annotation=inspect.Signature.empty)
    body.__annotations__ = {k: p.annotation for k, p in signature.parameters.items()}
    body.__name__ = pipeline.pipeline_func.__name__
    return dsl.pipeline(name=pipeline.name, description=pipeline.description)(body)
