"""How every Shopfloor container runs, in one place: non-root, read-only root filesystem, no capabilities,
no privilege escalation, the runtime's default seccomp profile, and only two writable paths.

The Kubernetes manifests (InferenceServices generated from here, the MLflow and PostgreSQL workloads checked
against ``security_context`` by a test), ``docker run`` of the image and ``kfp.local``'s DockerRunner all use
these settings, so what runs on a laptop is what runs on the cluster.
"""

from __future__ import annotations

from typing import Any

USER = 10001  # the image's ``shopfloor`` user and group
WRITABLE = ("/tmp", "/var/lib/shopfloor")  # emptyDir volumes on Kubernetes, tmpfs under docker
#: Docker mounts a tmpfs owned by root, mode 755, except /tmp: without these the user could not write
#: /var/lib/shopfloor (Kubernetes does the same with the pod's fsGroup).
TMPFS_OPTIONS = f"uid={USER},gid={USER}"


def security_context() -> dict[str, Any]:
    """A container's ``securityContext`` (Kubernetes)."""
    return {
        "runAsNonRoot": True,
        "runAsUser": USER,
        "runAsGroup": USER,
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }


def scratch_volumes() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(pod ``volumes``, container ``volumeMounts``) for the writable paths."""
    names = [path.strip("/").replace("/", "-") for path in WRITABLE]
    return (
        [{"name": name, "emptyDir": {}} for name in names],
        [{"name": name, "mountPath": path} for name, path in zip(names, WRITABLE, strict=True)],
    )


def docker_run_args() -> dict[str, Any]:
    """The same settings as arguments of the docker SDK's ``containers.run`` (kfp.local's DockerRunner).
    Docker applies its default seccomp profile unless told otherwise."""
    return {
        "user": f"{USER}:{USER}",
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "tmpfs": {path: TMPFS_OPTIONS for path in WRITABLE},
    }


def docker_run_flags() -> list[str]:
    """The same settings as ``docker run`` flags."""
    flags = ["--user", f"{USER}:{USER}", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
    for path in WRITABLE:
        flags += ["--tmpfs", f"{path}:{TMPFS_OPTIONS}"]
    return flags
