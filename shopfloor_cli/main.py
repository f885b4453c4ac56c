"""The ``shopfloor`` command: one front door to data, pipelines, the MLflow UI and later serving.

It lives outside the ``shopfloor`` package because it imports ``pipelines`` (KFP) and ``serving``
(KServe), and ``shopfloor`` must import neither. Heavy imports happen inside each subcommand so that
``shopfloor --help`` answers at once.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

from shopfloor.errors import ShopfloorError


def _list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


# ------------------------------------------------------------------ data
def cmd_data_simulate(args: argparse.Namespace) -> int:
    from shopfloor.data.simulate import simulate_gearbox

    table = simulate_gearbox(rows=args.rows, fault_rate=args.fault_rate, seed=args.seed, drift=args.drift)
    out = _write_table(table, args.out)
    print(f"wrote {len(table)} rows x {table.shape[1] - 1} features to {out} "
          f"({table['faulty'].mean():.1%} labelled faulty, drift {args.drift:g})")
    return 0


def cmd_data_cutting_force(args: argparse.Namespace) -> int:
    from shopfloor.data.simulate import simulate_cutting_force

    table = simulate_cutting_force(rows=args.rows, material=args.material, noise=args.noise, seed=args.seed)
    out = _write_table(table, args.out)
    print(f"wrote {len(table)} rows of specific cutting force for {args.material} to {out}")
    return 0


def _write_table(table, path: str) -> Path:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() in {".parquet", ".pq"}:
        table.to_parquet(out, index=False)
    else:
        table.to_csv(out, index=False)
    return out


def default_gearbox_data(rows: int = 3000, seed: int = 0) -> Path:
    """The embedded default: a simulated gearbox table in the data directory (made once per seed)."""
    from shopfloor import config
    from shopfloor.data.simulate import simulate_gearbox

    path = config.home() / "data" / f"gearbox_{rows}_{seed}.csv"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        simulate_gearbox(rows=rows, seed=seed).to_csv(path, index=False)
    return path


# ------------------------------------------------------------------ run
def cmd_run_fault_detection(args: argparse.Namespace) -> int:
    from shopfloor import config
    from shopfloor.data import ingest as ing
    from shopfloor.fault_detection import comparison_table, markdown_table

    data = Path(args.data).resolve() if args.data else default_gearbox_data(args.rows, args.seed)
    label = args.label or "faulty"
    drop, categorical = _list(args.drop), _list(args.categorical)
    # Check the table here too, so a bad file fails in a second with a clear message.
    ing.prepare(ing.read_table(data), label, drop=drop, categorical=categorical)

    from pipelines.fault_detection import fault_detection
    from pipelines.local import run_local

    uri = config.tracking_uri()
    print(f"fault-detection on {data} (label {label!r}); MLflow at {uri}", flush=True)
    result = run_local(fault_detection, data_path=str(data), tracking_uri=uri, label=label,
                       drop_columns=drop, categorical=categorical, synthesizer=args.synthesizer,
                       filter_method=args.filter, classifier=args.classifier, deploy_target=args.deploy,
                       serve_port=args.port,
                       n_trials=args.trials,
                       timeout=args.timeout, max_epochs=args.max_epochs, optuna_storage=config.optuna_storage(),
                       study_name=args.study or f"{data.stem}-{args.seed}", seed=args.seed)
    report = result.pop("report")
    print("\nTest split, metrics by training set:\n")
    print(markdown_table(comparison_table(report)))
    print(f"\nchosen on validation F2: {report['best']}")
    print(f"registered: {result['model_name']} version {result['version']} as @{result['alias']} "
          f"(test F2 {result['test_f2']:.3f}; previous champion "
          f"{'none' if result['previous_champion'] is None else format(result['previous_champion'], '.3f')})")
    if args.json:
        Path(args.json).write_text(json.dumps({**result, "report": report}, indent=2))
    return 0


def cmd_run_health_index(args: argparse.Namespace) -> int:
    from shopfloor import config
    from shopfloor.data.ingest import read_table
    from shopfloor.health.data import load_trajectories

    if args.data:
        data, unit, time, truth = Path(args.data).resolve(), args.unit, args.time, args.truth or ""
    else:
        from shopfloor.data.simulate import simulate_run_to_failure

        data = config.home() / "data" / f"run_to_failure_{args.seed}.csv"
        if not data.exists():
            data.parent.mkdir(parents=True, exist_ok=True)
            simulate_run_to_failure(units=args.units, seed=args.seed).to_csv(data, index=False)
        unit, time, truth = "unit", "time", "wear"
    drop = _list(args.drop)
    load_trajectories(read_table(data), unit, time, args.t_d, args.t_f, exclude=[truth, *drop] if truth else drop)

    from pipelines.health_index import health_index
    from pipelines.local import run_local

    uri = config.tracking_uri()
    print(f"health-index on {data} (unit {unit!r}, time {time!r}); MLflow at {uri}", flush=True)
    result = run_local(health_index, data_path=str(data), tracking_uri=uri, unit=unit, time=time, truth=truth,
                       drop_columns=drop, t_d=args.t_d, t_f=args.t_f, diversity=args.diversity, epochs=args.epochs,
                       deploy_target=args.deploy, serve_port=args.port, seed=args.seed)
    print("\nHealth-index metrics:")
    for key, value in sorted(result["metrics"].items()):
        print(f"  {key:28s} {value:.3f}")
    print(f"registered: {result['model_name']} version {result['version']} as @{result['alias']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


def cmd_run_retraining(args: argparse.Namespace) -> int:
    from shopfloor import config
    from shopfloor.retraining import check_columns, load_champion

    if args.data:
        data = Path(args.data).resolve()
    else:  # the embedded default: a batch from after a supplier change
        from shopfloor.data.simulate import simulate_gearbox

        data = config.home() / "data" / f"gearbox_drift_{args.drift:g}_{args.seed}.csv"
        if not data.exists():
            data.parent.mkdir(parents=True, exist_ok=True)
            simulate_gearbox(rows=1500, seed=100 + args.seed, drift=args.drift).to_csv(data, index=False)
    # Fail in a second, before any pipeline starts, on no champion, an empty file or other columns.
    from shopfloor.data.ingest import read_table

    _, _, features = load_champion(args.model, with_model=False)
    check_columns(read_table(data), features, args.label)

    from pipelines.local import run_local
    from pipelines.retraining import retraining

    uri = config.tracking_uri()
    print(f"retraining {args.model}@champion on {data}; MLflow at {uri}", flush=True)
    result = run_local(retraining, data_path=str(data), tracking_uri=uri, label=args.label, model_name=args.model,
                       metric=args.metric, margin=args.margin, seed=args.seed)
    check, retrain = result["check"], result["retrain"]
    drifted = ", ".join(check["drifted"][:6]) or "none"
    print(f"\ndrift: {'yes' if check['drift'] else 'no'} (features: {drifted})")
    print(f"challenger by {retrain['method']} in {retrain['seconds']:.2f} s")
    print(result["reason"])
    print(f"registered: {result['model_name']} version {result['version']} as @{result['alias']}")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 0


# ------------------------------------------------------------------ kubeflow
def _arguments(pairs: list[str] | None) -> dict:
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"--param expects NAME=VALUE, got {pair!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def cmd_submit(args: argparse.Namespace) -> int:
    from pipelines.kubeflow import submit

    result = submit(args.pipeline, args.host, _arguments(args.param), tracking_uri=args.tracking_uri,
                    image=args.image, experiment=args.experiment, namespace=args.namespace)
    print(f"run {result['run_id']}: {result['url']}")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    if args.host:
        from pipelines.kubeflow import schedule

        if not args.cron:
            raise SystemExit("shopfloor schedule: Kubeflow recurring runs take --cron")
        job = schedule(args.pipeline, args.host, args.cron, _arguments(args.param), tracking_uri=args.tracking_uri,
                       image=args.image, experiment=args.experiment, namespace=args.namespace)
        print(f"recurring run {job['recurring_run_id']} ({job['name']}) on cron {job['cron']!r}")
        return 0
    from pipelines import scheduler

    if not (args.data or args.watch):
        raise SystemExit("shopfloor schedule: a local schedule needs --data or --watch (the table to retrain on)")
    try:
        spec = scheduler.Schedule(data=str(Path(args.data or args.watch).resolve()), cron=args.cron,
                                  interval=args.interval, label=args.label, model_name=args.model,
                                  watch=str(Path(args.watch).resolve()) if args.watch else None)
    except ValueError as exc:
        raise SystemExit(f"shopfloor schedule: {exc}") from None
    job = scheduler.start(spec)
    when = f"cron {job.cron!r}" if job.cron else f"every {job.interval:g} s"
    watch = f", and on drift in {job.watch}" if job.watch else ""
    print(f"local schedule {job.id} (pid {job.pid}): retraining {when}{watch}; log {scheduler.folder()}")
    return 0


def cmd_schedule_list(args: argparse.Namespace) -> int:
    if args.host:
        from pipelines.kubeflow import list_schedules

        rows = list_schedules(args.host, namespace=args.namespace)
    else:
        from pipelines import scheduler

        rows = scheduler.list_all()
    print(json.dumps(rows, indent=2) if args.json else
          "\n".join(f"{r['id']}  {r.get('cron') or str(r.get('interval')) + ' s'}  "
                    f"{'running' if r.get('running', True) else 'stopped'}  runs {r.get('runs', '-')}"
                    for r in rows) or "no schedules")
    return 0


def cmd_schedule_delete(args: argparse.Namespace) -> int:
    if args.host:
        from pipelines.kubeflow import delete_schedule

        delete_schedule(args.host, args.id, namespace=args.namespace)
    else:
        from pipelines import scheduler

        try:
            scheduler.delete(args.id)
        except KeyError as exc:
            raise SystemExit(f"shopfloor schedule delete: {exc.args[0]}") from None
    print(f"deleted {args.id}")
    return 0


# ------------------------------------------------------------------ compile
def cmd_compile(args: argparse.Namespace) -> int:
    from pipelines.compile import compile_pipeline
    from pipelines.registry import PIPELINES

    names = sorted(PIPELINES) if args.all else [args.pipeline]
    if not names or names == [None]:
        raise SystemExit("shopfloor compile: name a pipeline or pass --all")
    for name in names:
        out = args.out if (args.out and not args.all) else None
        print(compile_pipeline(name, out=out, image=args.image))
    return 0


# ------------------------------------------------------------------ serve
def cmd_serve(args: argparse.Namespace) -> int:
    from serving.server import serve
    from shopfloor import config

    print(f"serving models:/{args.model}@{args.alias} on http://{args.host}:{args.port} "
          f"(MLflow {config.tracking_uri()})", flush=True)
    serve(args.model, alias=args.alias, port=args.port, workers=args.workers, host=args.host,
          max_batch=args.max_batch, poll_seconds=args.poll_seconds, tracking_uri=config.tracking_uri(),
          access_log=args.access_log)
    return 0


# ------------------------------------------------------------------ deploy
def cmd_deploy(args: argparse.Namespace) -> int:
    import yaml

    from serving.inference_service import inference_service, schema_errors, to_manifest

    kwargs = dict(namespace=args.namespace, alias=args.alias, image=args.image or None,
                  tracking_uri=args.tracking_uri, scale_target=args.scale_target)
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    manifest = to_manifest(inference_service(args.model, **kwargs))
    errors = schema_errors(manifest)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 2
    if args.dry_run:
        print(yaml.safe_dump(manifest, sort_keys=False), end="")
        return 0
    from serving.deploy import deploy_cluster

    print(deploy_cluster(args.model, **kwargs))
    return 0


# ------------------------------------------------------------------ loadtest
def cmd_loadtest(args: argparse.Namespace) -> int:
    import contextlib

    from loadtest.run import local_server, run_locust

    out = Path(args.out)
    if args.serve_local:
        server = local_server(args.model, log=out / "server.log")
        out.mkdir(parents=True, exist_ok=True)
    else:
        server = contextlib.nullcontext(args.host)
    with server as host:
        print(f"locust: {args.users} users x {args.rate:g} req/s, {args.duration}, {args.protocol}, against {host}",
              flush=True)
        result = run_locust(host, out, users=args.users, rate=args.rate, duration=args.duration,
                            protocol=args.protocol, model=args.model, p95_ms=args.p95_ms,
                            max_error_rate=args.max_error_rate)
    print(result.summary())
    print(f"reports: {out / 'report.html'}, {out / 'locust_stats.csv'}")
    return 0 if result.passed else 3


# ------------------------------------------------------------------ ui
def cmd_ui(args: argparse.Namespace) -> int:
    from shopfloor import config

    cmd = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", config.tracking_uri(),
           "--default-artifact-root", config.artifact_root(), "--host", "127.0.0.1", "--port", str(args.port)]
    print(" ".join(cmd), flush=True)
    return subprocess.call(cmd)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shopfloor", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="simulate data sets").add_subparsers(dest="what", required=True)
    sim = data.add_parser("simulate", help="write a simulated table").add_subparsers(dest="kind", required=True)
    gear = sim.add_parser("gearbox", help="gearbox assembly line: 66 features, rare faulty units")
    gear.add_argument("--rows", type=int, default=3000)
    gear.add_argument("--fault-rate", type=float, default=0.07)
    gear.add_argument("--seed", type=int, default=0)
    gear.add_argument("--drift", type=float, default=0.0, help="supplier change: 1 moves the seats 7 %%, screws 8 %%")
    gear.add_argument("--out", required=True, help="CSV or Parquet (by suffix)")
    gear.set_defaults(func=cmd_data_simulate)
    cut = sim.add_parser("cutting-force", help="specific cutting force by Kienzle's law (h, rake, speed)")
    cut.add_argument("--material", default="C35", help="C35, 16MnCr5, 42CrMo4 or GG20")
    cut.add_argument("--rows", type=int, default=91)
    cut.add_argument("--noise", type=float, default=0.02, help="relative sd of the measurement noise")
    cut.add_argument("--seed", type=int, default=0)
    cut.add_argument("--out", required=True, help="CSV or Parquet (by suffix)")
    cut.set_defaults(func=cmd_data_cutting_force)

    run = sub.add_parser("run", help="run a pipeline here with kfp.local")
    run = run.add_subparsers(dest="pipeline", required=True)
    fd = run.add_parser("fault-detection", help="synthesize faults, train, register")
    fd.add_argument("--data", help="CSV or Parquet table (default: the gearbox simulator)")
    fd.add_argument("--label", help="label column (default: faulty)")
    fd.add_argument("--drop", help="comma-separated columns to ignore")
    fd.add_argument("--categorical", help="comma-separated columns to one-hot encode")
    fd.add_argument("--synthesizer", default="wgan", choices=["wgan", "ctgan", "flow", "all"],
                    help="which synthesizer(s) to tune; 'all' runs the three as parallel branches")
    fd.add_argument("--filter", default="kmeans", choices=["kmeans", "likelihood", "both"],
                    help="how synthetic rows are filtered before training")
    fd.add_argument("--classifier", default="logreg", choices=["logreg", "resnet"],
                    help="logistic regression, or a ResNet that retraining adapts by EnKF")
    fd.add_argument("--trials", type=int, default=10, help="Optuna trials per synthesizer")
    fd.add_argument("--deploy", default="none", choices=["none", "local", "cluster"],
                    help="serve the new champion: a local model server on --port, or a KServe InferenceService")
    fd.add_argument("--port", type=int, default=8080, help="port of the local model server (--deploy local)")
    fd.add_argument("--timeout", type=float, default=75.0, help="Optuna time budget in seconds")
    fd.add_argument("--max-epochs", type=int, default=300, help="cap on WGAN training epochs per trial")
    fd.add_argument("--study", help="Optuna study name (resumed if it exists)")
    fd.add_argument("--rows", type=int, default=3000, help="rows of simulated data when --data is not given")
    fd.add_argument("--seed", type=int, default=0)
    fd.add_argument("--json", help="also write the result as JSON to this file")
    fd.set_defaults(func=cmd_run_fault_detection)

    hi = run.add_parser("health-index", help="2DS + APAIC health index from run-to-failure trajectories")
    hi.add_argument("--data", help="CSV or Parquet, one row per unit and time step (default: the simulator)")
    hi.add_argument("--unit", default="unit")
    hi.add_argument("--time", default="time")
    hi.add_argument("--truth", help="a ground-truth column to compare with (kept out of the features)")
    hi.add_argument("--drop", help="comma-separated columns that are not features")
    hi.add_argument("--t-d", type=int, default=30, help="first steps of each unit taken as healthy")
    hi.add_argument("--t-f", type=int, default=30, help="last steps of each unit taken as failed")
    hi.add_argument("--diversity", type=float, default=1.0, help="lambda of the diversity loss (0: plain DeepSAD)")
    hi.add_argument("--epochs", type=int, default=60)
    hi.add_argument("--units", type=int, default=10, help="simulated units when --data is not given")
    hi.add_argument("--deploy", default="none", choices=["none", "local", "cluster"])
    hi.add_argument("--port", type=int, default=8081)
    hi.add_argument("--seed", type=int, default=0)
    hi.add_argument("--json", help="also write the result as JSON to this file")
    hi.set_defaults(func=cmd_run_health_index)

    rt = run.add_parser("retraining", help="retrain the champion on new data; promote only if not worse")
    rt.add_argument("--data", help="new labelled rows (default: a simulated gearbox batch after a supplier change)")
    rt.add_argument("--label", default="faulty")
    rt.add_argument("--model", default="gearbox-fault-classifier")
    rt.add_argument("--metric", default="f2", choices=["f2", "f1", "recall", "precision", "g_mean", "accuracy"])
    rt.add_argument("--margin", type=float, default=0.0, help="how much worse the challenger may be and still win")
    rt.add_argument("--drift", type=float, default=2.0, help="drift of the simulated batch when --data is not given")
    rt.add_argument("--seed", type=int, default=0)
    rt.add_argument("--json", help="also write the result as JSON to this file")
    rt.set_defaults(func=cmd_run_retraining)

    def kubeflow_options(p: argparse.ArgumentParser, host_required: bool) -> None:
        p.add_argument("--host", required=host_required, help="Kubeflow Pipelines API, e.g. http://localhost:8080")
        p.add_argument("--namespace", help="Kubeflow profile namespace (multi-user installs)")

    def run_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--param", action="append", metavar="NAME=VALUE", help="a pipeline parameter (repeatable)")
        p.add_argument("--image", help="container image for every task (default: the Shopfloor image)")
        p.add_argument("--tracking-uri", default="http://mlflow.shopfloor.svc.cluster.local:5000",
                       help="MLflow as the cluster reaches it")
        p.add_argument("--experiment", default="shopfloor")

    sbm = sub.add_parser("submit", help="upload and run a pipeline on Kubeflow")
    sbm.add_argument("pipeline", choices=["fault-detection", "health-index", "retraining"])
    kubeflow_options(sbm, True)
    run_options(sbm)
    sbm.set_defaults(func=cmd_submit)

    sch = sub.add_parser("schedule", help="recurring runs: on Kubeflow (--host) or a local scheduler process")
    sch_sub = sch.add_subparsers(dest="action", required=True)
    for name in ("retraining",):
        rec = sch_sub.add_parser(name, help=f"run the {name} pipeline on a cron line (or an interval)")
        rec.set_defaults(func=cmd_schedule, pipeline=name)
        when = rec.add_mutually_exclusive_group(required=True)
        when.add_argument("--cron", help='five fields, e.g. "0 3 * * *" (03:00 daily)')
        when.add_argument("--interval", type=float, help="seconds between runs (local scheduler only)")
        kubeflow_options(rec, False)
        run_options(rec)
        rec.add_argument("--data", help="local: the table each run retrains on")
        rec.add_argument("--watch", help="local: also run when this file changes and has drifted")
        rec.add_argument("--label", default="faulty")
        rec.add_argument("--model", default="gearbox-fault-classifier")
    lst = sch_sub.add_parser("list", help="the schedules (local, or on Kubeflow with --host)")
    kubeflow_options(lst, False)
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(func=cmd_schedule_list)
    dele = sch_sub.add_parser("delete", help="stop and remove a schedule")
    dele.add_argument("id")
    kubeflow_options(dele, False)
    dele.set_defaults(func=cmd_schedule_delete)

    comp = sub.add_parser("compile", help="compile pipelines to KFP IR YAML for the Kubeflow dashboard")
    comp.add_argument("pipeline", nargs="?")
    comp.add_argument("--all", action="store_true", help="every pipeline, into pipelines/compiled/")
    comp.add_argument("--image", help="container image for every task")
    comp.add_argument("--out", help="output file (one pipeline only)")
    comp.set_defaults(func=cmd_compile)

    srv = sub.add_parser("serve", help="serve a registered model with KServe (v1 and v2 REST)")
    srv.add_argument("--model", default="gearbox-fault-classifier")
    srv.add_argument("--alias", default="champion")
    srv.add_argument("--port", type=int, default=8080)
    srv.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container")
    srv.add_argument("--workers", type=int, default=1)
    srv.add_argument("--max-batch", type=int, default=4096, help="largest accepted batch, in rows")
    srv.add_argument("--poll-seconds", type=float, default=10.0, help="how often to check the alias (0: never)")
    srv.add_argument("--access-log", action="store_true", help="log every request (costs ~17 %% of the CPU)")
    srv.set_defaults(func=cmd_serve)

    dep = sub.add_parser("deploy", help="create or patch the KServe InferenceService of a registered model")
    dep.add_argument("--model", default="gearbox-fault-classifier")
    dep.add_argument("--alias", default="champion")
    dep.add_argument("--namespace", default="kubeflow-user-example-com")
    dep.add_argument("--image", help="container image (default: the Shopfloor image)")
    dep.add_argument("--tracking-uri", default="http://mlflow.shopfloor.svc.cluster.local:5000")
    dep.add_argument("--scale-target", type=int, help="requests/s per replica that triggers scaling out")
    dep.add_argument("--dry-run", action="store_true", help="print the manifest instead of applying it")
    dep.set_defaults(func=cmd_deploy)

    lt = sub.add_parser("loadtest", help="Locust headless against a model server, with an SLA check")
    lt.add_argument("--host", default="http://127.0.0.1:8080")
    lt.add_argument("--serve-local", action="store_true", help="start a local server on the champion for the run")
    lt.add_argument("--model", default="gearbox-fault-classifier")
    lt.add_argument("--users", type=int, default=20)
    lt.add_argument("--rate", type=float, default=10.0, help="requests per second per user")
    lt.add_argument("--duration", default="60s")
    lt.add_argument("--protocol", choices=["v1", "v2", "both"], default="both")
    lt.add_argument("--p95-ms", type=float, default=56.0)
    lt.add_argument("--max-error-rate", type=float, default=0.0)
    lt.add_argument("--out", default="loadtest-results")
    lt.set_defaults(func=cmd_loadtest)

    ui = sub.add_parser("ui", help="the MLflow UI on 127.0.0.1")
    ui.add_argument("--port", type=int, default=5000)
    ui.set_defaults(func=cmd_ui)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    os.environ.setdefault("TQDM_MININTERVAL", "2")
    try:
        return args.func(args)
    except ShopfloorError as exc:
        print(f"shopfloor: error: {exc}", file=sys.stderr)
        return 2
    except RuntimeError as exc:
        print(f"shopfloor: failed: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
