"""Fail points: named places where a test can stop a real run to kill it there, or slow it down.

``SHOPFLOOR_FAILPOINT=NAME`` makes the process that reaches ``reach(NAME)`` write
``$SHOPFLOOR_HOME/failpoint-NAME`` (its process id) and then wait there for the kill; ``NAME:SECONDS`` makes
it pause that long and go on (to widen a race on purpose); ``NAME:raise`` makes it raise ``FailPoint`` there (a
method failing on its own). Unset, ``reach`` costs one dictionary lookup. The places: ``ingest`` (the ingest
step has started), ``tuning`` (a trial has finished), ``synthesize-NAME`` (synthesizer NAME's refits begin),
``registration`` (the version exists, its alias is not set yet).
"""

from __future__ import annotations

import os
import time

from shopfloor.config import FAILPOINT_ENV, environment

ENV = FAILPOINT_ENV


class FailPoint(RuntimeError):
    """Raised where a test asked a step to fail."""


def reach(name: str) -> None:
    spec = environment().failpoint
    if not spec:
        return
    point, _, seconds = spec.partition(":")
    if point != name:
        return
    if seconds == "raise":
        raise FailPoint(f"fail point {name} reached")
    if seconds:
        time.sleep(float(seconds))
        return
    from shopfloor import config

    (config.home() / f"failpoint-{name}").write_text(str(os.getpid()))
    time.sleep(3600)
