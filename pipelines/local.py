"""Run pipelines on this machine with ``kfp.local`` (SubprocessRunner, the current environment)."""

from __future__ import annotations

import json
from typing import Any

from kfp import local

from shopfloor import config


def run_local(pipeline_func, **arguments: Any) -> dict[str, Any]:
    """Run ``pipeline_func`` through ``kfp.local`` and return its JSON string output, parsed.

    Each component runs as a subprocess of this Python (``use_venv=False``): the installed
    ``shopfloor`` is the one the components use. A failed task raises ``RuntimeError``.
    """
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(config.kfp_local_root()),
               raise_on_error=True)
    task = pipeline_func(**arguments)
    return json.loads(task.output)
