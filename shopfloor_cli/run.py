"""``shopfloor run PIPELINE``: a pipeline on this machine through kfp.local, one line per step.

Each command checks its input before the pipeline starts (a bad table costs a second, not a run),
names the model it registers (``--model-name``; required with ``--data``), prints each step as it ends
and the result at the end; ``--verbose`` shows kfp.local's executor logs live instead of filing them.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any

from shopfloor.constants import (
    DEPLOY_TARGETS,
    SERVE_PORTS,
)
from shopfloor.defaults import DEFAULTS, PROGNOSIS
from shopfloor.platform.budget import parse_seconds
from shopfloor.synth.catalog import parse_selection
from shopfloor_cli.checks import check_for
from shopfloor_cli.common import add_model_name, csv_list, model_name_for, write_json
from shopfloor_cli.options import add_settings

#: Exit status of a run that registered a model although some methods failed (each named in the output and JSON).
PARTIAL = 3


def _registered(run, args: argparse.Namespace, result: dict[str, Any]) -> int:
    """The end every pipeline command shares: the registration, what became of ``--deploy``, the JSON file."""
    print(f"registered: {result['model_name']} version {result['version']} as @{result['alias']}")
    _where(result)
    _deployment(run, args, result)
    write_json(args.json, {**result, "log": str(run.log)})
    return 0


def _where(result: dict[str, Any]) -> None:
    """The run's report (a local path where the artifacts are local files) and the MLflow run, with its page
    where a tracking server answers."""
    from shopfloor.registry.tracking import run_page

    report = str(result.get("report_html", ""))
    if report:
        print(f"report: {report.removeprefix('file://')}")
    page = run_page(result["run_id"])
    print(f"MLflow run: {result['run_id']}" + (f" ({page})" if page else ""))


def _deployment(run, args: argparse.Namespace, registration: dict[str, Any]) -> None:
    """What became of ``--deploy``: the endpoint and version served, or why nothing was deployed."""
    if args.deploy == "none":
        return
    step = run.step("deploy")
    if step is None:
        print(
            f"deploy: skipped; version {registration['version']} is the {registration['alias']}, and only a new "
            "champion is deployed (a running server keeps following @champion)"
        )
    elif args.deploy == "local":
        data = step["data"]
        print(
            f"serving: {data['endpoint']} (version {data['version']}, server {data['action']}; "
            f"v2: {data['url']}/v2/models/{registration['model_name']}/infer)"
        )
    else:
        print(f"deployed: {step['summary']}")


def _print_left_out(left_out: dict[str, str], budget: float) -> None:
    """What the time budget left out: whole methods by name, the grid's dropped candidates as a count."""
    methods = {n: why for n, why in left_out.items() if "@" not in n}
    for name, why in methods.items():
        print(f"left out by the {budget:g} s time budget: {name}: {why}")
    dropped = len(left_out) - len(methods)
    if dropped:
        print(
            f"left out by the {budget:g} s time budget: {dropped} candidate amounts of synthetic rows (each with "
            "its reason in the JSON report's left_out)"
        )


def _header(pipeline: str, data: Path, model: str, detail: str) -> None:
    """Before any step: one run per model (``Busy`` otherwise), a reachable registry (a named error in seconds,
    not a failed step after minutes of training), and no version left pending by a killed run."""
    from shopfloor import config
    from shopfloor.platform import run_lock
    from shopfloor.registry import prepare_registry

    run_lock.hold(model, pipeline)
    logging.getLogger("mlflow").setLevel(logging.WARNING)  # its store set-up lines would break the one-line steps
    prepare_registry(model)
    print(f"{pipeline} on {data} ({detail}) -> model {model!r}; MLflow at {config.tracking_uri()}", flush=True)


