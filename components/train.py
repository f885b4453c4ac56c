"""Component: baseline and augmented classifiers (logistic regression or ResNet) on validation and test."""

from kfp import dsl
from kfp.dsl import HTML, ClassificationMetrics, Dataset, Input, Markdown, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train(train: Input[Dataset], valid: Input[Dataset], test: Input[Dataset], preprocessing: Input[Model],
          synthetic: Input[list[Dataset]], models: Output[Model], report: Output[Dataset], metrics: Output[Metrics],
          confusion: Output[ClassificationMetrics], table: Output[Markdown], plots: Output[HTML],
          classifier: str = "logreg", seed: int = 0):
    import os
    from pathlib import Path

    from shopfloor.fault_detection import comparison_table, markdown_table, train_step
    from shopfloor.plots import png_html

    os.makedirs(models.path, exist_ok=True)
    png = Path(models.path) / "confusion_matrices.png"
    summary = train_step(train.path, valid.path, test.path, preprocessing.path,
                         {rows.metadata["synthesizer"]: rows.path for rows in synthetic},
                         models_dir=models.path, report=report.path, plot=str(png), classifier=classifier, seed=seed)
    best = summary["models"][summary["best"]]
    for split in ("valid", "test"):
        for key in ("f1", "f2", "recall", "g_mean", "precision", "accuracy"):
            metrics.log_metric(f"{split}_{key}", round(best[split][key], 4))
    confusion.log_confusion_matrix(["good", "faulty"], [[best["test"]["tn"], best["test"]["fp"]],
                                                        [best["test"]["fn"], best["test"]["tp"]]])
    text = markdown_table(comparison_table(summary))
    Path(table.path).write_text(f"### Test split (model chosen on validation F2: {summary['best']})\n\n{text}\n")
    Path(plots.path).write_text(png_html("Confusion matrices (test split)", [png]))
    models.metadata["best"] = summary["best"]
