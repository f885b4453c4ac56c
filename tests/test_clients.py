"""The clients users already have get answers: KServe's own ``InferenceGRPCClient`` and Triton's ``tritonclient``
(gRPC and HTTP), with binary tensors (their default: gRPC ``raw_input_contents``, REST's binary extension) and with
JSON tensors, against ``shopfloor serve`` with its gRPC port; each answer comes in the form its request used and
equals the pyfunc's."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from helpers.serving_fixtures import MODEL, register_gearbox_model, rows_as_lists

from loadtest.run import local_server
from shopfloor.platform.net import free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("clients")
    _, model, rows = register_gearbox_model(home, f2=0.5)
    grpc_port = free_port()
    env = {"SHOPFLOOR_HOME": str(home), "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}"}
    x = np.array(rows_as_lists(rows.head(7)), dtype=np.float32)
    sent = rows.head(7).copy()
    sent[:] = x.astype(np.float64)  # what the server receives: the rows as FP32 tensors
    expected = model.predict(None, sent)
    with local_server(
        MODEL, extra=["--poll-seconds", "0", "--grpc-port", str(grpc_port)], env=env, log=home / "serve.log"
    ) as url:
        yield url, f"127.0.0.1:{grpc_port}", x, expected


def check(outputs: dict[str, np.ndarray], expected) -> None:
    assert outputs["class"].ravel().tolist() == expected["class"].tolist()
    assert np.allclose(outputs["fault_probability"].ravel(), expected["fault_probability"], rtol=1e-6)


@pytest.mark.parametrize("binary", [True, False], ids=["binary tensors", "JSON tensors"])
def test_kserve_grpc_client(served, binary):
    from kserve import InferenceGRPCClient, InferInput, InferRequest

    _, grpc_url, x, expected = served
    tensor = InferInput("rows", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary)

    async def ask():
        client = InferenceGRPCClient(grpc_url)
        try:
            return await client.infer(InferRequest(model_name=MODEL, infer_inputs=[tensor], request_id="r1"))
        finally:
            await client.close()

    response = asyncio.run(ask())
    check({o.name: o.as_numpy() for o in response.outputs}, expected)


TRITON_GRPC = """
import json, sys
import numpy as np
import tritonclient.grpc as triton
url, model, values, shape = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), json.loads(sys.argv[4])
client = triton.InferenceServerClient(url)
tensor = triton.InferInput("rows", shape, "FP32")
tensor.set_data_from_numpy(np.array(values, dtype=np.float32).reshape(shape))
response = client.infer(model, [tensor])
print(json.dumps({name: response.as_numpy(name).ravel().tolist() for name in ("class", "fault_probability")}))
"""


def test_triton_grpc_client(served):
    """Triton's gRPC client sends raw tensor contents and reads raw outputs only (as a Triton server answers). It
    runs in a process of its own: its protobuf module and KServe's define the same symbols."""
    import json
    import subprocess
    import sys

    _, grpc_url, x, expected = served
    result = subprocess.run(
        [sys.executable, "-c", TRITON_GRPC, grpc_url, MODEL, json.dumps(x.ravel().tolist()), json.dumps(list(x.shape))],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    check({k: np.array(v) for k, v in answer.items()}, expected)


@pytest.mark.parametrize("binary", [True, False], ids=["binary tensors", "JSON tensors"])
def test_triton_http_client(served, binary):
    import tritonclient.http as triton

    url, _, x, expected = served
    client = triton.InferenceServerClient(url.removeprefix("http://"))
    tensor = triton.InferInput("rows", list(x.shape), "FP32")
    tensor.set_data_from_numpy(x, binary_data=binary)
    outputs = [triton.InferRequestedOutput(name, binary_data=binary) for name in ("class", "fault_probability")]
    response = client.infer(MODEL, [tensor], outputs=outputs)
    check({name: response.as_numpy(name) for name in ("class", "fault_probability")}, expected)