# ------------------------------------------------------------------ fault detection
def cmd_fault_detection(args: argparse.Namespace) -> int:
    model = model_name_for(args, "fault-detection")  # before anything is imported or read

    from shopfloor import config
    from shopfloor.data import embedded
    from shopfloor.errors import DataError

    try:
        synthesizers = parse_selection(args.synthesizer)
    except ValueError as exc:
        raise DataError("synthesizer", str(exc)) from None
    data = Path(args.data).resolve() if args.data else embedded.gearbox(args.rows, args.seed)
    label = args.label_column
    drop, categorical = csv_list(args.drop), csv_list(args.categorical)
    key = args.key_column or ""
    time_column = args.time_column or ""
    report = check_for("fault-detection", data, args)  # fail in a second on bad input
    print(report.facts["label"])
    print(report.summary())
    from shopfloor.synth.tuning import check_storage

    storage = check_storage(args.optuna_storage or config.optuna_storage())
    budget = parse_seconds(args.budget)

    from pipelines.fault_detection import fault_detection
    from shopfloor.fault_detection.workflow import comparison_table
    from shopfloor.tables import markdown_table
    from shopfloor_cli.runner import run_local

    _header("fault-detection", data, model, f"label {label!r}")
    branches = len(synthesizers) * args.tuning_workers
    if branches > 1:  # parallel branches: one share of this process's CPUs each, not all of them each
        from shopfloor.platform.cpus import BUDGET_ENV, threads_for

        os.environ.setdefault(BUDGET_ENV, str(threads_for(branches)))
    run = run_local(
        fault_detection,
        verbose=args.verbose,
        data_path=str(data),
        tracking_uri=config.tracking_uri(),
        label=label,
        positive=args.positive,
        time_column=time_column,
        split=args.split,
        drop_columns=drop,
        categorical=categorical,
        key_column=key,
        synthesizers=synthesizers,
        filter_method=args.filter,
        objective=args.objective,
        classifier=args.classifier,
        threshold_metric=args.threshold_metric,
        deploy_target=args.deploy,
        serve_port=args.port,
        n_trials=args.trials,
        timeout=args.timeout,
        max_steps=args.max_steps,
        cv_folds=args.cv_folds,
        cv_repeats=args.cv_repeats,
        optuna_storage=storage,
        tuning_workers=args.tuning_workers,
        study_name=args.study or f"{data.stem}-{args.seed}",
        model_name=model,
        force_promote=args.promote,
        budget=budget,
        max_latency_ms=args.max_latency_ms,
        cv_rows=args.cv_rows,
        seed=args.seed,
    )
    result = run.output
    report = result.pop("report")
    best, best_test = report["best"], report["best_test_method"]
    print(
        f"\nTest split, each method at its CV-chosen amount of synthetic rows and "
        f"{report['threshold_metric']}-optimal threshold:\n"
    )
    print(markdown_table(comparison_table(report)))
    print(
        f"\nchosen by {report['cv']['folds']}-fold cross-validation on train + valid: {best} (test F2 "
        f"{report['methods'][best]['test']['f2']:.3f}; the best test row, {best_test}, has "
        f"{report['methods'][best_test]['test']['f2']:.3f})"
    )
    print(
        f"registered: {result['model_name']} version {result['version']} as @{result['alias']} "
        f"(threshold {report['methods'][best]['threshold']:.3f}); {result['reason']}"
    )
    _where(result)
    for name, failure in report["failed"].items():
        print(f"left out: {name} failed at {failure['step']}: {failure['error']}")
    _print_left_out(report.get("left_out", {}), budget)
    _deployment(run, args, result)
    write_json(args.json, {**result, "report": report, "methods_failed": report["methods_failed"], "log": str(run.log)})
    return PARTIAL if report["failed"] else 0


