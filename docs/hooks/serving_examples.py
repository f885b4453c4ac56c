"""MkDocs hook: the serving page's requests and responses, made when the site is built. A fault classifier is
trained on the gearbox simulator and registered in a scratch MLflow store; the model server's own request path
(``RegistryModel.answer``, what ``POST /v1/models/NAME:predict`` and ``/v2/models/NAME/infer`` return) answers
the v1 and v2 bodies shown. A page line ``<!-- serving: v1 -->`` (or ``v2``, ``explain``) becomes the curl command,
its body and the answer, so neither the body nor the answer is typed by hand."""

from __future__ import annotations

import json
import os
import tempfile
from functools import cache
from pathlib import Path

MARKER = "<!-- serving: {} -->"
URL = "localhost:8080"


@cache
def _served() -> tuple[object, dict]:
    """The registry model serving a freshly registered classifier, and one simulated part as a v1 record."""
    import mlflow

    from serving.model import RegistryModel
    from shopfloor.constants import FAULT_MODEL
    from shopfloor.data.simulate import simulate_gearbox
    from shopfloor.fault_detection.train import register_reference
    from shopfloor.registry import use_tracking

    home = Path(tempfile.mkdtemp(prefix="shopfloor-docs-serving-"))
    before_home, before_uri = os.environ.get("SHOPFLOOR_HOME"), mlflow.get_tracking_uri()
    os.environ["SHOPFLOOR_HOME"] = str(home)
    try:
        use_tracking(f"sqlite:///{home / 'mlflow.db'}")
        _, _, splits = register_reference(simulate_gearbox(rows=800, seed=0), FAULT_MODEL, "docs", test_f2=0.0)
        served = RegistryModel(FAULT_MODEL, poll_seconds=0, prediction_log=False)
        served.load()
    finally:  # the rest of the build sees the environment it started with
        if before_home is None:
            os.environ.pop("SHOPFLOOR_HOME", None)
        else:
            os.environ["SHOPFLOOR_HOME"] = before_home
        mlflow.set_tracking_uri(before_uri)
    part = splits.test.drop(columns=["label"]).iloc[0]
    return served, {k: round(float(v), 3) for k, v in part.items()}


def _block(kind: str) -> str:
    from serving.fast import tensors_of
    from shopfloor.constants import FAULT_MODEL

    served, record = _served()
    if kind == "v1":
        body, route = {"instances": [record]}, f"/v1/models/{FAULT_MODEL}:predict"
        _, answer = served.answer(body, False, request_id="docs-1")
    elif kind == "v2":
        tensor = {"name": "rows", "shape": [1, len(record)], "datatype": "FP64", "data": list(record.values())}
        body, route = {"id": "docs-2", "inputs": [tensor]}, f"/v2/models/{FAULT_MODEL}/infer"
        _, answer = served.answer(tensors_of(body), True, request_id="docs-2")
    else:
        body, route = {"instances": [record]}, f"/v1/models/{FAULT_MODEL}:explain"
        answer = served.explain(body)
        for row in answer["rows"]:  # the five columns that moved the answer most, of 66
            top = sorted(row["contributions"].items(), key=lambda kv: -abs(kv[1]))[:5]
            row["contributions"] = {k: round(v, 4) for k, v in top} | {"...": "61 more columns"}
    shown = json.dumps(body)
    return (
        "```console\n"
        f"$ cat body.json\n{shown}\n"
        f"$ curl -s {URL}{route} -H 'content-type: application/json' -d @body.json\n"
        f"{json.dumps(answer, indent=1)}\n```"
    )


def on_page_markdown(markdown: str, page, config, files) -> str:
    for kind in ("v1", "v2", "explain"):
        if MARKER.format(kind) in markdown:
            markdown = markdown.replace(MARKER.format(kind), _block(kind))
    return markdown
