"""Whether a new version takes ``@champion``: one decision type for every pipeline, one vocabulary for its tags.

Every registration ends in a ``Decision``, made under the registry lock against the champion of that moment:
fault detection scores the champion on the new run's test rows, retraining on its held-out rows (and keeps the
decision only if the champion it compared with still holds the alias), the other pipelines compare the score
each version was registered with (``by_score``). The run of the new version carries the decision as tags:
``shopfloor.decision`` is ``promoted`` or ``challenger``, ``shopfloor.reason`` says why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DECISION = "shopfloor.decision"
REASON = "shopfloor.reason"
COMPARED_ROWS = "shopfloor.compared_rows"
PROMOTED, KEPT = "promoted", "challenger"


@dataclass(frozen=True)
class Decision:
    """What became of a new version: ``promote`` to ``@champion`` or stay ``@challenger``, and why."""

    promote: bool
    reason: str
    champion_version: str | None = None
    champion_score: float | None = None
    new_score: float | None = None
    rows: int = 0
    metrics: dict[str, float] = field(default_factory=dict)  # logged on the new version's run

    @property
    def tags(self) -> dict[str, str]:
        tags = {DECISION: PROMOTED if self.promote else KEPT, REASON: self.reason}
        if self.rows:
            tags[COMPARED_ROWS] = str(self.rows)
        return tags


def by_score(score: float, champion: float | None, metric: str) -> Decision:
    """The default: the higher registered score wins; a tie goes to the newcomer (it is the fresher model)."""
    if champion is None:
        return Decision(True, "no champion yet", new_score=score)
    promote = score >= champion
    verdict = "promoted" if promote else "kept the champion"
    return Decision(promote, f"{verdict}: new {metric} {score:.3f} vs champion {champion:.3f}", None, champion, score)


def forced(promote: bool) -> Decision:
    """A decision the caller made (``--force-champion``, or a registration that must not take the alias)."""
    return Decision(promote, "promoted as asked" if promote else "registered as challenger, as asked")