# ------------------------------------------------------------------ health index
def cmd_health_index(args: argparse.Namespace) -> int:
    model = model_name_for(args, "health-index")

    from shopfloor import config
    from shopfloor.data import embedded
    from shopfloor.errors import DataError

    if args.data:
        data, unit, time, truth = Path(args.data).resolve(), args.unit_column, args.time_column, args.truth or ""
    else:
        data, unit, time, truth = embedded.run_to_failure(args.units, args.seed), "unit", "time", "wear"
    drop, conditions = csv_list(args.drop), csv_list(args.condition)
    from shopfloor.health_index.selection import METHODS

    methods = csv_list(args.methods) if args.methods else list(METHODS)
    unknown = sorted(set(methods) - set(METHODS))
    if unknown or not methods:
        raise DataError("methods", f"choose from {', '.join(METHODS)}, got {args.methods!r}")
    for option, value, least in (("cv-folds", args.cv_folds, 2), ("epochs", args.epochs, 1), ("seeds", args.seeds, 1)):
        if value < least:
            raise DataError(option, f"must be at least {least}, got {value}")
    if args.weight_decay != "auto":
        try:
            float(args.weight_decay)
        except ValueError:
            raise DataError("weight-decay", f"a number or 'auto', got {args.weight_decay!r}") from None
    vars(args).update(unit=unit, time=time, truth=truth)  # the simulator's columns when it is the data
    print(check_for("health-index", data, args).summary())  # fail in a second on bad input

    budget = parse_seconds(args.budget)
    from pipelines.health_index import health_index
    from shopfloor_cli.runner import run_local

    _header("health-index", data, model, f"unit {unit!r}, time {time!r}")
    run = run_local(
        health_index,
        verbose=args.verbose,
        data_path=str(data),
        tracking_uri=config.tracking_uri(),
        unit=unit,
        time=time,
        truth=truth,
        drop_columns=drop,
        conditions=conditions,
        t_d=args.healthy_steps,
        t_f=args.failed_steps,
        methods=methods,
        diversity=args.diversity,
        epochs=args.epochs,
        embedding_dim=args.embedding_dim,
        weight_decay=args.weight_decay,
        fusion=args.fusion,
        seeds=args.seeds,
        baseline=not args.no_baseline,
        window=args.window,
        split=args.split,
        folds=args.cv_folds,
        timeout=args.timeout,
        model_name=model,
        deploy_target=args.deploy,
        serve_port=args.port,
        budget=budget,
        seed=args.seed,
    )
    result = run.output
    import pandas as pd

    from shopfloor.tables import markdown_table

    print(
        "\nCross-validation across the fitted units (held-out units cut at random steps, as machines still "
        "running;\nspearman_rul: rank correlation of the HI there with the life left, more negative is better; "
        "mean over draws):\n"
    )
    print(markdown_table(pd.DataFrame(result["cv"]).set_index("method")))
    m = result["metrics"]
    print(f"\nchosen: {result['method']} health index, remaining life from {result['rul_method']}")
    skipped = ((run.step("train") or {}).get("data") or {}).get("skipped", {})
    for name, why in skipped.items():
        print(f"left out by the time limit: {name}: {why}")
    nan = float("nan")
    print(
        f"held-out units (never seen in fitting): Spearman with life left {m.get('test_spearman_rul', nan):.3f}, "
        f"monotonicity {m.get('test_monotonicity', nan):.3f}, remaining-life RMSE {m.get('test_rul_rmse', nan):.1f} "
        f"(interval coverage {m.get('test_rul_interval_coverage', nan):.2f})"
    )
    return _registered(run, args, result)


