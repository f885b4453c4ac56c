"""``shopfloor compile``, ``submit`` and ``schedule``: pipelines for Kubeflow, and recurring retraining
(on Kubeflow with ``--kfp-url``, else by a local scheduler process)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from shopfloor.constants import CLUSTER_TRACKING_URI, KFP_EXPERIMENT, MIN_LABELLED_ROWS, PIPELINE_NAMES
from shopfloor.errors import DataError
from shopfloor_cli.common import add_model_name, model_name_for


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


def cmd_compile(args: argparse.Namespace) -> int:
    from pipelines.compile import compile_pipeline

    names = list(PIPELINE_NAMES) if args.all else [args.pipeline]
    if not names or names == [None]:
        raise SystemExit("shopfloor compile: name a pipeline or pass --all")
    for name in names:
        out = args.out if (args.out and not args.all) else None
        print(compile_pipeline(name, out=out, image=args.image))
    return 0


def cmd_submit(args: argparse.Namespace) -> int:
    from shopfloor_cli.kfp_client import submit

    result = submit(
        args.pipeline,
        args.host,
        _arguments(args.param),
        tracking_uri=args.tracking_uri,
        image=args.image,
        experiment=args.experiment,
        namespace=args.namespace,
        token=_token(args),
    )
    print(f"run {result['run_id']}: {result['url']}")
    return 0


def cmd_schedule(args: argparse.Namespace) -> int:
    if args.host:
        from shopfloor_cli.kfp_client import schedule

        if not args.cron:
            raise SystemExit("shopfloor schedule: Kubeflow recurring runs take --cron")
        params = _arguments(args.param)
        if args.model_name:
            params["model_name"] = model_name_for(args, "retraining")
        job = schedule(
            args.pipeline,
            args.host,
            args.cron,
            params,
            tracking_uri=args.tracking_uri,
            image=args.image,
            experiment=args.experiment,
            namespace=args.namespace,
            token=_token(args),
        )
        print(f"recurring run {job['recurring_run_id']} ({job['name']}) on cron {job['cron']!r}")
        return 0
    from shopfloor_cli import scheduler

    if not (args.data or args.watch or args.when):
        raise SystemExit(
            "shopfloor schedule: a local schedule needs --data or --watch (the table to retrain on), "
            "or --when (retrain on the served answers with their outcomes)"
        )
    args.data = args.data or args.watch
    model = model_name_for(args, "retraining")
    try:
        spec = scheduler.Schedule(
            data=str(Path(args.data).resolve()) if args.data else "",
            cron=args.cron,
            interval=args.interval,
            label=args.label,
            model_name=model,
            watch=str(Path(args.watch).resolve()) if args.watch else None,
            watch_server=args.watch_server,
            psi=args.psi,
            server_poll=args.server_poll,
            when=args.when,
            min_labelled=args.min_labelled,
        )
    except ValueError as exc:
        raise SystemExit(f"shopfloor schedule: {exc}") from None
    job = scheduler.start(spec)
    when = f"cron {job.cron!r}" if job.cron else f"every {job.interval:g} s" if job.interval else "on triggers"
    watch = f", and on drift in {job.watch}" if job.watch else ""
    if job.when:
        watch += f", and when {job.when} on {job.watch_server} (over {job.min_labelled}+ answers with an outcome)"
    elif job.watch_server:
        watch += f", and when the PSI of a feature served by {job.watch_server} passes {job.psi:g}"
    print(f"local schedule {job.id} (pid {job.pid}): retraining {model} {when}{watch}; log {scheduler.folder()}")
    return 0


def cmd_schedule_list(args: argparse.Namespace) -> int:
    if args.host:
        from shopfloor_cli.kfp_client import list_schedules

        rows = list_schedules(args.host, namespace=args.namespace, token=_token(args))
    else:
        from shopfloor_cli import scheduler

        rows = scheduler.list_all()
    print(
        json.dumps(rows, indent=2)
        if args.format == "json"
        else "\n".join(
            f"{r['id']}  {r.get('cron') or str(r.get('interval')) + ' s'}  "
            f"{'running' if r.get('running', True) else 'stopped'}  runs {r.get('runs', '-')}"
            for r in rows
        )
        or "no schedules"
    )
    return 0


def cmd_schedule_delete(args: argparse.Namespace) -> int:
    if args.host:
        from shopfloor_cli.kfp_client import delete_schedule

        delete_schedule(args.host, args.id, namespace=args.namespace, token=_token(args))
    else:
        from shopfloor_cli import scheduler

        try:
            scheduler.delete(args.id)
        except KeyError as exc:
            raise SystemExit(f"shopfloor schedule delete: {exc.args[0]}") from None
    print(f"deleted {args.id}")
    return 0


def cmd_schedule_resume(args: argparse.Namespace) -> int:
    from shopfloor_cli import scheduler

    try:
        job = scheduler.resume(args.id)
    except (KeyError, ValueError) as exc:
        raise SystemExit(f"shopfloor schedule resume: {exc.args[0]}") from None
    print(f"resumed local schedule {job.id} (pid {job.pid})")
    return 0


def _token(args: argparse.Namespace) -> str | None:
    """The service-account token in ``--token-file``, if given; a named error for a file that cannot be read."""
    if not args.token_file:
        return None
    try:
        token = Path(args.token_file).read_text().strip()
    except OSError as exc:
        raise DataError("--token-file", f"{args.token_file}: {exc.strerror}") from None
    if not token:
        raise DataError("--token-file", f"{args.token_file} is empty")
    return token


def _kubeflow_options(p: argparse.ArgumentParser, host_required: bool) -> None:
    p.add_argument(
        "--kfp-url",
        dest="host",
        required=host_required,
        help="Kubeflow Pipelines API, e.g. http://localhost:8888 (kubectl port-forward svc/ml-pipeline 8888)",
    )
    p.add_argument("--namespace", help="Kubeflow profile namespace (multi-user installs)")
    p.add_argument(
        "--token-file",
        help="a file holding a Kubernetes service-account token for the Kubeflow Pipelines API (multi-user "
        "installs: kubectl create token default-editor --audience pipelines.kubeflow.org)",
    )


def _run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--param", action="append", metavar="NAME=VALUE", help="a pipeline parameter (repeatable)")
    p.add_argument("--image", help="container image for every task (default: the Shopfloor image)")
    p.add_argument("--tracking-uri", default=CLUSTER_TRACKING_URI, help="MLflow as the cluster reaches it")
    p.add_argument("--experiment", default=KFP_EXPERIMENT, help="the Kubeflow Pipelines experiment of the runs")


def add_parser(sub: argparse._SubParsersAction) -> None:
    comp = sub.add_parser("compile", help="compile pipelines to KFP IR YAML for the Kubeflow dashboard")
    comp.add_argument("pipeline", nargs="?", choices=PIPELINE_NAMES)
    comp.add_argument("--all", action="store_true", help="every pipeline, into pipelines/compiled/")
    comp.add_argument("--image", help="container image for every task")
    comp.add_argument("--out", help="output file (one pipeline only)")
    comp.set_defaults(func=cmd_compile)

    sbm = sub.add_parser("submit", help="upload and run a pipeline on Kubeflow")
    sbm.add_argument("pipeline", choices=PIPELINE_NAMES)
    _kubeflow_options(sbm, True)
    _run_options(sbm)
    sbm.set_defaults(func=cmd_submit)

    sch = sub.add_parser("schedule", help="recurring runs: on Kubeflow (--kfp-url) or a local scheduler process")
    sch_sub = sch.add_subparsers(dest="action", required=True)
    rec = sch_sub.add_parser("retraining", help="run the retraining pipeline on a cron line (or an interval)")
    rec.set_defaults(func=cmd_schedule, pipeline="retraining")
    when = rec.add_mutually_exclusive_group()
    when.add_argument("--cron", help='five fields, e.g. "0 3 * * *" (03:00 daily)')
    when.add_argument("--interval", type=float, help="seconds between runs (local scheduler only)")
    _kubeflow_options(rec, False)
    _run_options(rec)
    rec.add_argument("--data", help="local: the table each run retrains on")
    rec.add_argument("--watch", help="local: also run when this file changes and has drifted")
    rec.add_argument(
        "--watch-server",
        metavar="URL",
        help="local: also run when the model server at URL reports online drift (shopfloor_feature_psi)",
    )
    rec.add_argument("--psi", type=float, default=0.25, help="with --watch-server: the PSI that counts as drift")
    rec.add_argument("--server-poll", type=float, default=15.0, help="with --watch-server: seconds between reads")
    rec.add_argument(
        "--when",
        metavar="CONDITION",
        help="local, with --watch-server: run when the served version's live quality meets CONDITION, "
        "e.g. 'live_f2 < 0.6', once per episode; without --data it retrains on the served "
        "answers with their outcomes",
    )
    rec.add_argument(
        "--min-labelled",
        type=int,
        default=MIN_LABELLED_ROWS,
        help="with --when: answers with an outcome needed before the live figure counts",
    )
    rec.add_argument("--label-column", dest="label", default="faulty", help="the label column of the new rows")
    add_model_name(rec, None, "the model to retrain (required with --data or --watch)")
    lst = sch_sub.add_parser("list", help="the schedules (local, or on Kubeflow with --kfp-url)")
    _kubeflow_options(lst, False)
    lst.add_argument(
        "--format", choices=("text", "json"), default="text", help="print for people or machines (default: %(default)s)"
    )
    lst.set_defaults(func=cmd_schedule_list)
    dele = sch_sub.add_parser("delete", help="stop and remove a schedule")
    dele.add_argument("id")
    _kubeflow_options(dele, False)
    dele.set_defaults(func=cmd_schedule_delete)
    res = sch_sub.add_parser(
        "resume",
        help="start a local schedule's scheduler again after a crash or reboot "
        "(a slot already started is not run twice)",
    )
    res.add_argument("id")
    res.set_defaults(func=cmd_schedule_resume)
