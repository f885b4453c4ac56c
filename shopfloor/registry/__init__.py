"""MLflow tracking and registry: where it is (``tracking``), what it holds for a model (``champions``), and the
registration transaction (``register``: one run per model in the model contract, all or nothing, under the
registry lock, with the promotion decision made against the champion of that moment). Names re-exported here."""

from shopfloor.registry.champions import (
    REFERENCE,
    Contract,
    champion_contract,
    champion_score,
    champion_version,
    load_version,
    reference_rows,
)
from shopfloor.registry.register import (
    PENDING,
    Registration,
    log_contract_model,
    prepare_registry,
    register_model,
    sweep_pending,
)
from shopfloor.registry.tracking import (
    HTTP_LIMITS,
    REQUIREMENTS,
    check_reachable,
    check_writable,
    ensure_experiment,
    pinned,
    use_tracking,
)

__all__ = [
    "HTTP_LIMITS",
    "PENDING",
    "REFERENCE",
    "REQUIREMENTS",
    "Contract",
    "Registration",
    "champion_contract",
    "champion_score",
    "champion_version",
    "check_reachable",
    "check_writable",
    "ensure_experiment",
    "load_version",
    "log_contract_model",
    "pinned",
    "prepare_registry",
    "reference_rows",
    "register_model",
    "sweep_pending",
    "use_tracking",
]
