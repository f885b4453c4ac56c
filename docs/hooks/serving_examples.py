"""MkDocs hook: every kind's serving requests and answers, made when the site is built.

Each kind's small example model (``shopfloor.examples``: fitted in seconds on the kind's simulator) is registered
in a scratch MLflow store, and the model server's own request path (``RegistryModel.answer``, what ``POST
/v1/models/NAME:predict`` and ``/v2/models/NAME/infer`` return) answers the bodies shown, so neither a body nor an
answer is typed by hand. Page markers:

* ``<!-- serving: KIND -->``: the kind's v1 and v2 curl commands, bodies and answers;
* ``<!-- serving: fault-detection explain -->``: KServe's explain route;
* ``<!-- serving: client -->``: KServe's Python REST client sending the fault classifier's v2 body, and what it
  prints (``tests/test_docs.py`` runs the same snippet against ``shopfloor serve``);
* ``<!-- serving: predict -->``: ``shopfloor predict`` scoring a file, run through the command line.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

MARKER = re.compile(r"<!-- serving: ([a-z-]+)(?: (explain))? -->")
URL = "localhost:8080"
LONG = 1200  # characters of a body shown in full; a longer one is shown cut, with the command that writes it

#: KServe's REST client sending a v2 body saved as ``v2.json``; ``{url}`` and ``{model}`` filled in.
CLIENT = """import asyncio
import json

from kserve import InferenceRESTClient, InferInput, InferRequest, RESTConfig


async def ask() -> None:
    body = json.load(open("v2.json"))  # the v2 body above
    inputs = [InferInput(t["name"], t["shape"], t["datatype"], t["data"]) for t in body["inputs"]]
    client = InferenceRESTClient(RESTConfig(protocol="v2"))
    try:
        request = InferRequest("{model}", inputs)
        response = await client.infer("{url}", request, model_name="{model}")
    finally:
        await client.close()
    for output in response.outputs:
        print(output.name, output.data)


asyncio.run(ask())
"""


@cache
def _home() -> Path:
    return Path(tempfile.mkdtemp(prefix="shopfloor-docs-serving-"))


def _in_scratch_store(work):
    """``work()`` with SHOPFLOOR_HOME and the tracking URI on the scratch store; the rest of the build keeps its own."""
    import mlflow

    from shopfloor.registry import use_tracking

    before_home, before_uri = os.environ.get("SHOPFLOOR_HOME"), mlflow.get_tracking_uri()
    os.environ["SHOPFLOOR_HOME"] = str(_home())
    try:
        use_tracking(f"sqlite:///{_home() / 'mlflow.db'}")
        return work()
    finally:
        if before_home is None:
            os.environ.pop("SHOPFLOOR_HOME", None)
        else:
            os.environ["SHOPFLOOR_HOME"] = before_home
        mlflow.set_tracking_uri(before_uri)


@cache
def served(kind: str) -> tuple[Any, Any, str]:
    """The model server's registry model for ``kind``'s freshly registered example, the example and its name."""
    from serving.model import RegistryModel
    from shopfloor.constants import DEFAULT_MODELS
    from shopfloor.examples import register_example

    name = DEFAULT_MODELS[kind]

    def register():
        example = register_example(kind, name, experiment="docs")
        model = RegistryModel(name, poll_seconds=0, prediction_log=False)
        model.load()
        return model, example

    model, example = _in_scratch_store(register)
    return model, example, name


def v2_body(kind: str) -> dict:
    model, example, _ = served(kind)
    return {"id": "docs-2", "inputs": model.current.model.inputs.v2_request(example.instances)}


#: Request bodies too long to show whole, written beside the page in the built site: site path -> text.
BODIES: dict[str, str] = {}


def _shown(body: dict, kind: str, file: str) -> tuple[str, str]:
    """The console line showing ``body`` and, for a body too long for the page, a link to the whole file."""
    text = json.dumps(body)
    if len(text) <= LONG:
        return f"$ cat {file}\n{text}", ""
    BODIES[f"examples/{kind}/{file}"] = text
    return (
        f"$ head -c {LONG} {file}   # {len(text):,} characters in all\n{text[:LONG]} ...",
        f'The whole body: <a href="examples/{kind}/{file}">{file}</a>.\n\n',  # written by on_post_build
    )


def _pretty(answer: Any) -> str:
    """An answer as JSON with each top-level field on a line, and each row or output of a list on a line."""
    if not isinstance(answer, dict):
        return json.dumps(answer)
    lines = []
    for key, value in answer.items():
        if isinstance(value, list) and value and isinstance(value[0], dict):
            items = ",\n".join(f"    {json.dumps(v)}" for v in value)
            lines.append(f'  "{key}": [\n{items}\n  ]')
        else:
            lines.append(f'  "{key}": {json.dumps(value)}')
    return "{\n" + ",\n".join(lines) + "\n}"


def _curl(route: str, file: str, answer: Any) -> str:
    return f"$ curl -s {URL}{route} -H 'content-type: application/json' -d @{file}\n{_pretty(answer)}"


def _rounded(value: Any) -> Any:
    """Answers with floats to 6 significant digits, so the page reads as a person would write them."""
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, list):
        return [_rounded(v) for v in value]
    if isinstance(value, dict):
        return {k: _rounded(v) for k, v in value.items()}
    return value


def _kind_block(kind: str) -> str:
    from serving.fast import tensors_of

    model, example, name = served(kind)
    v1 = {"instances": example.instances}
    _, v1_answer = model.answer(v1, False, request_id="docs-1")
    v2 = v2_body(kind)
    _, v2_answer = model.answer(tensors_of(v2), True, request_id="docs-2")
    (v1_shown, v1_link), (v2_shown, v2_link) = _shown(v1, kind, "v1.json"), _shown(v2, kind, "v2.json")
    return (
        f"v1, `POST /v1/models/{name}:predict`:\n\n```console\n{v1_shown}\n"
        f"{_curl(f'/v1/models/{name}:predict', 'v1.json', _rounded(v1_answer))}\n```\n\n{v1_link}"
        f"v2, `POST /v2/models/{name}/infer`:\n\n```console\n{v2_shown}\n"
        f"{_curl(f'/v2/models/{name}/infer', 'v2.json', _rounded(v2_answer))}\n```\n\n{v2_link}"
    )


def _explain_block(kind: str) -> str:
    model, example, name = served(kind)
    body = {"instances": example.instances}
    answer = _rounded(model.explain(body))
    for row in answer["rows"]:  # the five columns that moved the answer most
        ranked = sorted(row["contributions"].items(), key=lambda kv: -abs(kv[1]))
        row["contributions"] = {k: round(v, 4) for k, v in ranked[:5]} | {"...": f"{len(ranked) - 5} more columns"}
    shown, link = _shown(body, kind, "v1.json")
    return f"```console\n{shown}\n{_curl(f'/v1/models/{name}:explain', 'v1.json', answer)}\n```\n\n{link}"


def client_output(url: str, kind: str = "fault-detection") -> list[str]:
    """What the client snippet prints for ``kind``'s v2 body: one line per output, as its ``print`` writes it."""
    from serving.fast import tensors_of

    model, _, _ = served(kind)
    _, answer = model.answer(tensors_of(v2_body(kind)), True, request_id="docs-2")
    return [f"{o['name']} {o['data']}" for o in answer["outputs"]]


