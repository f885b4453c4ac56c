"""A lock per registered model, kept in the registry itself, so that it holds across processes, machines
and pods against SQLite and the MLflow server alike.

The lock is a registered model named ``<model>.lock``: creating a registered model is atomic in every
MLflow store (a unique key), so exactly one writer's create succeeds and the others see
``RESOURCE_ALREADY_EXISTS``. Its tags name the holder (host, process id, a token) and when it was taken.
A writer killed while holding it cannot release it, so a waiter breaks a lock whose holder is a dead
process on the same host at once, and any lock older than ``LEASE`` seconds (registrations hold it for
seconds). Release deletes it only when the token is still ours.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterator

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from shopfloor.errors import RegistryError
from shopfloor.platform.processes import alive
from shopfloor.platform.refusal import refused

log = logging.getLogger(__name__)
LEASE = 120.0  # seconds after which a lock is taken to be abandoned
WAIT = 300.0  # seconds a writer waits for the lock before giving up
SUFFIX = ".lock"


def lock_name(model_name: str) -> str:
    return f"{model_name}{SUFFIX}"


def _abandoned(tags: dict[str, str], now: float, lease: float) -> str | None:
    """Why the lock with ``tags`` may be broken, or None while its holder may still be working."""
    since = float(tags.get("since", "0") or 0)
    if now - since > lease:
        return f"held for {now - since:.0f} s (lease {lease:g} s)"
    host, _, pid = tags.get("holder", "").partition(":")
    pid = pid.split(":")[0]
    if host == socket.gethostname() and pid.isdigit() and not alive(int(pid)):
        return f"its holder, process {pid} on this host, is gone"
    return None


def _try_create(client: MlflowClient, name: str, tags: dict[str, str], model_name: str) -> bool:
    try:
        client.create_registered_model(
            name,
            tags=tags,
            description=(
                f"Shopfloor's registration lock for {model_name}: held while a version is registered and its "
                "alias decided. Safe to delete when the process named in its tags is gone."
            ),
        )
        return True
    except MlflowException as exc:
        if exc.error_code == "RESOURCE_ALREADY_EXISTS" or "already exists" in str(exc).lower():
            return False
        if "database is locked" in str(exc).lower():  # SQLite under concurrent writers: try again
            return False
        if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
            # MLflow found the name taken, then read it to say so and found it gone: the holder released the
            # lock in between. Contended, not broken: try again.
            return False
        raise


@contextlib.contextmanager
def registry_lock(model_name: str, wait: float = WAIT, lease: float = LEASE, poll: float = 0.2) -> Iterator[str]:
    """Hold ``model_name``'s registration lock for the ``with`` block; ``RegistryError`` after ``wait`` s."""
    client = MlflowClient()
    name = lock_name(model_name)
    token = uuid.uuid4().hex
    tags = {"holder": f"{socket.gethostname()}:{os.getpid()}:{token}", "since": f"{time.time():.3f}"}
    deadline = time.monotonic() + wait
    while not _try_create(client, name, tags, model_name):
        try:
            held = client.get_registered_model(name).tags or {}
        except MlflowException as exc:
            if refused(exc):  # another identity's lock that we may not even read: waiting would never end
                raise RegistryError(f"model {model_name!r}: the registry lock {name!r}: {refused(exc)}") from None
            continue  # released between our create and our look: try again at once
        why = _abandoned(held, time.time(), lease)
        if why is not None:
            # Look again right before deleting: another waiter may have broken it and taken it anew.
            with contextlib.suppress(MlflowException):
                if (client.get_registered_model(name).tags or {}).get("holder") == held.get("holder"):
                    client.delete_registered_model(name)
                    log.warning("broke the registry lock %s: %s", name, why)
            continue
        if time.monotonic() > deadline:
            raise RegistryError(
                f"model {model_name!r}: the registry lock {name!r} is held by {held.get('holder')} "
                f"and was not released within {wait:g} s"
            )
        time.sleep(poll)
    tags_token = tags["holder"]
    try:
        yield token
    finally:
        try:
            if (client.get_registered_model(name).tags or {}).get("holder") == tags_token:
                client.delete_registered_model(name)
        except MlflowException:
            log.warning("could not release the registry lock %s; it expires after %g s", name, lease)