# ------------------------------------------------------------------ retraining
def cmd_retraining(args: argparse.Namespace) -> int:
    model = model_name_for(args, "retraining")

    import pandas as pd

    from shopfloor import config
    from shopfloor.errors import DataError
    from shopfloor.kinds import retrainer_for
    from shopfloor.retraining.workflow import load_champion, split_mode, write_log_rows

    if args.from_log and args.data:
        raise DataError("from-log", "give --data or --from-log, not both")
    contract, champion = load_champion(model)
    retrainer = retrainer_for(contract.kind)
    if args.from_log:  # answers the served champion logged, with the outcomes fed back
        from shopfloor_cli.monitor import since_time

        data = write_log_rows(model, args.label_column, since=since_time(args.since), loaded=(contract, champion))
    elif args.data:
        data = Path(args.data).resolve()
    else:
        data = retrainer.embedded_rows(args.drift, args.seed)
        if data is None:
            raise DataError(
                "data",
                f"{model}@champion is a {contract.kind} model: give its new rows with --data, "
                "or retrain from the served answers with --from-log",
            )
    # Fail in seconds, before any pipeline starts, on no champion, an empty file or other columns.
    retrainer.check(str(data), champion, args.label_column, args.time_column)
    split_mode(retrainer, args.split, args.time_column, str(data))  # a time split another kind cannot make, named

    from pipelines.retraining import retraining
    from shopfloor_cli.runner import run_local

    _header("retraining", data, model, "new rows for @champion")
    run = run_local(
        retraining,
        verbose=args.verbose,
        data_path=str(data),
        tracking_uri=config.tracking_uri(),
        label=args.label_column,
        model_name=model,
        metric=args.metric,
        margin=args.margin,
        time_column=args.time_column,
        split=args.split,
        fine_tune_epochs=args.fine_tune_epochs,
        simulations=args.simulations,
        seed=args.seed,
    )
    result = run.output
    check, retrain = result["check"], result["retrain"]
    if check.get("drift") is not None:
        drifted = ", ".join(check["drifted"][:6]) or "none"
        print(f"\ndrift: {'yes' if check['drift'] else 'no'} (features: {drifted})")
    else:
        print(f"\nnew rows: {check['rows']} in {check.get('groups', '?')} {check.get('group', 'group')}(s)")
    print(f"challenger by {retrain['method']} in {retrain['seconds']:.2f} s")
    scores = result.get("scores")
    if scores:
        from shopfloor.tables import markdown_table

        print(
            f"\nchampion v{result['champion_version']} and challenger on the same {result['holdout_rows']} "
            f"held-out rows:\n"
        )
        print(markdown_table(pd.DataFrame(scores).T))
    print(result["reason"])
    print(f"registered: {result['model_name']} version {result['version']} as @{result['alias']}")
    write_json(args.json, {**result, "log": str(run.log)})
    return 0


# ------------------------------------------------------------------ anomaly detection
def cmd_anomaly_detection(args: argparse.Namespace) -> int:
    model = model_name_for(args, "anomaly-detection")

    from shopfloor import config
    from shopfloor.data import embedded
    from shopfloor.errors import DataError

    for option, value, least in (
        ("trials", args.trials, 1),
        ("epochs", args.epochs, 1),
        ("window", args.window, 2),
        ("stride", args.stride, 1),
        ("max-filters", args.max_filters, 16),
    ):
        if value < least:
            raise DataError(option, f"must be at least {least}, got {value}")
    data = Path(args.data).resolve() if args.data else embedded.milling(args.cases, args.seed)
    labels = str(Path(args.labels).resolve()) if args.labels else ""
    signals = csv_list(args.signals)
    # fail in seconds on bad input: a missing struct or cut column, no valid cut, a cut shorter than a window
    report = check_for("anomaly-detection", data, args)
    print(report.summary())
    signal_names = [c.name for c in report.columns if c.role == "feature"]

    from pipelines.anomaly_detection import anomaly_detection
    from shopfloor_cli.runner import run_local

    _header("anomaly-detection", data, model, f"signals {', '.join(signal_names)}")
    run = run_local(
        anomaly_detection,
        verbose=args.verbose,
        data_path=str(data),
        tracking_uri=config.tracking_uri(),
        cut_column=args.cut_column,
        labels_path=labels,
        signals=signals,
        window=args.window,
        stride=args.stride,
        split=args.split,
        time_column=args.time_column,
        n_trials=args.trials,
        timeout=args.timeout,
        epochs=args.epochs,
        max_filters=args.max_filters,
        arch=args.arch,
        train_on=args.train_on,
        ensemble=not args.no_ensemble,
        score=args.score,
        threshold_metric=args.threshold_metric,
        model_name=model,
        deploy_target=args.deploy,
        serve_port=args.port,
        budget=parse_seconds(args.budget),
        seed=args.seed,
    )
    result = run.output
    m = result["metrics"]
    import pandas as pd

    from shopfloor.tables import markdown_table

    print(
        "\nAnomaly = a sub-cut of a failed tool (VB >= 0.7 mm). Detectors, each trained on the same healthy "
        "sub-cuts;\nthe one with the best validation AP serves (test columns are for the report only):\n"
    )
    print(markdown_table(pd.DataFrame(result["comparison"]).set_index("detector")))
    print(
        f"\nserved: {result['detector']}; test AP {m.get('test_ap', float('nan')):.3f} (no skill "
        f"{m.get('test_no_skill_precision', float('nan')):.3f}), ROC-AUC {m.get('test_roc_auc', float('nan')):.3f}, "
        f"per cut AP {m.get('test_cut_ap', float('nan')):.3f}; flag at the validation threshold: precision "
        f"{m.get('test_flag_precision', 0):.3f}, recall {m.get('test_flag_recall', 0):.3f}"
    )
    return _registered(run, args, result)


