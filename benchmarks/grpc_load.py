"""A gRPC load generator for KServe's Open Inference Protocol endpoint: ``concurrency`` coroutines send one-row
ModelInfer calls for ``seconds``; prints one JSON line (requests/s, p50/p99 ms, this process's CPU share)."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import time

import grpc
from kserve.protocol.grpc import grpc_predict_v2_pb2 as pb
from kserve.protocol.grpc import grpc_predict_v2_pb2_grpc as pb_grpc


async def main(args: argparse.Namespace) -> dict:
    if args.tensor:  # {"name", "datatype": "FP32", "FP64" or "BYTES" (base64 text), "shape", "data"}
        spec = json.loads(args.tensor)
        field = {"FP32": "fp32_contents", "BYTES": "bytes_contents"}.get(spec["datatype"], "fp64_contents")
        data = [base64.b64decode(d) for d in spec["data"]] if spec["datatype"] == "BYTES" else spec["data"]
        tensor = pb.ModelInferRequest.InferInputTensor(
            name=spec["name"],
            datatype=spec["datatype"],
            shape=spec["shape"],
            contents=pb.InferTensorContents(**{field: data}),
        )
    else:
        row = json.loads(args.row)
        tensor = pb.ModelInferRequest.InferInputTensor(
            name="rows", datatype="FP64", shape=[1, len(row)], contents=pb.InferTensorContents(fp64_contents=row)
        )
    request = pb.ModelInferRequest(model_name=args.model, inputs=[tensor])
    latencies: list[float] = []
    errors = 0
    async with grpc.aio.insecure_channel(f"127.0.0.1:{args.port}") as channel:
        stub = pb_grpc.GRPCInferenceServiceStub(channel)
        await stub.ModelInfer(request)  # warm up
        deadline = time.perf_counter() + args.seconds
        cpu = os.times()

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                try:
                    await stub.ModelInfer(request)
                    latencies.append(time.perf_counter() - started)
                except grpc.aio.AioRpcError:
                    errors += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(args.concurrency)))
        wall = time.perf_counter() - started
        used = os.times()
    latencies.sort()
    n = len(latencies)
    return {
        "rps": n / wall,
        "p50_ms": 1e3 * latencies[n // 2] if n else None,
        "p99_ms": 1e3 * latencies[int(0.99 * (n - 1))] if n else None,
        "errors": errors,
        "concurrency": args.concurrency,
        "generator_cpu_percent": 100 * ((used.user - cpu.user) + (used.system - cpu.system)) / wall,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    inputs = parser.add_mutually_exclusive_group(required=True)
    inputs.add_argument("--row", help="one tabular row: a JSON list of numbers")
    inputs.add_argument("--tensor", help="one v2 input tensor: JSON with name, datatype, shape, data")
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
