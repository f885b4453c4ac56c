"""MkDocs hook: the architecture diagram, drawn with matplotlib when the site is built (``architecture.svg``), so it
is made from the same names the product uses rather than a picture kept by hand. Left, one machine: the pipelines
under ``kfp.local``, MLflow on SQLite, the model server on localhost. Right, the cluster: the same components on
Kubeflow Pipelines, MLflow on PostgreSQL, KServe, the prediction sink and Prometheus."""

from __future__ import annotations

import io

NAME = "architecture.svg"

# (x, y, width, height, label) in a 100 x 60 canvas, per side
BOXES = {
    "data": (2, 44, 19, 10, "your files\nCSV, Parquet, images"),
    "pipelines": (30, 44, 19, 10, "pipelines (KFP v2)\ncheck, train, compare"),
    "mlflow": (58, 44, 19, 10, "MLflow registry\n@champion, @challenger"),
    "retrain": (2, 24, 19, 10, "retraining pipeline\nchallenger vs champion"),
    "log": (30, 24, 19, 10, "prediction log\nanswers + outcomes"),
    "server": (58, 24, 19, 10, "model server (KServe)\nv1, v2, gRPC"),
    "clients": (84, 24, 15.5, 10, "your line\nrequests, outcomes"),
    "metrics": (58, 4, 19, 10, "metrics, alerts\nlive quality, drift"),
}
ARROWS = [
    ("data", "pipelines", "run"),
    ("pipelines", "mlflow", "register"),
    ("mlflow", "server", "the champion"),
    ("clients", "server", ""),
    ("server", "log", "answers"),
    ("log", "retrain", "new rows"),
    ("retrain", "pipelines", "registers"),
    ("server", "metrics", "scrape"),
]
WHERE = [
    ("one machine (the default)", "kfp.local, MLflow on SQLite, the server on 127.0.0.1, Parquet files"),
    ("the cluster (manifests/)", "Kubeflow Pipelines, MLflow on PostgreSQL, KServe, prediction sink, Prometheus"),
]


def draw() -> str:
    """The diagram as SVG text."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig, ax = plt.subplots(figsize=(10, 6.6))
    ax.set_xlim(0, 100)
    ax.set_ylim(-8, 60)
    ax.axis("off")
    centre = {}
    for key, (x, y, w, h, label) in BOXES.items():
        ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.4", facecolor="#e8eef7", edgecolor="#3b5b8c"))
        ax.text(x + w / 2, y + h / 2, label, ha="center", va="center", fontsize=9)
        centre[key] = (x, y, w, h)

    def edge(key: str, towards: tuple[float, float]) -> tuple[float, float]:
        x, y, w, h = centre[key]
        cx, cy = x + w / 2, y + h / 2
        dx, dy = towards[0] - cx, towards[1] - cy
        scale = min(w / 2 / abs(dx) if dx else 1e9, h / 2 / abs(dy) if dy else 1e9)
        return cx + dx * scale, cy + dy * scale

    for start, end, label in ARROWS:
        sx, sy, sw, sh = centre[start]
        ex, ey, ew, eh = centre[end]
        a = edge(start, (ex + ew / 2, ey + eh / 2))
        b = edge(end, (sx + sw / 2, sy + sh / 2))
        ax.add_patch(FancyArrowPatch(a, b, arrowstyle="-|>", mutation_scale=14, color="#3b5b8c", lw=1.3))
        if label:  # above a horizontal arrow, right of a vertical one
            mx, my = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
            across = abs(b[0] - a[0]) > abs(b[1] - a[1])
            ax.text(
                mx + (0 if across else 1.2),
                my + (1.2 if across else 0),
                label,
                fontsize=8,
                color="#333333",
                ha="center" if across else "left",
                va="bottom" if across else "center",
            )
    for i, (title, parts) in enumerate(WHERE):
        ax.text(2, -2 - 4.5 * i, f"{title}: ", fontsize=9, fontweight="bold", va="center")
        ax.text(30, -2 - 4.5 * i, parts, fontsize=9, va="center")
    out = io.StringIO()
    fig.savefig(out, format="svg", bbox_inches="tight")
    plt.close(fig)
    return out.getvalue()


def on_files(files, config):
    from mkdocs.structure.files import File

    files.append(File.generated(config, NAME, content=draw()))
    return files