# ------------------------------------------------------------------ prognosis
def cmd_prognosis(args: argparse.Namespace) -> int:
    model = model_name_for(args, "prognosis")

    import warnings

    from shopfloor import config
    from shopfloor.errors import DataError
    from shopfloor.prognosis.curves import CurveWarning, evaluation_curves

    data = str(Path(args.data).resolve()) if args.data else ""
    valid, test = csv_list(args.valid_cases), csv_list(args.test_cases)
    with warnings.catch_warnings():  # fail in a second on a bad table; cases left out are reported by the run
        warnings.simplefilter("ignore", CurveWarning)
        splits = evaluation_curves(
            data, args.case_column, args.wear_column, args.cut or "", valid, test, seed=args.seed
        )
    if data:
        print(check_for("prognosis", data, args).summary())
    if not any(len(c) > args.observed for curves in splits.values() for c in curves.values()):
        raise DataError("observed", f"no evaluation curve is longer than the {args.observed} observed cuts")

    from pipelines.prognosis import prognosis
    from shopfloor_cli.runner import run_local

    source = Path(data) if data else Path("simulated wear curves")
    _header("prognosis", source, model, f"case {args.case_column!r}, wear {args.wear_column!r}" if data else "no table")
    run = run_local(
        prognosis,
        verbose=args.verbose,
        tracking_uri=config.tracking_uri(),
        data_path=data,
        case=args.case_column,
        wear=args.wear_column,
        cut=args.cut or "",
        valid_cases=valid,
        test_cases=test,
        observed=args.observed,
        vb_limit=args.vb_limit,
        horizon=args.horizon,
        n_train=args.train,
        n_valid=args.valid,
        prior_scale=args.prior_scale,
        epochs=args.epochs,
        patience=args.patience,
        model_name=model,
        deploy_target=args.deploy,
        serve_port=args.port,
        seed=args.seed,
    )
    result = run.output
    m = result["metrics"]
    print(f"\nPrognosis after {args.observed} observed cuts (median of {PROGNOSIS.draws:,} posterior draws):")
    for key in (k for k in m if "_rmse_case_" in k):
        split, case = key.split("_rmse_case_")
        print(f"  {split:5s} case {case:>4s}: RMSE {m[key]:.3f} mm")
    for split in ("valid", "test"):
        if f"{split}_rmse" in m:
            print(
                f"  {split} mean RMSE {m[f'{split}_rmse']:.3f} mm, 10-90 % band coverage {m[f'{split}_coverage']:.0%}"
            )
    print(f"  {PROGNOSIS.draws:,} posterior draws of one curve and its forecast in {m['sample_seconds'] * 1000:.1f} ms")
    if result.get("comparison"):
        print("\nThe flow against its rival, the tool's own curve fit, chosen on validation RMSE (test: reported):")
        for row in result["comparison"]:
            mark = "*" if row["method"] == result["chosen"] else " "
            figures = ", ".join(
                f"{k} {row[k]:.3f}" for k in ("valid_rmse", "valid_coverage", "test_rmse", "test_coverage") if k in row
            )
            print(f" {mark} {row['method']:<10} {figures}, {row['seconds'] * 1000:.1f} ms a forecast")
    return _registered(run, args, result)


