"""``shopfloor mlflow-server``: MLflow as a tracking server, as the cluster runs it, on this machine.

With ``--postgres`` it keeps a PostgreSQL cluster of its own under ``$SHOPFLOOR_HOME/postgres`` (databases
``mlflow`` and ``optuna``); else it serves the given ``--backend-store-uri`` (default: the embedded SQLite
store). Artifacts are proxied by the server (``--serve-artifacts``). Point every command at it with
``MLFLOW_TRACKING_URI=http://127.0.0.1:PORT``.
"""

from __future__ import annotations

import argparse
import signal
import threading


def cmd_mlflow_server(args: argparse.Namespace) -> int:
    from shopfloor import config
    from shopfloor.platform.mlflow_server import Postgres, mlflow_server

    home = config.home()
    artifacts = args.artifacts_destination or str(home / "mlflow-server-artifacts")
    pg = None
    if args.postgres:
        pg = Postgres(home / "postgres").start()
        backend = pg.create_database("mlflow")
        print(f"postgres: {pg.uri('mlflow')} (Optuna: --optuna-storage {pg.create_database('optuna')})", flush=True)
    else:
        backend = args.backend_store_uri or config.tracking_uri()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        with mlflow_server(backend, artifacts, port=args.port, log=home / "mlflow-server.log") as url:
            print(f"mlflow server: {url} (backend {backend}, artifacts {artifacts}); "
                  f"export MLFLOW_TRACKING_URI={url}; Ctrl-C stops it", flush=True)
            stop.wait()
    finally:
        if pg is not None:
            pg.stop()
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    srv = sub.add_parser("mlflow-server", help="MLflow tracking server (on PostgreSQL with --postgres)")
    srv.add_argument("--postgres", action="store_true",
                     help="keep runs and registry in a PostgreSQL of Shopfloor's own ($SHOPFLOOR_HOME/postgres; "
                          "needs apt-get install postgresql)")
    srv.add_argument("--backend-store-uri", help="runs and registry (default: the embedded SQLite store)")
    srv.add_argument("--artifacts-destination", help="where the server keeps artifacts")
    srv.add_argument("--port", type=int, default=5000)
    srv.set_defaults(func=cmd_mlflow_server)
