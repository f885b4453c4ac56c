"""``shopfloor serve``, ``deploy`` and ``loadtest``: a registered model behind an endpoint, and its load."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from shopfloor.constants import (
    CHAMPION,
    CLUSTER_TRACKING_URI,
    DEFAULT_MAX_BATCH,
    FAULT_MODEL,
    NAMESPACE,
    PROTOCOLS,
    QUALITY_REFRESH_SECONDS,
    QUALITY_WINDOW_SECONDS,
    SERVE_PORTS,
)
from shopfloor_cli.common import add_model_name, checked_name


def cmd_serve(args: argparse.Namespace) -> int:
    from shopfloor import config

    model = checked_name(args)
    from serving.server import serve
    from serving.trial import TrialMode

    if args.challenger:
        TrialMode.parse(args.challenger)  # a bad share is named before anything loads

    print(
        f"serving models:/{model}@{args.alias} on http://{args.host}:{args.port} (MLflow {config.tracking_uri()})",
        flush=True,
    )
    serve(
        model,
        alias=args.alias,
        port=args.port,
        workers=args.workers,
        host=args.host,
        max_batch=args.max_batch,
        poll_seconds=args.poll_seconds,
        tracking_uri=config.tracking_uri(),
        access_log=args.access_log,
        fast_path=not args.kserve_routes,
        max_body=args.max_body_bytes,
        body_timeout=args.body_timeout,
        grpc_port=args.grpc_port,
        prediction_log=not args.no_prediction_log,
        key_column=args.key_column,
        quality_seconds=args.quality_seconds,
        quality_window=args.quality_window,
        challenger=args.challenger,
    )
    return 0


def cmd_prediction_sink(args: argparse.Namespace) -> int:
    from serving.sink import run_sink

    print(f"prediction sink on http://{args.host}:{args.port} (KServe inference logger CloudEvents)", flush=True)
    run_sink(port=args.port, host=args.host, key_column=args.key_column)
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    import yaml

    from serving.inference_service import schema_errors
    from shopfloor.platform.deploy import deploy_cluster, inference_service

    model = checked_name(args)
    kwargs = dict(
        namespace=args.namespace,
        alias=args.alias,
        image=args.image or None,
        tracking_uri=args.tracking_uri,
        scale_target=args.scale_target,
    )
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    action = (
        "canary" if args.canary is not None else "promote" if args.promote else "rollback" if args.rollback else None
    )
    if action is not None:
        return _rollout(model, action, args, kwargs)
    manifest = inference_service(model, **kwargs)
    errors = schema_errors(manifest)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 2
    if args.dry_run:
        print(yaml.safe_dump(manifest, sort_keys=False), end="")
        return 0
    print(deploy_cluster(model, **kwargs))
    return 0


def _rollout(model: str, action: str, args: argparse.Namespace, kwargs: dict) -> int:
    """``deploy --canary / --end-canary / --rollback``: KServe's canary rollout of the InferenceService; --end-canary
    also moves ``@champion`` to the challenger in the registry (recorded in its history) first."""
    import yaml

    from shopfloor.platform.deploy import canary_patch, rollout_cluster

    kwargs.pop("alias", None)
    if args.dry_run:
        print(yaml.safe_dump(canary_patch(model, action, args.canary, **kwargs), sort_keys=False), end="")
        return 0
    if action == "promote":
        from shopfloor.registry import use_tracking
        from shopfloor.registry.history import promote_challenger

        use_tracking(None)
        promote_challenger(model, command="shopfloor deploy --end-canary")
    result = rollout_cluster(model, action, args.canary, **kwargs)
    print(
        f"InferenceService {result['namespace']}/{model}: {action}, canaryTrafficPercent "
        f"{result['canary_traffic_percent']}"
    )
    return 0


def cmd_loadtest(args: argparse.Namespace) -> int:
    import contextlib
    import json

    from loadtest.run import default_processes, local_server, run_locust, step_profile

    model = checked_name(args)
    out = Path(args.out)
    processes = args.processes or default_processes()
    if args.serve_local:
        out.mkdir(parents=True, exist_ok=True)
        server = local_server(model, log=out / "server.log")
    else:
        server = contextlib.nullcontext(args.host)
    with server as host:
        if args.step:
            rates = [float(r) for r in args.step.split(",")]
            print(
                f"locust step profile: {', '.join(f'{r:g}' for r in rates)} requests/s offered, "
                f"{args.duration} each, {args.protocol}, {processes} process(es), against {host}",
                flush=True,
            )
            profile = step_profile(
                host,
                out,
                rates=rates,
                rate_per_user=args.rate,
                step=args.duration,
                protocol=args.protocol,
                model=model,
                p95_ms=args.p95_ms,
                processes=processes,
            )
            (out / "step_profile.json").write_text(json.dumps(profile, indent=2))
            best = profile["highest_rate_holding_sla"]
            print(
                f"highest rate holding the SLA (p95 <= {args.p95_ms:g} ms, no errors, offered rate achieved): "
                f"{'none' if best is None else f'{best:.0f} requests/s'}; stopped: {profile['stopped_because']}"
            )
            print(f"steps: {out / 'step_profile.json'}")
            return 0 if best is not None else 3
        print(
            f"locust: {args.users} users x {args.rate:g} req/s = {args.users * args.rate:g} offered, "
            f"{args.duration}, {args.protocol}, {processes} process(es), against {host}",
            flush=True,
        )
        result = run_locust(
            host,
            out,
            users=args.users,
            rate=args.rate,
            duration=args.duration,
            protocol=args.protocol,
            model=model,
            p95_ms=args.p95_ms,
            max_error_rate=args.max_error_rate,
            processes=processes,
        )
    print(result.summary())
    print(f"reports: {out / 'report.html'}, {out / 'locust_stats.csv'}")
    return 0 if result.passed else 3


def add_parser(sub: argparse._SubParsersAction) -> None:
    srv = sub.add_parser("serve", help="serve a registered model with KServe (v1 and v2 REST)")
    add_model_name(srv, FAULT_MODEL, "registered model to serve")
    srv.add_argument("--alias", default=CHAMPION, help="which version serves: its alias, followed as it moves")
    srv.add_argument("--port", type=int, default=SERVE_PORTS["fault-detection"], help="HTTP port (REST v1 and v2)")
    srv.add_argument("--host", default="127.0.0.1", help="the address to listen on: 0.0.0.0 in a container")
    srv.add_argument("--workers", type=int, default=1, help="server processes, each with its own model copy")
    srv.add_argument("--max-batch", type=int, default=DEFAULT_MAX_BATCH, help="largest accepted batch, in rows")
    srv.add_argument("--poll-seconds", type=float, default=10.0, help="how often to check the alias (0: never)")
    srv.add_argument("--access-log", action="store_true", help="log every request (costs ~17 %% of the CPU)")
    srv.add_argument(
        "--kserve-routes",
        action="store_true",
        help="answer inference through KServe's FastAPI routes only (no direct path, no answering together)",
    )
    srv.add_argument(
        "--max-body-bytes",
        type=int,
        default=16 * 1024 * 1024,
        help="larger request bodies get 413 before they are parsed",
    )
    srv.add_argument(
        "--body-timeout", type=float, default=30.0, help="seconds a request body may stall before the request gets 408"
    )
    srv.add_argument("--grpc-port", type=int, help="also serve the Open Inference Protocol over gRPC on this port")
    srv.add_argument(
        "--no-prediction-log",
        action="store_true",
        help="do not keep answered rows (default: every answer goes to the Parquet prediction log "
        "under $SHOPFLOOR_HOME/monitoring, written within about a second)",
    )
    srv.add_argument(
        "--key-column",
        help="a business key (part or unit id) that requests may carry beside the "
        "features: kept in the log with the answer, not scored",
    )
    srv.add_argument(
        "--quality-seconds",
        type=float,
        default=QUALITY_REFRESH_SECONDS,
        help="how often live quality is recomputed from the log and the outcomes (0: never)",
    )
    srv.add_argument(
        "--quality-window",
        type=float,
        default=QUALITY_WINDOW_SECONDS,
        help="live quality covers the answers of this many seconds back (default: a week)",
    )
    srv.add_argument(
        "--challenger",
        metavar="shadow|canary:PERCENT",
        help="put @challenger on trial: shadow (scores every request, answers none; its answers go to "
        "the prediction log) or canary:10 (answers about 10 %% of requests)",
    )
    srv.set_defaults(func=cmd_serve)

    snk = sub.add_parser(
        "prediction-sink", help="keep what KServe's inference logger sends (the cluster's prediction log)"
    )
    snk.add_argument("--port", type=int, default=8080, help="port the sink listens on")
    snk.add_argument("--host", default="127.0.0.1", help="the address to listen on: 0.0.0.0 in a container")
    snk.add_argument("--key-column", help="the business key requests carry beside the features")
    snk.set_defaults(func=cmd_prediction_sink)

    dep = sub.add_parser("deploy", help="create or patch the KServe InferenceService of a registered model")
    add_model_name(dep, FAULT_MODEL, "registered model to deploy (also the InferenceService's name)")
    dep.add_argument("--alias", default=CHAMPION, help="which version the InferenceService serves")
    dep.add_argument("--namespace", default=NAMESPACE, help="Kubernetes namespace")
    dep.add_argument("--image", help="container image (default: the Shopfloor image)")
    dep.add_argument("--tracking-uri", default=CLUSTER_TRACKING_URI, help="the MLflow server the pods load from")
    dep.add_argument("--scale-target", type=int, help="requests/s per replica that triggers scaling out")
    dep.add_argument("--dry-run", action="store_true", help="print the manifest instead of applying it")
    roll = dep.add_mutually_exclusive_group()
    roll.add_argument(
        "--canary",
        type=float,
        metavar="PERCENT",
        help="KServe canary rollout: a new revision serving @challenger gets PERCENT %% of the traffic",
    )
    roll.add_argument(
        "--end-canary",
        dest="promote",
        action="store_true",
        help="end the canary: @challenger takes @champion (recorded) and gets all the traffic",
    )
    roll.add_argument(
        "--rollback",
        action="store_true",
        help="end the canary: all the traffic back to the revision that served before it",
    )
    dep.set_defaults(func=cmd_deploy)

    lt = sub.add_parser("loadtest", help="Locust headless against a model server, with an SLA check")
    add_model_name(lt, FAULT_MODEL, "model the server serves")
    lt.add_argument(
        "--url",
        dest="host",
        default=f"http://127.0.0.1:{SERVE_PORTS['fault-detection']}",
        help="URL of the model server",
    )
    lt.add_argument("--serve-local", action="store_true", help="start a local server on the champion for the run")
    lt.add_argument("--users", type=int, default=20, help="simulated clients")
    lt.add_argument("--rate", type=float, default=10.0, help="requests per second per user")
    lt.add_argument("--duration", default="60s", help="how long the load runs (30s, 5m)")
    lt.add_argument("--protocol", choices=PROTOCOLS, default="both", help="which REST protocol the users send")
    lt.add_argument("--p95-ms", type=float, default=56.0, help="the SLA: 95th-percentile latency, ms")
    lt.add_argument("--max-error-rate", type=float, default=0.0, help="the SLA: share of failed requests allowed")
    lt.add_argument("--processes", type=int, help="Locust processes (default: every core but the server's one)")
    lt.add_argument(
        "--step",
        help="a step profile instead: comma-separated offered rates (requests/s), each run "
        "for --duration, until the SLA breaks, e.g. 200,500,1000,2000,3000",
    )
    lt.add_argument("--out", default="loadtest-results", help="folder of Locust's CSV and HTML reports")
    lt.set_defaults(func=cmd_loadtest)