def cmd_surface_inspection(args: argparse.Namespace) -> int:
    model = model_name_for(args, "surface-inspection")

    import tempfile

    from shopfloor import config

    if args.data:
        data = Path(args.data).resolve()
    else:  # the embedded default: simulated surfaces, written where this run's data lives
        from shopfloor.surface_inspection.simulate import simulate_surfaces

        home = config.home()
        home.mkdir(parents=True, exist_ok=True)
        data = simulate_surfaces(Path(tempfile.mkdtemp(prefix="surfaces-", dir=home)), seed=args.seed)
    print(check_for("surface-inspection", data, args).summary())  # named errors before any step

    from pipelines.surface_inspection import surface_inspection
    from shopfloor_cli.runner import run_local

    _header("surface-inspection", data, model, f"mode {args.mode}, good class {args.good_class!r}")
    run = run_local(
        surface_inspection,
        verbose=args.verbose,
        tracking_uri=config.tracking_uri(),
        data_path=str(data),
        good_class=args.good_class,
        mode=args.mode,
        min_images=args.min_images,
        ae_steps=args.ae_steps,
        flow_steps=args.flow_steps,
        cnn_epochs=args.cnn_epochs,
        ratios=csv_list(args.ratios),
        quantile=args.quantile,
        model_name=model,
        deploy_target=args.deploy,
        serve_port=args.port,
        seed=args.seed,
    )
    result = run.output
    score = "valid_ap" if args.mode == "classify" else "valid_roc_auc"
    print(f"\n{args.mode} mode, chosen on validation {score.removeprefix('valid_')} (test figures reported, not used):")
    for row in result["table"]:
        mark = "*" if row["chosen"] else " "
        print(f" {mark} {row['method']:28s} validation {row[score]:.3f}  {row['seconds']:6.1f} s")
    test = result["test"]
    print(
        f"  chosen {result['method']}: test AP {test['ap']:.3f}, ROC-AUC {test['roc_auc']:.3f}, F2 {test['f2']:.3f}, "
        f"good images flagged {test['good_flagged']:.1%}"
    )
    return _registered(run, args, result)


# ------------------------------------------------------------------ parser
def _common(p: argparse.ArgumentParser, pipeline: str, data_help: str) -> None:
    """The options every ``shopfloor run`` takes, then the pipeline's own from its defaults."""
    p.add_argument("--data", help=data_help)
    add_model_name(p, None, "registered-model name (required with --data; default: the simulated data's model)")
    p.add_argument("--json", help="also write the result as JSON to this file")
    p.add_argument("--verbose", action="store_true", help="show kfp.local's executor logs live")
    if pipeline != "retraining":
        p.add_argument(
            "--deploy",
            default="none",
            choices=DEPLOY_TARGETS,
            help="serve a new champion: a local model server on --port, or a KServe InferenceService "
            "(default: %(default)s)",
        )
        p.add_argument(
            "--port",
            type=int,
            default=SERVE_PORTS[pipeline],
            help="port of the local model server (default: %(default)s)",
        )
    add_settings(p, DEFAULTS[pipeline])


