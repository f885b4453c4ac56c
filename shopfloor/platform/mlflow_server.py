"""MLflow as a tracking server, on a PostgreSQL of its own, as the cluster runs it.

``server_args`` is the one source of the ``mlflow server`` flags: ``shopfloor mlflow-server`` runs them here
and ``manifests/`` (checked by a test) runs the same ones in the MLflow Deployment. ``Postgres`` keeps a
PostgreSQL cluster in a directory (``initdb`` once, ``pg_ctl`` on a free 127.0.0.1 port), run by a non-root
user as PostgreSQL requires; it needs Debian's ``postgresql`` package (``apt-get install postgresql``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from shopfloor.errors import ShopfloorError
from shopfloor.platform.mlflow_auth import APP_NAME
from shopfloor.platform.net import free_port, wait_http

PG_USER = "shopfloor"  # the database role Shopfloor's clusters are created with
PG_SYSTEM_USER = "postgres"  # the operating-system user that runs PostgreSQL when we are root


class ServerError(ShopfloorError):
    """A server that Shopfloor starts (PostgreSQL, MLflow) could not be started."""


def server_args(
    backend_store_uri: str, artifacts_destination: str, host: str = "127.0.0.1", port: int = 5000, auth: bool = False
) -> list[str]:
    """The arguments of ``mlflow server``: runs and registry in ``backend_store_uri``, artifacts proxied by
    the server (clients need no access to ``artifacts_destination``); with ``auth``, MLflow's basic-auth app
    (``shopfloor.platform.mlflow_auth``)."""
    args = [
        "--host",
        host,
        "--port",
        str(port),
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        artifacts_destination,
        "--serve-artifacts",
        "--allowed-hosts",
        "*",
    ]
    return [*args, "--app-name", APP_NAME] if auth else args


def postgres_bin() -> Path | None:
    """The directory of PostgreSQL's server programs (newest version), or None where none is installed."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[4]))
    if found:  # Debian's layout; its /usr/bin holds only wrappers
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and (Path(on_path).parent / "createdb").exists() else None


class Postgres:
    """A PostgreSQL cluster in ``data_dir`` on 127.0.0.1:``port`` (trust authentication, local only)."""

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        found = postgres_bin()
        if found is None:
            raise ServerError("postgres: PostgreSQL's server programs are not installed (apt-get install postgresql)")
        self.bin: Path = found
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self._as = _run_as()

    def uri(self, database: str) -> str:
        # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; the image ships psycopg2
        return f"postgresql+psycopg2://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, cwd="/")
        if check and done.returncode != 0:
            raise ServerError(f"postgres: {Path(args[0]).name} failed: {(done.stderr or done.stdout).strip()}")
        return done

    def start(self) -> Postgres:
        if not (self.data_dir / "PG_VERSION").exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._own(self.data_dir)
            self._run(
                str(self.bin / "initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                PG_USER,
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
        options = f"-p {self.port} -k {self.data_dir} -c listen_addresses=127.0.0.1"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.data_dir / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )
        return self

    def create_database(self, name: str) -> str:
        """Create ``name`` unless it exists; return its URI."""
        done = self._run(
            str(self.bin / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", PG_USER, name, check=False
        )
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise ServerError(f"postgres: createdb {name} failed: {done.stderr.strip()}")
        return self.uri(name)

    def stop(self, mode: str = "fast") -> None:
        """``fast`` ends sessions cleanly; ``immediate`` is a crash (used to test what survives one)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data_dir), "-m", mode, "-w", "stop", check=False)

    def _own(self, path: Path) -> None:
        if os.geteuid() == 0:
            user = pwd.getpwnam(PG_SYSTEM_USER)
            for parent in [path, *path.parents]:  # the server user must reach its directory
                if parent == Path("/"):
                    break
                mode = parent.stat().st_mode
                if not mode & 0o001:
                    parent.chmod(mode | 0o001)
            os.chown(path, user.pw_uid, user.pw_gid)


def _run_as() -> list[str]:
    """PostgreSQL refuses to run as root: as root, run its programs as the ``postgres`` system user."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        raise ServerError(
            f"postgres: running as root and there is no {PG_SYSTEM_USER!r} user to run the "
            "server as (apt-get install postgresql creates it)"
        ) from None
    return ["runuser", "-u", PG_SYSTEM_USER, "--"]


@contextlib.contextmanager
def mlflow_server(
    backend_store_uri: str,
    artifacts_destination: str,
    port: int | None = None,
    log: Path | None = None,
    timeout: float = 180.0,
    auth: dict[str, str] | None = None,
) -> Iterator[str]:
    """``mlflow server`` on 127.0.0.1 with ``server_args``; yields its URL and stops it afterwards. ``auth``:
    the basic-auth app's variables (``mlflow_auth.server_environment``), or None for an open server."""
    port = port or free_port()
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        *server_args(backend_store_uri, artifacts_destination, port=port, auth=auth is not None),
        "--workers",
        "1",
    ]
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    env = {**os.environ, **(auth or {})}
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_http(f"{url}/health", "mlflow server", timeout, proc)
        except (RuntimeError, TimeoutError) as exc:
            raise ServerError(f"{exc} (log: {log})") from None
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        if not isinstance(out, int):
            out.close()


@contextlib.contextmanager
def postgres_mlflow(root: Path, port: int | None = None) -> Iterator[tuple[str, Postgres]]:
    """A PostgreSQL cluster under ``root/postgres`` (databases ``mlflow`` and ``optuna``) and an MLflow server
    on it with artifacts under ``root/artifacts``; yields (server URL, the cluster)."""
    pg = Postgres(root / "postgres").start()
    try:
        backend = pg.create_database("mlflow")
        pg.create_database("optuna")
        with mlflow_server(backend, str(root / "artifacts"), port=port, log=root / "mlflow-server.log") as url:
            yield url, pg
    finally:
        pg.stop()
