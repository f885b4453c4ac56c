"""Alias history: every move of ``@champion`` or ``@challenger``, kept in the registry itself.

MLflow keeps only where an alias points now. Each move Shopfloor makes (a promotion, a retraining, a
rollback, a manual promotion) goes through ``move_alias``, which sets the alias and writes one tag on the
registered model: ``shopfloor.alias.000042`` holds the move as JSON (time, alias, from and to version, kind,
the run or command that moved it, who, why). Tags live in the tracking store, so the history works on SQLite
and on an MLflow server alike and survives restarts; callers hold the registry lock, so sequence numbers
never collide and no move is lost.
"""

from __future__ import annotations

import getpass
import json
from datetime import UTC, datetime
from typing import Any

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from shopfloor.constants import CHALLENGER, CHAMPION
from shopfloor.errors import DataError, RegistryError

PREFIX = "shopfloor.alias."
KINDS = ("promotion", "challenger", "retraining", "rollback", "manual")


def _who() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in a container without a passwd entry
        return "unknown"


def history(model_name: str, client: MlflowClient | None = None) -> list[dict[str, Any]]:
    """Every recorded alias move of ``model_name``, oldest first (empty for a model without one)."""
    client = client or MlflowClient()
    try:
        tags = client.get_registered_model(model_name).tags or {}
    except MlflowException as exc:
        raise RegistryError(f"model {model_name!r} is not registered") from exc
    moves = [json.loads(v) | {"seq": int(k[len(PREFIX) :])} for k, v in tags.items() if k.startswith(PREFIX)]
    return sorted(moves, key=lambda m: m["seq"])


def move_alias(
    model_name: str,
    alias: str,
    version: str | int,
    *,
    kind: str,
    reason: str,
    run_id: str = "",
    command: str = "",
    client: MlflowClient | None = None,
) -> dict[str, Any]:
    """Point ``model_name@alias`` at ``version`` and record the move; call with the registry lock held."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    client = client or MlflowClient()
    model = client.get_registered_model(model_name)
    before = (model.aliases or {}).get(alias)
    seq = max((int(k[len(PREFIX) :]) for k in (model.tags or {}) if k.startswith(PREFIX)), default=0) + 1
    move = {
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "alias": alias,
        "from": None if before is None else str(before),
        "to": str(version),
        "kind": kind,
        "reason": reason,
        "run_id": run_id,
        "command": command,
        "user": _who(),
    }
    client.set_registered_model_alias(model_name, alias, str(version))
    client.set_registered_model_tag(model_name, f"{PREFIX}{seq:06d}", json.dumps(move))
    return move | {"seq": seq}


def rollback_target(model_name: str, to: str | int | None, client: MlflowClient | None = None) -> tuple[str, str]:
    """(current champion, the version to go back to): ``to`` if given, else the version that held
    ``@champion`` before the current one took it. ``DataError`` naming why when there is none."""
    client = client or MlflowClient()
    try:
        current = str(client.get_registered_model(model_name).aliases.get(CHAMPION) or "")
    except MlflowException as exc:
        raise DataError("model-name", f"model {model_name!r} is not registered") from exc
    if not current:
        raise DataError("model-name", f"{model_name} has no champion to roll back")
    if to is not None:
        to = str(to)
        try:
            client.get_model_version(model_name, to)
        except MlflowException:
            raise DataError("to", f"{model_name} has no version {to}") from None
        if to == current:
            raise DataError("to", f"version {to} already holds @champion")
        return current, to
    for move in reversed(history(model_name, client)):
        if move["alias"] == CHAMPION and move["to"] == current:
            if move["from"] is None:
                break
            return current, move["from"]
    raise DataError(
        "model-name",
        f"no earlier champion of {model_name} on record (version {current} was the first); name one with --to VERSION",
    )


def rollback(
    model_name: str, to: str | int | None = None, reason: str = "", command: str = "shopfloor rollback"
) -> dict[str, Any]:
    """Move ``@champion`` back (see ``rollback_target``) through the registry lock, recorded."""
    from shopfloor.registry.lock import registry_lock

    with registry_lock(model_name):
        current, target = rollback_target(model_name, to)  # read under the lock: a racing move is seen
        return move_alias(
            model_name,
            CHAMPION,
            target,
            kind="rollback",
            command=command,
            reason=reason or f"rolled back from version {current}",
        )


def promote_challenger(model_name: str, reason: str = "", command: str = "shopfloor promote") -> dict[str, Any]:
    """End a trial: ``@challenger``'s version takes ``@champion`` (recorded), and ``@challenger`` is removed."""
    from shopfloor.registry.lock import registry_lock

    client = MlflowClient()
    with registry_lock(model_name):
        try:
            aliases = client.get_registered_model(model_name).aliases or {}
        except MlflowException as exc:
            raise DataError("model-name", f"model {model_name!r} is not registered") from exc
        challenger = aliases.get(CHALLENGER)
        if challenger is None:
            raise DataError("model-name", f"{model_name} has no @challenger to promote")
        if str(challenger) == str(aliases.get(CHAMPION)):
            raise DataError("model-name", f"version {challenger} already holds @champion")
        move = move_alias(
            model_name,
            CHAMPION,
            challenger,
            kind="manual",
            command=command,
            reason=reason or f"challenger version {challenger} promoted after its trial",
        )
        client.delete_registered_model_alias(model_name, CHALLENGER)
        return move
