"""Why an MLflow server refused a request, in words naming the identity: read by the registry, its lock and the
permission set-up, so it imports nothing of Shopfloor (they import it; nothing it imports imports them)."""

from __future__ import annotations

import os


def refused(exc: Exception) -> str | None:
    """Why the server refused the request behind ``exc`` (an MLflow error), naming the identity, or None when
    it was not a refusal."""
    code = getattr(exc, "error_code", "")
    user = os.environ.get("MLFLOW_TRACKING_USERNAME")
    if code == "PERMISSION_DENIED":
        return f"permission denied to MLFLOW_TRACKING_USERNAME {user or 'anonymous'!r}"
    if code == "UNAUTHENTICATED":
        if user:
            return (
                f"the MLflow server did not accept MLFLOW_TRACKING_USERNAME {user!r} with its "
                "MLFLOW_TRACKING_PASSWORD (wrong password or unknown user)"
            )
        return "the MLflow server requires a user: set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD"
    return None
