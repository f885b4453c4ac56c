"""Who may write the registry: MLflow's basic-auth app with Shopfloor's roles.

Loading a registered model runs its pickled code in every model server and pipeline step, so write access to a
model is deploy access to production. With ``shopfloor mlflow-server --auth`` the MLflow server asks every
request for a user and password and checks it against per-experiment and per-model grants. Nobody has any grant
unless given one (``default_permission = NO_PERMISSIONS``). Shopfloor's roles:

* ``pipeline`` (a training or retraining identity): EDIT on its experiment, MANAGE on its model and on the
  model's registry lock. MANAGE rather than EDIT because a registration that fails deletes the version it made
  (nothing half registered), and MLflow counts deleting a version or its tag as MANAGE.
* ``server`` (a model server): READ on the model and on the experiment that holds its files. It cannot register
  a version or move an alias.
* people: whatever the operator grants with MLflow's own tools; the admin can do everything.

Clients pass their identity in MLflow's own variables, ``MLFLOW_TRACKING_USERNAME`` and
``MLFLOW_TRACKING_PASSWORD`` (on the cluster, from Secrets by reference).
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from shopfloor.config import ADMIN_PASSWORD_ENV, ADMIN_PASSWORD_FILE_ENV, environment
from shopfloor.errors import ShopfloorError
from shopfloor.platform.refusal import refused

ADMIN_USER = "admin"
PASSWORD_ENV, PASSWORD_FILE_ENV = ADMIN_PASSWORD_ENV, ADMIN_PASSWORD_FILE_ENV
#: The admin password MLflow shipped for years; anything that still uses it is open to anyone who read its docs.
MLFLOW_OLD_DEFAULT = "password1234"
MIN_PASSWORD = 12
APP_NAME = "basic-auth"

#: Kubernetes Secrets (keys ``username``, ``password``) holding the identity of the model servers and of the
#: pipeline steps; referenced, never copied, and optional, so that a cluster without ``--auth`` runs unchanged.
SERVER_IDENTITY = "shopfloor-model-server-mlflow"
PIPELINE_IDENTITY = "shopfloor-pipeline-mlflow"

ROLES: dict[str, dict[str, str]] = {
    "pipeline": {"experiment": "EDIT", "registered_model": "MANAGE", "lock": "MANAGE"},
    "server": {"experiment": "READ", "registered_model": "READ"},
}


class AuthError(ShopfloorError):
    """The registry refused an identity, or registry authentication is misconfigured."""


def admin_password(environ: dict[str, str] | None = None) -> str:
    """The admin password from ``SHOPFLOOR_MLFLOW_ADMIN_PASSWORD`` or the file named by
    ``SHOPFLOOR_MLFLOW_ADMIN_PASSWORD_FILE`` (a mounted Secret). Never a default: a missing, short or
    well-known password is refused, naming the variable."""
    if environ is None:
        settings = environment()
        named_file, named = settings.admin_password_file, settings.admin_password
    else:
        named_file, named = environ.get(PASSWORD_FILE_ENV), environ.get(PASSWORD_ENV)
    if named_file:
        path = Path(named_file)
        try:
            password = path.read_text().strip()
        except OSError as exc:
            raise AuthError(f"{PASSWORD_FILE_ENV}: cannot read {path}: {exc.strerror}") from None
        source = f"{PASSWORD_FILE_ENV} ({path})"
    elif named:
        password, source = named, PASSWORD_ENV
    else:
        raise AuthError(
            f"--auth needs the admin password: set {PASSWORD_ENV}, or {PASSWORD_FILE_ENV} to a file "
            "holding it; there is no default"
        )
    if password == MLFLOW_OLD_DEFAULT:
        raise AuthError(f"{source}: {MLFLOW_OLD_DEFAULT!r} is MLflow's old published default password; choose another")
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"{source}: the admin password must have at least {MIN_PASSWORD} characters")
    return password


#: Seconds a checked password stays accepted by one server worker. MLflow hashes passwords with PBKDF2, which
#: made every request to the server cost 403 ms against 33 ms with this cache (2 cores,
#: benchmarks/mlflow_auth_cache.py; a registration makes
#: dozens of requests, a model server checks its alias every 10 s). The price: a password changed or a user
#: removed through another worker is still accepted there for up to this long.
AUTH_CACHE_SECONDS = 30


def config_text(database_uri: str) -> str:
    """MLflow's basic-auth configuration: users and grants in ``database_uri``, no access without a grant."""
    return (
        "[mlflow]\n"
        "default_permission = NO_PERMISSIONS\n"
        f"database_uri = {database_uri}\n"
        f"admin_username = {ADMIN_USER}\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        f"auth_cache_ttl_seconds = {AUTH_CACHE_SECONDS}\n"
    )


