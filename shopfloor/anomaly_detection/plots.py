"""Von Hahn and Mechefske's figures: precision-recall and ROC curves (here of every detector compared), scores by
tool class, the score's trend over a case, AP by cutting parameter. Each writes a PNG (logged to MLflow and shown
in the KFP run)."""

from __future__ import annotations

from pathlib import Path
from typing import cast

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from shopfloor.anomaly_detection.data import CLASS_NAMES  # noqa: E402
from shopfloor.anomaly_detection.evaluate import curves  # noqa: E402

COLORS = ("#33a02c", "#fdbf6f", "#e31a1c")  # healthy, degraded, failed


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")  # KFP artifact paths have no suffix to infer it from
    plt.close(fig)
    return Path(path)


def pr_roc(failed: np.ndarray, scores: dict[str, np.ndarray], path: Path, title: str = "test windows") -> Path:
    """Precision-recall and ROC curves of each named score (the first drawn boldest), with the no-skill lines."""
    from sklearn.metrics import average_precision_score, roc_auc_score

    fig, (pr, roc) = plt.subplots(1, 2, figsize=(10.5, 4.3))
    palette = ("#1f4e79", "#8c8c8c", "#6a3d9a", "#b15928", "#1b9e77")
    for k, (name, score) in enumerate(scores.items()):
        c, color, width = curves(failed, score), palette[k % len(palette)], 2.2 if k == 0 else 1.2
        pr.plot(
            c["recall"],
            c["precision"],
            color=color,
            lw=width,
            label=f"{name} (AP {average_precision_score(failed, score):.3f})",
        )
        roc.plot(
            c["fpr"], c["tpr"], color=color, lw=width, label=f"{name} (ROC-AUC {roc_auc_score(failed, score):.3f})"
        )
    skill = float(failed.mean())
    pr.axhline(skill, ls="--", color="orange", label=f"no skill ({skill:.3f})")
    roc.plot([0, 1], [0, 1], ls="--", color="orange", label="no skill")
    pr.set(xlabel="recall", ylabel="precision", title=f"Precision-recall, {title}", ylim=(0, 1.02))
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title=f"ROC, {title}")
    pr.legend(fontsize=8)
    roc.legend(fontsize=8, loc="lower right")
    return _save(fig, path)


def violin(
    score: np.ndarray,
    classes: np.ndarray,
    threshold: float,
    path: Path,
    title: str = "Scores by tool class, test windows",
) -> Path:
    """Scores of each tool class as a violin with the windows jittered over it, and the threshold."""
    fig, ax = plt.subplots(figsize=(8, 4.5))
    rng = np.random.default_rng(0)
    present = [c for c in range(3) if (classes == c).any()]
    parts = ax.violinplot(
        [score[classes == c] for c in present], positions=present, vert=False, showextrema=False, widths=0.85
    )
    for body in cast(list, parts["bodies"]):
        body.set_facecolor("white")
        body.set_edgecolor("black")
        body.set_alpha(1.0)
    for c in present:
        s = score[classes == c]
        ax.scatter(s, c + rng.uniform(-0.15, 0.15, len(s)), s=6, alpha=0.25, color=COLORS[c])
    if np.isfinite(threshold):
        ax.axvline(threshold, ls="--", color="#d62728", label=f"threshold {threshold:.3g}")
        ax.axvspan(threshold, ax.get_xlim()[1], color="#e31a1c", alpha=0.07)
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(present, [CLASS_NAMES[c] for c in present])
    ax.set_xlabel("score")
    ax.set_title(title, fontsize=10)
    return _save(fig, path)


def trend(frame: pd.DataFrame, score: str, path: Path, case: object, smooth: int = 10) -> Path:
    """The score of each sub-cut of one case in cutting order, a moving average over it, and the
    healthy / degraded / failed stretches shaded (von Hahn and Mechefske trend cases 13 and 11)."""
    g = frame.sort_values(["run" if "run" in frame else "cut", "position"]).reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(10, 3.8))
    classes = g["tool_class"].to_numpy().astype(int)
    start = 0
    for k in range(1, len(g) + 1):
        if k == len(g) or classes[k] != classes[start]:
            ax.axvspan(start, k, color=COLORS[classes[start]], alpha=0.15, lw=0)
            start = k
    ax.plot(g[score].to_numpy(), lw=0.6, color="#555555", alpha=0.6, label="sub-cut")
    ax.plot(g[score].rolling(smooth, min_periods=1).mean().to_numpy(), lw=2, color="#1f4e79", label=f"mean of {smooth}")
    handles = [plt.Rectangle((0, 0), 1, 1, color=COLORS[c], alpha=0.3) for c in range(3)]
    ax.legend(
        handles=[*ax.get_legend_handles_labels()[0], *handles],
        labels=["sub-cut", f"mean of {smooth}", *CLASS_NAMES],
        fontsize=8,
        ncol=5,
        loc="upper left",
    )
    params = ", ".join(f"{k} {g[k].iloc[0]:g}" for k in ("material", "DOC", "feed") if k in g)
    ax.set(
        xlabel="sub-cut, in cutting order",
        ylabel=f"{score} score",
        title=f"Case {case} ({params})" if params else f"Case {case}",
    )
    return _save(fig, path)


def by_parameter(table: pd.DataFrame, path: Path, split: str = "test") -> Path:
    """AP of the served score on the windows of each cutting-parameter value, with the no-skill level."""
    t = table.sort_values("ap")
    fig, ax = plt.subplots(figsize=(7.5, 0.45 * len(t) + 1.2))
    y = np.arange(len(t))
    ax.barh(y, t["ap"].fillna(0), color="#4a7fb0")
    ax.scatter(t["no_skill_precision"], y, marker="|", s=200, color="orange", label="no skill", zorder=3)
    for k, v in enumerate(t["ap"]):
        text = "no failed sub-cut" if np.isnan(v) else f"{v:.3f}"
        ax.text((0 if np.isnan(v) else v) + 0.01, k, text, va="center", fontsize=9)
    ax.set_yticks(y, t["label"])
    ax.set_xlim(0, 1.1)
    ax.set_xlabel(f"average precision, {split} windows")
    ax.legend(fontsize=8, loc="lower right")
    return _save(fig, path)
