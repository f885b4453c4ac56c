"""One flag vocabulary across every command: the flags that mean the same thing in several commands, what each
means, and the names they replaced. ``tests/test_defaults.py`` walks the whole command tree against it (a flag
with two meanings, or a meaning under a retired name, fails), and the docs' concepts page shows it as a table."""

from __future__ import annotations

#: flag -> (what it means wherever it appears, a phrase its help must contain)
VOCABULARY: dict[str, tuple[str, str]] = {
    "--data": ("the user's file (or folder of images) a command reads", ""),
    "--model-name": ("the registered model's name in MLflow", "model"),
    "--alias": ("the registry alias a command acts on (champion, challenger)", ""),
    "--label-column": ("the column of a table that holds the outcome (the label)", "label"),
    "--positive": ("the label value of a faulty part", "faulty"),
    "--time-column": ("the column that orders rows in time (a date, a cycle, a cut number)", ""),
    "--unit-column": ("the column naming each machine whose rows run until it fails", "unit"),
    "--cut-column": ("the column naming each cut of a signal table", "cut"),
    "--case-column": ("the column naming each tool of a wear table", "tool"),
    "--truth-column": ("a ground-truth column used only to compare with", "ground-truth"),
    "--cv-folds": ("folds of the cross-validation that chooses the model", "folds"),
    "--split": ("how rows split into the parts models learn from and are judged on", ""),
    "--json": ("a file to write the command's result to, as JSON", ""),
    "--format": ("how a command prints: text for people, json for machines", ""),
    "--host": ("the address a server listens on (0.0.0.0 in a container)", "listen"),
    "--port": ("the port a server listens on", "port"),
    "--url": ("the URL of a running model server", "URL"),
    "--kfp-url": ("the URL of the Kubeflow Pipelines API", "Kubeflow Pipelines API"),
    "--token-file": ("a file holding a service-account token for the Kubeflow Pipelines API", "token"),
    "--force-champion": ("register a run's model as @champion whatever the comparison says", "champion"),
    "--end-canary": ("finish a canary rollout: @challenger becomes @champion", "canary"),
}

#: retired or never-used synonyms -> the flag that means it
RETIRED: dict[str, str] = {
    "--label": "--label-column",
    "--labels": "--cut-labels",
    "--target": "--label-column",
    "--truth": "--truth-column",
    "--time": "--time-column",
    "--unit": "--unit-column",
    "--case": "--case-column",
    "--cut": "--time-column",
    "--folds": "--cv-folds",
    "--model": "--model-name",
    "--promote": "--force-champion (run) or --end-canary (deploy)",
    "--t-d": "--healthy-steps",
    "--t-f": "--failed-steps",
    "--bind": "--host",
    "--server": "--url",
    "--endpoint": "--url",
}