def server_environment(
    directory: Path, database_uri: str | None = None, environ: dict[str, str] | None = None
) -> dict[str, str]:
    """The variables ``mlflow server --app-name basic-auth`` needs: its configuration (written to
    ``directory``), the admin password, and a Flask secret kept in ``directory`` (mode 600) so that it
    survives restarts."""
    password = admin_password(environ)
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "basic_auth.ini"
    config.write_text(config_text(database_uri or f"sqlite:///{directory / 'basic_auth.db'}"))
    key_file = directory / "flask_secret_key"
    if not key_file.exists():
        key_file.touch(mode=0o600)
        key_file.write_text(secrets.token_hex(32))
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        "MLFLOW_AUTH_ADMIN_PASSWORD": password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": key_file.read_text().strip(),
    }


@dataclass(frozen=True)
class Identity:
    username: str
    password: str

    def environ(self) -> dict[str, str]:
        """The variables MLflow's client reads its credentials from."""
        return {"MLFLOW_TRACKING_USERNAME": self.username, "MLFLOW_TRACKING_PASSWORD": self.password}


def credentials_env(secret: str) -> list[dict]:
    """Container ``env`` entries that give MLflow's client the identity in the Kubernetes Secret ``secret``."""
    return [
        {"name": variable, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": True}}}
        for key, variable in (("username", "MLFLOW_TRACKING_USERNAME"), ("password", "MLFLOW_TRACKING_PASSWORD"))
    ]


def grant_role(
    tracking_uri: str, admin: Identity, user: Identity, role: str, model_name: str, experiment: str
) -> dict[str, str]:
    """Create ``user`` (unless it exists) and give it ``role`` on ``model_name`` and ``experiment`` (the
    experiment is created if absent, so that it has an id to grant on). Returns what was granted."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.server.auth.client import AuthServiceClient

    from shopfloor.registry.lock import lock_name

    if role not in ROLES:
        raise AuthError(f"role: {role!r} is not one of {', '.join(ROLES)}")
    with _credentials(admin):
        auth = AuthServiceClient(tracking_uri)
        try:
            try:
                auth.create_user(user.username, user.password)
            except MlflowException as exc:
                if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                    raise
            client = MlflowClient(tracking_uri)
            found = client.get_experiment_by_name(experiment)
            experiment_id = found.experiment_id if found else client.create_experiment(experiment)
            resources = {
                "experiment": ("experiment", experiment_id),
                "registered_model": ("registered_model", model_name),
                "lock": ("registered_model", lock_name(model_name)),
            }
            granted = {}
            for what, permission in ROLES[role].items():
                kind, resource = resources[what]
                auth.grant_user_permission(user.username, kind, resource, permission)
                granted[f"{kind} {resource}"] = permission
        except MlflowException as exc:
            raise AuthError(
                f"granting {role} on {model_name!r} to {user.username!r} as {admin.username!r}: "
                f"{refused(exc) or exc.message}"
            ) from None
    return granted


@contextlib.contextmanager
def _credentials(identity: Identity) -> Iterator[None]:
    """Use ``identity`` for MLflow's client within the block, restoring the caller's own afterwards."""
    saved = {name: os.environ.get(name) for name in identity.environ()}
    os.environ.update(identity.environ())
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
