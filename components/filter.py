"""Component: filter synthetic rows (K-means, likelihood or both), with the PCA plot of real vs synthetic."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def filter_rows(train: Input[Dataset], preprocessing: Input[Model], candidates: Input[Dataset],
                kept: Output[Dataset], pca_plot: Output[HTML], method: str = "kmeans", d_max: float = -1.0,
                d_max_quantile: float = 0.95, likelihood_quantile: float = 0.05, seed: int = 0):
    import tempfile
    from pathlib import Path

    from shopfloor.fault_detection import filter_step
    from shopfloor.plots import png_html

    name = candidates.metadata["synthesizer"]
    png = Path(tempfile.mkdtemp()) / "pca_real_vs_synthetic.png"
    info = filter_step(train.path, preprocessing.path, candidates.path, kept=kept.path, plot=str(png), method=method,
                       d_max=None if d_max < 0 else d_max, d_max_quantile=d_max_quantile,
                       likelihood_quantile=likelihood_quantile, seed=seed, synthesizer=name)
    kept.metadata.update({**info, "synthesizer": name})
    pca_plot.metadata["synthesizer"] = name
    Path(pca_plot.path).write_text(png_html(f"Real and synthetic rows (PCA): {name}", [png], f"<p>{info}</p>"))
