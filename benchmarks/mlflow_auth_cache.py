"""What MLflow's basic-auth app costs per request, with and without its credential cache: the figure behind
``shopfloor.platform.mlflow_auth.AUTH_CACHE_SECONDS``. One server each way (SQLite store, one worker), the same
authenticated ``search_experiments`` request 20 times after a warm-up; same run.

    .venv/bin/python benchmarks/mlflow_auth_cache.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from common import save  # noqa: E402

from shopfloor.platform import mlflow_auth as auth  # noqa: E402
from shopfloor.platform.mlflow_server import mlflow_server  # noqa: E402

ADMIN = auth.Identity(auth.ADMIN_USER, "benchmark-admin-password")
REQUESTS = 20


def per_request_ms(cache_seconds: int) -> float:
    from mlflow import MlflowClient

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        env = auth.server_environment(root / "auth", environ={auth.PASSWORD_ENV: ADMIN.password})
        config = Path(env["MLFLOW_AUTH_CONFIG_PATH"])
        config.write_text(
            config.read_text().replace(
                f"auth_cache_ttl_seconds = {auth.AUTH_CACHE_SECONDS}", f"auth_cache_ttl_seconds = {cache_seconds}"
            )
        )
        with (
            mlflow_server(f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"), auth=env) as url,
            auth._credentials(ADMIN),
        ):
            client = MlflowClient(url)
            client.search_experiments()
            started = time.perf_counter()
            for _ in range(REQUESTS):
                client.search_experiments()
            return (time.perf_counter() - started) / REQUESTS * 1000


def main() -> None:
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uncached = per_request_ms(0)
    cached = per_request_ms(auth.AUTH_CACHE_SECONDS)
    save(
        "mlflow_auth_cache",
        {
            "command": "benchmarks/mlflow_auth_cache.py",
            "requests": REQUESTS,
            "ms_per_request_no_cache": round(uncached, 1),
            f"ms_per_request_cache_{auth.AUTH_CACHE_SECONDS}s": round(cached, 1),
            "ratio": round(uncached / cached, 1),
        },
    )


if __name__ == "__main__":
    main()