def _client_block() -> str:
    _, _, name = served("fault-detection")
    code = CLIENT.format(url=f"http://{URL}", model=name)
    printed = "\n".join(client_output(URL))
    return f"```python\n{code}```\n\nprints\n\n```text\n{printed}\n```"


def _predict_block() -> str:
    """``shopfloor predict`` on three simulated parts, run through the command line's own entry point."""
    import contextlib
    import io

    import pandas as pd

    from shopfloor.data.simulate import simulate_gearbox
    from shopfloor_cli.main import main

    served("fault-detection")
    folder = _home() / "predict"
    folder.mkdir(exist_ok=True)
    parts = simulate_gearbox(rows=3, seed=4).drop(columns=["faulty"]).round(3)
    parts.insert(0, "part_id", ["P-1001", "P-1002", "P-1003"])
    parts.to_csv(folder / "parts.csv", index=False)
    args = ["predict", "--model-name", served("fault-detection")[2], "--data", str(folder / "parts.csv")]
    args += ["--out", str(folder / "scored.csv")]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = _in_scratch_store(lambda: main(args))
    if code:
        raise RuntimeError(f"shopfloor predict exited {code}: {printed.getvalue()}")
    scored = pd.read_csv(folder / "scored.csv")
    shown = scored[["part_id", *parts.columns[1:4], "class", "fault_probability"]]
    said = printed.getvalue().strip().replace(str(folder) + "/", "")
    rows = ["| " + " | ".join(f"`{c}`" for c in shown.columns) + " |", "|" + "---|" * shown.shape[1]]
    rows += ["| " + " | ".join(f"{v:.4g}" if isinstance(v, float) else str(v) for v in r) + " |" for r in shown.values]
    return (
        "```console\n$ shopfloor predict --model-name gearbox-fault-classifier --data parts.csv --out scored.csv\n"
        f"{said}\n```\n\n`scored.csv`, its first columns and the answers:\n\n" + "\n".join(rows)
    )


def on_page_markdown(markdown: str, page, config, files) -> str:
    def block(match: re.Match) -> str:
        what, explain = match.group(1), match.group(2)
        if what == "client":
            return _client_block()
        if what == "predict":
            return _predict_block()
        return _explain_block(what) if explain else _kind_block(what)

    return MARKER.sub(block, markdown)


def on_post_build(config) -> None:
    """The long request bodies, written where the page links them."""
    for path, text in BODIES.items():
        target = Path(config["site_dir"]) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text + "\n")
