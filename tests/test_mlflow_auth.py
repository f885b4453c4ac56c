"""Who may write the registry: a real MLflow server with its basic-auth app (``shopfloor mlflow-server --auth``),
identities with Shopfloor's roles, and the errors each refusal gives."""

from __future__ import annotations

import os
import time

import pytest
from helpers.cli import run_cli
from helpers.serving_fixtures import register_gearbox_model
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from serving.model import RegistryModel
from shopfloor.errors import RegistryError
from shopfloor.platform import mlflow_auth as auth
from shopfloor.platform.mlflow_server import mlflow_server
from shopfloor.registry import champion_version, prepare_registry, use_tracking

ADMIN = auth.Identity(auth.ADMIN_USER, "admin-password-for-tests")
TRAINER = auth.Identity("line-3-training", "trainer-password-1")
READER = auth.Identity("line-3-server", "server-password-1")
STRANGER = auth.Identity("other-line-server", "stranger-password-1")
MODEL, EXPERIMENT = "gearbox-auth", "serving-tests"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("auth-mlflow")
    env = auth.server_environment(root / "auth", environ={auth.PASSWORD_ENV: ADMIN.password})
    with mlflow_server(
        f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"), log=root / "server.log", auth=env
    ) as url:
        auth.grant_role(url, ADMIN, TRAINER, "pipeline", MODEL, EXPERIMENT)
        auth.grant_role(url, ADMIN, READER, "server", MODEL, EXPERIMENT)
        auth.grant_role(url, ADMIN, STRANGER, "server", "another-model", EXPERIMENT)
        yield url


@pytest.fixture
def as_identity(monkeypatch):
    """Act as an identity (or anonymously with None) for the rest of the test."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    def use(identity: auth.Identity | None) -> None:
        for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            monkeypatch.delenv(name, raising=False)
        for name, value in (identity.environ() if identity else {}).items():
            monkeypatch.setenv(name, value)

    return use


def _versions(url: str) -> list[int]:
    with auth._credentials(ADMIN):
        return sorted(int(v.version) for v in MlflowClient(url).search_model_versions(f"name='{MODEL}'"))


def test_pipeline_writes_server_reads_and_nobody_else_gets_in(server, tmp_path, as_identity):
    as_identity(TRAINER)
    first, _, rows = register_gearbox_model(tmp_path, 0.6, tracking_uri=server, name=MODEL)
    assert (first.version, first.alias) == (1, "champion")
    prepare_registry_as(server)  # the pipeline identity passes the write check

    as_identity(READER)  # the model server's identity: reads and loads the champion, files included
    served = RegistryModel(MODEL, tracking_uri=server, poll_seconds=0)
    assert served.load() and served.current.version == "1"
    assert served.current.model.predict(None, rows.head(3)) is not None
    started = time.monotonic()
    with pytest.raises(RegistryError, match=f"permission denied to MLFLOW_TRACKING_USERNAME '{READER.username}'"):
        prepare_registry_as(server)  # a run under a read-only identity stops before training
    assert time.monotonic() - started < 10
    with pytest.raises(RegistryError, match="nothing was registered: permission denied"):
        register_gearbox_model(tmp_path / "reader", 0.9, tracking_uri=server, name=MODEL)
    with pytest.raises(MlflowException) as denied:
        MlflowClient(server).set_registered_model_alias(MODEL, "champion", "1")
    assert denied.value.error_code == "PERMISSION_DENIED"
    assert _versions(server) == [1]

    as_identity(STRANGER)  # a server identity of another model
    started = time.monotonic()
    with pytest.raises(RegistryError, match=f"permission denied.*'{STRANGER.username}'.*{MODEL}@champion"):
        RegistryModel(MODEL, tracking_uri=server, poll_seconds=0).load()
    assert time.monotonic() - started < 10

    as_identity(None)
    with pytest.raises(RegistryError, match="requires a user: set MLFLOW_TRACKING_USERNAME"):
        champion_version_at(server)
    as_identity(auth.Identity(TRAINER.username, "not-the-password"))
    with pytest.raises(RegistryError, match=f"did not accept MLFLOW_TRACKING_USERNAME '{TRAINER.username}'"):
        champion_version_at(server)


def test_a_server_identity_follows_the_champion_the_pipeline_moves(server, tmp_path, as_identity):
    """Hot reload with authentication on: the pipeline's identity registers a better version; the server's
    read-only identity sees the alias move at its next check and swaps."""
    as_identity(READER)
    served = RegistryModel(MODEL, tracking_uri=server, poll_seconds=0)
    served.load()
    before = served.current.version
    as_identity(TRAINER)
    better, _, _ = register_gearbox_model(tmp_path, 0.99, tracking_uri=server, name=MODEL, seed=1)
    assert better.alias == "champion"
    as_identity(READER)
    use_tracking(server)  # the registering helper resets the process's tracking URI; a server never does
    assert served.refresh() and served.current.version == str(better.version) != before


def prepare_registry_as(url: str) -> None:
    os.environ["MLFLOW_TRACKING_URI"] = url
    try:
        prepare_registry(MODEL)
    finally:
        del os.environ["MLFLOW_TRACKING_URI"]


def champion_version_at(url: str):
    use_tracking(url)
    return champion_version(MODEL)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, auth.PASSWORD_ENV),
        ({auth.PASSWORD_ENV: auth.MLFLOW_OLD_DEFAULT}, "old published default"),
        ({auth.PASSWORD_ENV: "short"}, "at least 12 characters"),
        ({auth.PASSWORD_FILE_ENV: "/nonexistent/admin-password"}, auth.PASSWORD_FILE_ENV),
    ],
)
def test_a_missing_or_weak_admin_password_is_refused(environ, named):
    with pytest.raises(auth.AuthError, match=named):
        auth.admin_password(environ)


def test_the_password_comes_from_a_mounted_secret_file(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("from-a-kubernetes-secret\n")
    assert auth.admin_password({auth.PASSWORD_FILE_ENV: str(secret)}) == "from-a-kubernetes-secret"


def test_mlflow_server_auth_without_a_password_starts_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv(auth.PASSWORD_ENV, raising=False)
    monkeypatch.delenv(auth.PASSWORD_FILE_ENV, raising=False)
    started = time.monotonic()
    code, _, err = run_cli(
        "mlflow-server", "--auth", "--port", "1", home=tmp_path, capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 2 and auth.PASSWORD_ENV in err and time.monotonic() - started < 5
    assert not (tmp_path / "mlflow-auth").exists()
