"""Figures people would rather look at than read: PCA of real vs synthetic rows, confusion matrices.

Each function writes a PNG and returns its path; ``png_html`` embeds PNGs in one HTML page for the
KFP run's visualization tab.
"""

from __future__ import annotations

import base64
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

#: Points drawn per group of a scatter: more are unreadable, and at 300,000 rows drawing every one took most of a
#: filter step's memory.
MAX_POINTS = 5000


def _at_most(frame: pd.DataFrame, n: int = MAX_POINTS, seed: int = 0) -> pd.DataFrame:
    return frame if len(frame) <= n else frame.sample(n, random_state=seed)


def pca_scatter(
    real: pd.DataFrame,
    labels: np.ndarray,
    synthetic: dict[str, pd.DataFrame],
    path: Path,
    title: str = "Real and synthetic rows (PCA, 2 components)",
) -> Path:
    """Dahdal et al.'s Fig. 4: real majority/minority rows and each synthetic set in the real PCA plane (at most
    ``MAX_POINTS`` of each class and set, drawn at random with a fixed seed)."""
    labels = np.asarray(labels)
    parts = [_at_most(real[labels == k]) for k in (0, 1)]
    real, labels = pd.concat(parts), np.repeat([0, 1], [len(p) for p in parts])
    synthetic = {name: _at_most(frame) for name, frame in synthetic.items()}
    pca = PCA(n_components=2, random_state=0).fit(real.to_numpy(float))
    fig, ax = plt.subplots(figsize=(6.5, 5))
    r = pca.transform(real.to_numpy(float))
    good, bad = r[labels == 0], r[labels == 1]
    ax.scatter(good[:, 0], good[:, 1], s=6, c="#9bb7d4", alpha=0.5, label="real: good")
    ax.scatter(bad[:, 0], bad[:, 1], s=14, c="#d62728", alpha=0.9, label="real: faulty")
    markers = iter(["x", "+", "1", "2", "3"])
    for name, frame in synthetic.items():
        if len(frame):
            s = pca.transform(frame[real.columns].to_numpy(float))
            ax.scatter(s[:, 0], s[:, 1], s=14, marker=next(markers), alpha=0.7, label=f"synthetic: {name}")
    ax.set_xlabel(f"PC1 ({pca.explained_variance_ratio_[0]:.0%})")
    ax.set_ylabel(f"PC2 ({pca.explained_variance_ratio_[1]:.0%})")
    ax.set_title(title)
    ax.legend(fontsize=8, markerscale=1.5)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def confusion_matrices(reports: dict[str, dict[str, float]], path: Path, split: str = "test") -> Path:
    """Dahdal et al.'s Fig. 5: one confusion matrix per model, side by side."""
    fig, axes = plt.subplots(1, len(reports), figsize=(3.4 * len(reports), 3.3), squeeze=False)
    for ax, (name, rep) in zip(axes[0], reports.items(), strict=True):
        cm = np.array([[rep["tn"], rep["fp"]], [rep["fn"], rep["tp"]]])
        ax.imshow(cm, cmap="Blues")
        for (i, j), v in np.ndenumerate(cm):
            ax.text(j, i, str(int(v)), ha="center", va="center", color="black" if v < cm.max() / 2 else "white")
        ax.set_xticks([0, 1], ["good", "faulty"])
        ax.set_yticks([0, 1], ["good", "faulty"])
        ax.set_xlabel("predicted")
        ax.set_ylabel("actual")
        ax.set_title(f"{name} ({split})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def png_html(title: str, images: list[Path], body: str = "") -> str:
    """A self-contained HTML page with the PNGs inlined (KFP's HTML artifact shows it as is)."""
    parts = [f"<h2>{title}</h2>", body]
    for image in images:
        data = base64.b64encode(Path(image).read_bytes()).decode()
        parts.append(f'<img alt="{Path(image).stem}" src="data:image/png;base64,{data}"/>')
    return "<html><body>" + "\n".join(parts) + "</body></html>"