def add_parser(sub: argparse._SubParsersAction) -> None:
    run = sub.add_parser("run", help="run a pipeline here with kfp.local").add_subparsers(
        dest="pipeline", required=True
    )
    fd = run.add_parser(
        "fault-detection",
        help="synthesize faults, train, register",
        epilog="Exit status: 0 registered; 3 registered, but some methods failed (each named); 2 bad "
        "input; 1 the run failed.",
    )
    _common(fd, "fault-detection", "CSV or Parquet table (default: the gearbox simulator)")
    fd.add_argument("--drop", help="comma-separated columns to ignore")
    fd.add_argument("--categorical", help="comma-separated string columns, encoded inside the model")
    fd.add_argument(
        "--key-column",
        help="a business key (a part id): not a feature; requests may carry it and the "
        "server logs it with each answer, so outcomes can be fed back by it",
    )
    fd.add_argument(
        "--force-champion",
        dest="promote",
        action="store_true",
        help="take @champion even if worse than the champion, or if the champion takes other columns",
    )
    fd.add_argument("--study", help="Optuna study name (resumed if it exists)")
    fd.add_argument(
        "--optuna-storage",
        help="Optuna storage URL shared by tuning workers, e.g. "
        "postgresql+psycopg2://user@host/optuna (default: SQLite in $SHOPFLOOR_HOME)",
    )
    fd.add_argument(
        "--rows", type=int, default=3000, help="rows of simulated data when --data is not given (default: %(default)s)"
    )
    fd.set_defaults(func=cmd_fault_detection)

    hi = run.add_parser(
        "health-index",
        help="a health index and remaining life from run-to-failure trajectories: "
        "2DS + APAIC against simple rivals, chosen by cross-validation",
    )
    _common(hi, "health-index", "CSV or Parquet, one row per unit and time step (default: the simulator)")
    hi.add_argument(
        "--truth-column", dest="truth", help="a ground-truth column to compare with (kept out of the features)"
    )
    hi.add_argument("--drop", help="comma-separated columns that are not features")
    hi.add_argument(
        "--condition",
        help="comma-separated operating-setting columns: sensors are standardized per operating regime found from them",
    )
    hi.add_argument(
        "--units", type=int, default=10, help="simulated units when --data is not given (default: %(default)s)"
    )
    hi.set_defaults(func=cmd_health_index)

    ad = run.add_parser(
        "anomaly-detection",
        help="anomaly detection on milling signals (worn tools): a beta-VAE "
        "against simple detectors, chosen on validation",
    )
    _common(
        ad,
        "anomaly-detection",
        "NASA's mill.mat, or CSV/Parquet with one row per sample and a cut column (default: the milling simulator)",
    )
    ad.add_argument(
        "--cut-labels",
        dest="labels",
        help="a per-cut table (case, VB or tool_class, DOC, feed, material, window_start, "
        "window_end) joined on the cut column",
    )
    ad.add_argument("--signals", help="comma-separated signal columns (default: every numeric non-label column)")
    ad.add_argument(
        "--cases", type=int, default=8, help="simulated tools when --data is not given (default: %(default)s)"
    )
    ad.set_defaults(func=cmd_anomaly_detection)

    pg = run.add_parser("prognosis", help="tool-wear prognosis by a conditional normalizing flow (amortized inference)")
    _common(pg, "prognosis", "CSV or Parquet of measured wear: one row per case and cut (default: simulated curves)")
    pg.add_argument(
        "--time-column",
        dest="cut",
        help="the column ordering each case's measurements, e.g. a cut number (default: row order)",
    )
    pg.add_argument("--valid-cases", help="comma-separated cases to validate on (Russell and Wang: 1,3,13)")
    pg.add_argument(
        "--test-cases", help="comma-separated cases to test on (Russell and Wang: 2,11,12); with neither, all"
    )
    pg.set_defaults(func=cmd_prognosis)

    si = run.add_parser(
        "surface-inspection",
        help="flag defective parts from surface images: a classifier that may learn from flow-synthesized defects, "
        "or a detector of defects nobody labelled",
    )
    _common(
        si,
        "surface-inspection",
        "a folder with one subfolder of images per class, or a CSV manifest path,label (default: simulated surfaces)",
    )
    si.set_defaults(func=cmd_surface_inspection)

    rt = run.add_parser(
        "retraining",
        help="retrain the champion, whatever its kind, on new data; promote only if "
        "not worse on the same held-out rows",
    )
    _common(
        rt,
        "retraining",
        "new rows: a classifier's labelled table (default: a simulated gearbox batch after a "
        "supplier change), a health index's run-to-failure units, an anomaly detector's "
        "labelled sub-cuts (cut, label, subcut), a wear prognosis's curves (case, cut, VB)",
    )
    rt.add_argument(
        "--drift",
        type=float,
        default=2.0,
        help="drift of the simulated batch when --data is not given (default: %(default)s)",
    )
    rt.add_argument(
        "--from-log",
        action="store_true",
        help="retrain on production rows: the served champion's logged answers that have an outcome "
        "(shopfloor feedback), instead of --data",
    )
    rt.add_argument("--since", help="with --from-log: only answers since (ISO time, or 30m, 6h, 7d)")
    rt.set_defaults(func=cmd_retraining)
