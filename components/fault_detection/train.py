"""Component: every method and amount of synthetic rows, chosen by cross-validation; test scored once."""

from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def fault_detection_train(
    train: Input[Dataset],
    valid: Input[Dataset],
    test: Input[Dataset],
    preprocessing: Input[Model],
    synthetic: Input[list[Dataset]],
    models: Output[Model],
    report: Output[Dataset],
    metrics: Output[Metrics],
    confusion: Output[ClassificationMetrics],
    table: Output[Markdown],
    plots: Output[HTML],
    classifier: str,
    filter_method: str,
    threshold_metric: str,
    cv_folds: int,
    cv_repeats: int,
    cv_rows: int,
    seed: int,
    budget: float = 600.0,
    max_latency_ms: float = 10.0,
):
    import os
    from pathlib import Path

    from shopfloor.fault_detection.workflow import comparison_table, train_step
    from shopfloor.platform.budget import Budget
    from shopfloor.plots import png_html
    from shopfloor.tables import markdown_table

    os.makedirs(models.path, exist_ok=True)
    png = Path(models.path) / "confusion_matrices.png"
    summary = train_step(
        train.path,
        valid.path,
        test.path,
        preprocessing.path,
        {rows.metadata["synthesizer"]: rows.path for rows in synthetic},
        models_dir=models.path,
        report=report.path,
        plot=str(png),
        classifier=classifier,
        filter_method=filter_method,
        threshold_metric=threshold_metric,
        cv_folds=cv_folds,
        cv_repeats=cv_repeats,
        cv_rows=cv_rows,
        seed=seed,
        run_budget=Budget.of_run("fault-detection", budget, train.metadata),
        max_latency_ms=max_latency_ms,
    )
    best = summary["methods"][summary["best"]]
    for key in ("f1", "f2", "recall", "g_mean", "precision", "accuracy", "pr_auc"):
        metrics.log_metric(f"test_{key}", round(best["test"][key], 4))
    metrics.log_metric(f"cv_{threshold_metric}", round(best["cv"]["score"], 4))
    confusion.log_confusion_matrix(
        ["good", "faulty"], [[best["test"]["tn"], best["test"]["fp"]], [best["test"]["fn"], best["test"]["tp"]]]
    )
    text = markdown_table(comparison_table(summary))
    Path(table.path).write_text(
        f"### Test split (chosen by {summary['cv']['folds']}-fold CV on train + valid: {summary['best']})\n\n{text}\n"
    )
    Path(plots.path).write_text(png_html("Confusion matrices (test split)", [png]))
    models.metadata["best"] = summary["best"]
