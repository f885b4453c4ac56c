"""Components of the retraining pipeline: check the new data, build a challenger, decide promotion."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Markdown, Metrics, Model, Output

from components import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def retraining_check(
    data_path: str,
    label: str,
    tracking_uri: str,
    model_name: str,
    adapt: Output[Dataset],
    holdout: Output[Dataset],
    drift: Output[Dataset],
    drift_table: Output[Markdown],
    holdout_size: float = 0.4,
    ks_threshold: float = 0.1,
    psi_threshold: float = 0.25,
    time_column: str = "",
    split: str = "auto",
    seed: int = 0,
) -> str:
    import json
    from pathlib import Path

    from shopfloor.retraining.workflow import check_step

    info = check_step(
        data_path,
        label,
        tracking_uri=tracking_uri,
        adapt=adapt.path,
        holdout=holdout.path,
        report=drift.path,
        model_name=model_name,
        holdout_size=holdout_size,
        ks_threshold=ks_threshold,
        psi_threshold=psi_threshold,
        time_column=time_column,
        split=split,
        seed=seed,
    )
    rows = json.loads(Path(drift.path).read_text()).get("features", [])
    lines = ["| feature | KS | PSI | drifted |", "|---|---|---|---|"]
    lines += [
        f"| {r['feature']} | {r['ks']:.3f} | {r['psi']:.3f} | {'yes' if r['drifted'] else ''} |"
        for r in sorted(rows, key=lambda r: -r["ks"])[:20]
    ]
    Path(drift_table.path).write_text(
        "### Drift against the champion's training rows (top 20 by KS)\n\n" + "\n".join(lines) + "\n"
    )
    return json.dumps(info)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def retraining_challenger(
    adapt: Input[Dataset],
    tracking_uri: str,
    model_name: str,
    challenger: Output[Model],
    fine_tune_epochs: int = 20,
    simulations: int = 6000,
    seed: int = 0,
) -> str:
    import json

    from shopfloor.retraining.workflow import retrain_step

    info = retrain_step(
        adapt.path,
        tracking_uri=tracking_uri,
        challenger=challenger.path,
        model_name=model_name,
        fine_tune_epochs=fine_tune_epochs,
        simulations=simulations,
        seed=seed,
    )
    challenger.metadata.update(info)
    return json.dumps(info)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def retraining_promote(
    adapt: Input[Dataset],
    holdout: Input[Dataset],
    challenger: Input[Model],
    drift: Input[Dataset],
    retrain_info: str,
    check_info: str,
    tracking_uri: str,
    model_name: str,
    metrics: Output[Metrics],
    metric: str = "auto",
    margin: float = 0.0,
) -> str:
    import json

    from shopfloor.retraining.workflow import promote_step

    result = promote_step(
        adapt.path,
        holdout.path,
        challenger.path,
        drift.path,
        tracking_uri=tracking_uri,
        model_name=model_name,
        metric=metric,
        margin=margin,
        retrain_info=json.loads(retrain_info),
    )
    metrics.log_metric(f"challenger_{result['metric']}", round(result["challenger"], 4))
    metrics.log_metric(f"champion_{result['metric']}", round(result["champion"], 4))
    metrics.log_metric("promoted", int(result["promoted"]))
    return json.dumps({**result, "check": json.loads(check_info), "retrain": json.loads(retrain_info)})
