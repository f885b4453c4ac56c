"""Russell and Wang's Figs. 9-10: each evaluation curve with its observed cuts, what followed, the median forecast
and the 10-90 % band, its RMSE in the title."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from shopfloor.prognosis.forecast import Forecast, rmse  # noqa: E402


def prognosis_grid(
    shown: dict[str, tuple[np.ndarray, Forecast]], observed: int, path: Path, limit: float | None = None
) -> Path:
    n = len(shown)
    cols = min(3, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, (title, (curve, result)) in zip(axes.flat, shown.items(), strict=False):
        cuts = np.arange(len(curve))
        ax.fill_between(result.cuts, result.q10, result.q90, color="#9bb7d4", alpha=0.5, label="10-90 %")
        ax.plot(result.cuts, result.median, color="k", ls=":", lw=1.5, label="median forecast")
        ax.plot(cuts[:observed], curve[:observed], "o-", color="#d62728", ms=3, label="observed")
        ax.plot(
            cuts[observed - 1 :],
            curve[observed - 1 :],
            "o--",
            color="#d62728",
            ms=3,
            mfc="white",
            label="what followed",
        )
        if limit is not None:
            ax.axhline(limit, color="grey", lw=0.8, ls="--")
        ax.set_title(f"{title}, RMSE {rmse(result.median, curve[observed:]):.3f} mm", fontsize=9)
        ax.set_xlabel("cut")
        ax.set_ylabel("flank wear VB (mm)")
        # the band of a far horizon can reach metres: show the wear that matters, the curve and its forecast
        ax.set_ylim(
            0, 1.5 * max(float(curve.max()), float(np.nanmax(result.median[: len(curve) - observed])), limit or 0.0)
        )
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110, format="png")
    plt.close(fig)
    return Path(path)
