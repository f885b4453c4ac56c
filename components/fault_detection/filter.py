"""Component: filter each fold's synthetic rows, with the PCA plot of real vs kept and dropped rows."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def fault_detection_filter(
    train: Input[Dataset],
    valid: Input[Dataset],
    preprocessing: Input[Model],
    candidates: Input[Dataset],
    kept: Output[Dataset],
    pca_plot: Output[HTML],
    method: str,
    d_max_quantile: float,
    likelihood_quantile: float,
    cv_folds: int,
    cv_repeats: int,
    cv_rows: int,
    seed: int,
    budget: float = 600.0,
):
    import tempfile
    from pathlib import Path

    from shopfloor.fault_detection.workflow import filter_step
    from shopfloor.platform.budget import Budget
    from shopfloor.plots import png_html

    name = candidates.metadata["synthesizer"]
    png = Path(tempfile.mkdtemp()) / "pca_real_vs_synthetic.png"
    info = filter_step(
        train.path,
        valid.path,
        preprocessing.path,
        candidates.path,
        kept=kept.path,
        plot=str(png),
        method=method,
        d_max_quantile=d_max_quantile,
        likelihood_quantile=likelihood_quantile,
        cv_folds=cv_folds,
        cv_repeats=cv_repeats,
        cv_rows=cv_rows,
        seed=seed,
        synthesizer=name,
        run_budget=Budget.of_run("fault-detection", budget, train.metadata),
    )
    kept.metadata.update({**info, "synthesizer": name})
    pca_plot.metadata["synthesizer"] = name
    if info.get("failed"):  # the branch failed: its record stands in for the plot too
        Path(pca_plot.path).write_text(Path(png).read_text())
    else:
        Path(pca_plot.path).write_text(png_html(f"Real and synthetic rows (PCA): {name}", [png], f"<p>{info}</p>"))
