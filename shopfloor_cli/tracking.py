"""``shopfloor mlflow-server``: MLflow as a tracking server, as the cluster runs it, on this machine.

With ``--postgres`` it keeps a PostgreSQL cluster of its own under ``$SHOPFLOOR_HOME/postgres`` (databases
``mlflow`` and ``optuna``); else it serves the given ``--backend-store-uri`` (default: the embedded SQLite
store). Artifacts are proxied by the server (``--serve-artifacts``). Point every command at it with
``MLFLOW_TRACKING_URI=http://127.0.0.1:PORT``.

With ``--auth`` the server asks every request for a user (MLflow's basic-auth app; users and grants under
``$SHOPFLOOR_HOME/mlflow-auth``), and ``shopfloor mlflow-user`` gives identities Shopfloor's roles.
"""

from __future__ import annotations

import argparse
import signal
import threading

from shopfloor.config import environment
from shopfloor.constants import EXPERIMENTS, PIPELINE_NAMES
from shopfloor.platform.mlflow_auth import ROLES


def cmd_mlflow_server(args: argparse.Namespace) -> int:
    from shopfloor import config
    from shopfloor.platform.mlflow_auth import server_environment
    from shopfloor.platform.mlflow_server import Postgres, mlflow_server

    home = config.home()
    auth = server_environment(home / "mlflow-auth") if args.auth else None  # refuses before anything starts
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
        with mlflow_server(backend, artifacts, port=args.port, log=home / "mlflow-server.log", auth=auth) as url:
            print(
                f"mlflow server: {url} (backend {backend}, artifacts {artifacts}"
                f"{', users required' if auth else ''}); export MLFLOW_TRACKING_URI={url}; Ctrl-C stops it",
                flush=True,
            )
            stop.wait()
    finally:
        if pg is not None:
            pg.stop()
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    srv = sub.add_parser("mlflow-server", help="MLflow tracking server (on PostgreSQL with --postgres)")
    srv.add_argument(
        "--postgres",
        action="store_true",
        help="keep runs and registry in a PostgreSQL of Shopfloor's own ($SHOPFLOOR_HOME/postgres; "
        "needs apt-get install postgresql)",
    )
    srv.add_argument("--backend-store-uri", help="runs and registry (default: the embedded SQLite store)")
    srv.add_argument("--artifacts-destination", help="where the server keeps artifacts")
    srv.add_argument("--port", type=int, default=5000, help="port of the MLflow server")
    srv.add_argument(
        "--auth",
        action="store_true",
        help="require a user on every request (MLflow's basic-auth app; admin password from "
        "SHOPFLOOR_MLFLOW_ADMIN_PASSWORD or the file named by SHOPFLOOR_MLFLOW_ADMIN_PASSWORD_FILE)",
    )
    srv.set_defaults(func=cmd_mlflow_server)

    user = sub.add_parser("mlflow-user", help="give an identity a role on a model of an MLflow server with --auth")
    user.add_argument("--username", required=True, help="the identity to create or grant")
    user.add_argument(
        "--role",
        required=True,
        choices=sorted(ROLES),
        help="pipeline: trains and registers the model; server: reads it to serve it",
    )
    user.add_argument("--model-name", required=True, help="the registered model the role is on")
    user.add_argument(
        "--pipeline",
        required=True,
        choices=PIPELINE_NAMES,
        help="the pipeline whose MLflow experiment holds the model's runs",
    )
    user.add_argument("--password-file", help="the new identity's password (default: SHOPFLOOR_MLFLOW_USER_PASSWORD)")
    user.set_defaults(func=cmd_mlflow_user)


def cmd_mlflow_user(args: argparse.Namespace) -> int:
    """Create the identity (unless it exists) and grant its role; the admin's password comes as for the server."""
    from pathlib import Path

    from shopfloor.errors import DataError
    from shopfloor.platform.mlflow_auth import ADMIN_USER, Identity, admin_password, grant_role
    from shopfloor.registry import check_reachable

    uri = check_reachable()
    if not uri.startswith(("http://", "https://")):
        raise DataError(
            "MLFLOW_TRACKING_URI",
            f"{uri} is not an MLflow server; users exist only on one started with shopfloor mlflow-server --auth",
        )
    try:
        password = (
            Path(args.password_file).read_text().strip() if args.password_file else environment().user_password or ""
        )
    except OSError as exc:
        raise DataError("password-file", f"cannot read {args.password_file}: {exc.strerror}") from None
    if not password:
        raise DataError(
            "password-file", "the new identity needs a password: --password-file or SHOPFLOOR_MLFLOW_USER_PASSWORD"
        )
    granted = grant_role(
        uri,
        Identity(ADMIN_USER, admin_password()),
        Identity(args.username, password),
        args.role,
        args.model_name,
        EXPERIMENTS[args.pipeline],
    )
    for resource, permission in granted.items():
        print(f"{args.username}: {permission} on {resource}")
    return 0
