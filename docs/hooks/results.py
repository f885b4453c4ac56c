"""MkDocs hook: the measured-results page, generated at build time from ``benchmarks/results/*.json``, so the
figures on the site and the JSON the benchmarks wrote cannot disagree. Each benchmark gets its command, when and
where it was measured, and its figures (the ones that matter as tables, the rest flattened)."""

from __future__ import annotations

import ast
import json
import numbers
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
PAGE = "results.md"
MARKER = "<!-- results -->"
SKIP = {"benchmark", "measured_at", "machine", "command", "splits", "search_trials", "runs", "trial_records"}


def _cell(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return f"{value:.4g}"
    if isinstance(value, dict) and set(value) == {"mean", "sd"}:
        return f"{value['mean']:.3f} ± {value['sd']:.3f}"
    return str(value).replace("|", "\\|")


def _flat(value, prefix: str = "", depth: int = 0):
    """(dotted key, leaf) pairs, mean/sd pairs kept whole, long lists and deep trees cut."""
    if isinstance(value, dict) and not (set(value) == {"mean", "sd"}):
        if depth > 4:
            return
        for key, item in value.items():
            if key in SKIP:
                continue
            yield from _flat(item, f"{prefix}.{key}" if prefix else str(key), depth + 1)
    elif isinstance(value, list):
        if len(value) <= 12 and all(not isinstance(v, (dict, list)) for v in value):
            yield prefix, ", ".join(_cell(v) for v in value)
    else:
        yield prefix, value


def _table(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def _milling(data: dict) -> str:
    out = []
    selected = data.get("selected", {})
    if selected:
        out.append("Selected on validation (the sub-cut protocol):\n")
        out.append(
            _table(
                [{"figure": k, "value": v} for k, v in selected.items() if not isinstance(v, dict)], ["figure", "value"]
            )
        )
        for key in ("seeds_test_ap", "baselines_test_ap", "baselines_valid_ap"):
            if key in selected:
                out.append(f"\n{key}: " + ", ".join(f"{k} {_cell(v)}" for k, v in selected[key].items()))
    for name, protocol in data.get("protocols", {}).items():
        rows = [
            {
                "detector": "VAE, search",
                **{k: protocol["search"].get(k) for k in ("valid_ap", "test_ap", "test_pr_auc", "test_roc_auc")},
            }
        ]
        single = protocol["single"]["summary"]
        rows.append(
            {
                "detector": "VAE, single runs (mean ± sd)",
                **{k: single.get(k) for k in ("valid_ap", "test_ap", "test_pr_auc", "test_roc_auc")},
            }
        )
        for base, figures in protocol.get("baselines", {}).items():
            rows.append(
                {
                    "detector": base,
                    **{k: figures.get(k) for k in ("valid_ap", "test_ap", "test_pr_auc", "test_roc_auc")},
                }
            )
        out.append(f"\nProtocol `{name}` (registered: {protocol['registered']['detector']}):\n")
        out.append(_table(rows, ["detector", "valid_ap", "test_ap", "test_pr_auc", "test_roc_auc"]))
    return "\n".join(out)


def _health_selection(data: dict) -> str:
    columns = [
        "method",
        "kind",
        "spearman_rul",
        "spearman_rul_sd",
        "monotonicity",
        "trendability",
        "prognosability",
        "rul_rmse",
        "rul_nasa_score",
        "seconds",
    ]
    out = [
        f"Cross-validation across {data['data']['fitted']} fitted engines (chosen: {data['chosen']}, remaining "
        f"life from {data['rul_chosen']}; train step {data['train_step_seconds']:.0f} s):\n",
        _table(data["cv"], columns),
        "\nHeld-out engines (never fitted or chosen on):\n",
    ]
    held = data["held_out"]
    rows = [{"method": m, **v} for m, v in held.get("every_method", {}).items()]
    out.append(_table(rows, ["method", "spearman_rul", "sd"]))
    out.append("\n" + ", ".join(f"{k} {_cell(v)}" for k, v in held.items() if k != "every_method"))
    return "\n".join(out)


def _by_size(runs: dict) -> list[tuple[int, dict]]:
    return sorted(((int(size), run) for size, run in runs.items()), key=lambda pair: pair[0])


def _retraining(key: str, logs: list) -> list[str]:
    """The retraining runs from prediction logs of each size: wall time, the largest process, each step."""
    if not logs:
        return []
    rows = [
        {
            "log_rows": size,
            "wall_s": r.get("wall_s"),
            "largest_process_mb": r.get("largest_process_so_far_mb"),
            "new_rows": r.get("new_rows"),
            "holdout_rows": r.get("holdout_rows"),
            "method": r.get("method"),
            "promoted": r.get("promoted"),
            "exit": r.get("exit"),
        }
        for size, r in logs
    ]
    steps = [{"log_rows": size, "step": name, **step} for size, r in logs for name, step in r.get("steps", {}).items()]
    return [
        "\n`" + key + "` from the prediction log (`shopfloor run retraining --from-log`; the CLI reads the log "
        "before the steps start, so its memory shows only in the largest process):\n",
        _table(
            rows, ["log_rows", "wall_s", "largest_process_mb", "new_rows", "holdout_rows", "method", "promoted", "exit"]
        ),
        "",
        _table(steps, ["log_rows", "step", "seconds", "peak_rss_mb", "status"]),
    ]


def _scaling(data: dict) -> str:
    """One row per run (size, wall time, peak memory of its largest step, the model chosen and its test figure, how
    much the time budget left out), then each run's steps, then the run beside a neighbour."""
    out = []
    for key, label, figure in (
        ("fault_detection", "rows", "test_f2"),
        ("fault_detection_before_cv_rows", "rows", "test_f2"),
        ("health_index", "units", "test_spearman_rul"),
    ):
        runs = _by_size(data.get(key, {}))
        if not runs:
            continue
        rows = [
            {
                label: size,
                "wall_s": r.get("wall_s", r.get("wall_s_steps")),
                "peak_rss_mb": r.get("peak_rss_mb"),
                "chosen": r.get("chosen"),
                figure: r.get(figure),
                "left_out": len(r.get("left_out") or {}),
                "exit": r.get("exit"),
            }
            for size, r in runs
        ]
        steps = [{label: size, "step": name, **step} for size, r in runs for name, step in r.get("steps", {}).items()]
        out += [
            f"\n`{key}`:\n",
            _table(rows, [label, "wall_s", "peak_rss_mb", "chosen", figure, "left_out", "exit"]),
            "",
            _table(steps, [label, "step", "seconds", "peak_rss_mb", "status"]),
        ]
    for key in ("retraining", "retraining_before_memory_fixes"):
        out += _retraining(key, _by_size(data.get(key, {})))
    beside = data.get("beside")
    if beside:
        out += [
            f"\nA default fault-detection run ({beside['rows']} rows) alone and beside a {beside['neighbour']}: "
            f"seconds beside / alone, fair share 2x; whole run {_cell(beside['ratio_total'])}x.\n",
            _table([{"step": k, "ratio": v} for k, v in beside["ratio_per_step"].items()], ["step", "ratio"]),
        ]
    return "\n".join(out)


def _serving_champion(data: dict) -> str:
    """Per kind: the champion of its default run scored in process on one core, then served (requests/s under wrk,
    one worker on one core), with the ratios to a bare ASGI app and a bare HTTP protocol in the same run; then the
    fault classifier's compiled path and load test."""
    kinds = data.get("kinds", {})
    rows = []
    for pipeline, k in kinds.items():
        served = k.get("served", {})
        ours, bare = served.get("shopfloor", {}), served.get("bare_asgi", {})
        one = k.get("predict_rows_ms", {}).get("one", {})
        rows.append(
            {
                "pipeline": pipeline,
                "chosen": k.get("chosen"),
                "one_p50_ms": one.get("p50_ms"),
                "one_p99_ms": one.get("p99_ms"),
                "batch_100_p50_ms": k.get("predict_rows_ms", {}).get("batch_100", {}).get("p50_ms"),
                "v1_one_rps": ours.get("v1_one_8c", {}).get("rps"),
                "v2_one_rps": ours.get("v2_one_8c", {}).get("rps"),
                "grpc_one_rps": ours.get("grpc_one_8", {}).get("rps"),
                "v1_batch_100_rps": ours.get("v1_batch_100_4c", {}).get("rps"),
                "v1_one_per_turn": ours.get("v1_one_8c", {}).get("requests_per_turn"),
                "bare_v1_one_rps": bare.get("v1_one_8c", {}).get("rps"),
                "ratio_v1_one": served.get("ratio_to_bare_asgi", {}).get("v1_one_8c"),
                "bare_protocol_v1_one_rps": served.get("bare_protocol", {}).get("v1_one_8c", {}).get("rps"),
                "ratio_protocol_v1_one": served.get("ratio_to_bare_protocol", {}).get("v1_one_8c"),
            }
        )
    out = [
        "Each pipeline's default champion: one request (one row, one unit's first step, one sub-cut, one wear "
        "curve, one tile image as its PNG file) and 100, scored in process on one core (ms); served by one "
        "`shopfloor serve` worker on one core under wrk on the other (requests/s; gRPC by `grpc_load`); how many "
        "one-row requests the server answered per turn of its event loop (`v1_one_per_turn`: answered together); "
        "and the ratio to two ceilings on the same v1 payload in the same run: a bare ASGI app, and the same fixed "
        "answer written from uvicorn's HTTP protocol beneath ASGI, where the server's direct path answers.\n",
        _table(
            rows,
            [
                "pipeline",
                "chosen",
                "one_p50_ms",
                "one_p99_ms",
                "batch_100_p50_ms",
                "v1_one_rps",
                "v2_one_rps",
                "grpc_one_rps",
                "v1_batch_100_rps",
                "v1_one_per_turn",
                "bare_v1_one_rps",
                "ratio_v1_one",
                "bare_protocol_v1_one_rps",
                "ratio_protocol_v1_one",
            ],
        ),
    ]
    fault = kinds.get("fault-detection", {})
    if "scoring_ms" in fault:
        paths = [
            {
                "path": name,
                "one_p50_ms": v["one"]["p50_ms"],
                "one_p99_ms": v["one"]["p99_ms"],
                "batch_100_p50_ms": v["batch_100"]["p50_ms"],
            }
            for name, v in fault["scoring_ms"].items()
        ]
        forest = fault.get("forest", {})
        paths += [
            {
                "path": f"trees only: {name}",
                "one_p50_ms": forest[name]["one"]["p50_ms"],
                "one_p99_ms": forest[name]["one"]["p99_ms"],
                "batch_100_p50_ms": forest[name]["batch_100"]["p50_ms"],
            }
            for name in ("compiled", "generated", "walk", "scikit-learn")
            if name in forest
        ]
        out += [
            f"\nThe fault classifier ({fault.get('chosen')}; {forest.get('trees', '?')} trees, "
            f"{forest.get('nodes', '?')} nodes, deepest {forest.get('deepest', '?')}): its compiled path against "
            f"the fitted scikit-learn pipeline (largest difference {_cell(fault.get('largest_difference'))}), "
            "and the trees alone: the compiled kernel against the level-by-level numpy walk and scikit-learn's own "
            f"(bit-equal to scikit-learn: {_cell(forest.get('bit_equal_to_scikit_learn'))}):\n",
            _table(paths, ["path", "one_p50_ms", "one_p99_ms", "batch_100_p50_ms"]),
        ]
    test = fault.get("loadtest")
    if test:
        out.append(f"\n`shopfloor loadtest --serve-local --users 200 --rate 10 --duration 30s`: {test.get('sla')}")
    return "\n".join(out)


def _prognosis_draws(data: dict) -> str:
    """Error, band coverage and one request's latency of the served wear forecast by draw count."""
    noise = data.get("noise_10000_other_seed", {})
    return "\n".join(
        [
            f"{data.get('validation_curves')} simulated validation tools, {data.get('observed_cuts')} cuts seen; "
            f"changes against 10,000 draws. 10,000 draws under another seed: RMSE {_cell(noise.get('rmse_change'))} "
            f"mm, coverage {_cell(noise.get('coverage_change'))} (the Monte-Carlo noise). The champion serves "
            f"{data.get('served_draws')} draws.\n",
            _table(
                data.get("by_draws", []),
                ["draws", "rmse", "coverage", "rmse_change", "coverage_change", "p50_ms", "p99_ms"],
            ),
        ]
    )


def _surface_inspection(data: dict) -> str:
    """Both modes of surface inspection: every row's validation and test figures over the seeds."""
    d = data.get("data", {})
    classes = ", ".join(f"{k} {v}" for k, v in d.get("classes", {}).items())
    fidelity = data.get("fidelity_auc", {})
    pm = lambda row, k: f"{_cell(row.get(k))} ± {_cell(row.get(k + '_sd'))}"  # noqa: E731
    classify = [
        {
            **r,
            "test AP": pm(r, "test_ap"),
            "gain over plain": f"{_cell(r.get('test_ap_gain_over_plain'))} ± {_cell(r.get('test_ap_gain_sd'))}"
            if "test_ap_gain_over_plain" in r
            else "",
        }
        for r in data.get("classify", [])
    ]
    detect = [{**r, "unseen kinds ROC-AUC": pm(r, "test_auc_unseen_kinds")} for r in data.get("detect", [])]
    return "\n".join(
        [
            f"{d.get('images')} images ({classes}); held out of training and validation in detect mode: "
            f"{', '.join(d.get('held_out', []))}. Real-vs-synthetic ROC-AUC of a texture classifier (0.5: "
            f"indistinguishable): flow {_cell(fidelity.get('flow'))}, Gaussian codes "
            f"{_cell(fidelity.get('gaussian'))}, the autoencoder's own reconstructions "
            f"{_cell(fidelity.get('reconstruction'))}.\n",
            "Classify mode (chosen on validation AP; `chosen_in`: seeds where the row was chosen):\n",
            _table(
                classify,
                ["method", "chosen_in", "valid_ap", "test AP", "test_auc", "test_f2", "gain over plain", "seconds"],
            ),
            "\nDetect mode (good images only; chosen on validation ROC-AUC):\n",
            _table(
                detect,
                [
                    "method",
                    "chosen_in",
                    "valid_auc",
                    "test_auc",
                    "unseen kinds ROC-AUC",
                    "test_f2",
                    "good_flagged",
                    "seconds",
                ],
            ),
        ]
    )


def _pipeline_runs(data: dict) -> str:
    chosen = ", ".join(f"{k}: {v['chosen'] or v['model']}" for k, v in data["pipelines"].items())
    return f"Chosen by each default run ({chosen}); shown at the top of this page and on each pipeline's page."


SPECIAL = {
    "pipeline_runs": _pipeline_runs,
    "surface_inspection": _surface_inspection,
    "prognosis_draws": _prognosis_draws,
    "milling_anomaly": _milling,
    "health_index_selection": _health_selection,
    "scaling": _scaling,
    "scaling_unbounded": _scaling,
    "serving_champion": _serving_champion,
}


BENCHMARKS = RESULTS.parent


def _script(name: str, data: dict) -> Path | None:
    """The benchmark script that wrote results/NAME.json: named by its command, or the longest script name that
    NAME starts with."""
    command = str(data.get("command", ""))
    match = re.search(r"benchmarks/(\w+)\.py", command)
    if match and (BENCHMARKS / f"{match.group(1)}.py").exists():
        return BENCHMARKS / f"{match.group(1)}.py"
    stems = sorted((p.stem for p in BENCHMARKS.glob("*.py") if name.startswith(p.stem)), key=len, reverse=True)
    return BENCHMARKS / f"{stems[0]}.py" if stems else None


def title(name: str, data: dict) -> str:
    """A section's heading: what its script measures (the first sentence of its docstring), and the variant the
    file holds (``ai4i``, ``gearbox auto``) where one script wrote several."""
    script = _script(name, data)
    doc = (ast.get_docstring(ast.parse(script.read_text())) or "") if script else ""
    first = " ".join(doc.split("\n\n")[0].split())
    cut = re.split(r"(?<=\?)\s|[:.]\s|[:.]$", first, maxsplit=1)[0].strip() or name.replace("_", " ")
    variant = name.removeprefix(script.stem).strip("_").replace("_", " ") if script else ""
    return f"{cut} ({variant})" if variant else cut


def render() -> str:
    sections = []
    for path in sorted(RESULTS.glob("*.json")):
        if path.name.endswith(".partial.json"):
            continue
        data = json.loads(path.read_text())
        name = path.stem
        machine = data.get("machine", {})
        where = (
            f"{machine.get('cpus', '?')} CPUs ({machine.get('processor', '?')}, Python {machine.get('python', '?')})"
        )
        head = [
            f"### {title(name, data)} {{#{name}}}",
            "",
            f"`{data.get('command', name)}`, measured {data.get('measured_at', '?')} on {where}; "
            f"file `benchmarks/results/{path.name}`.",
            "",
        ]
        if name in SPECIAL:
            body = SPECIAL[name](data)
        else:
            rows = [{"figure": k, "value": v} for k, v in _flat(data)][:80]
            body = _table(rows, ["figure", "value"]) if rows else "(no figures)"
        sections.append("\n".join(head) + "\n" + body + "\n")  # a blank line: Markdown starts the table
    return "\n".join(sections)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if page.file.src_path == PAGE and MARKER in markdown:
        return markdown.replace(MARKER, render())
    return markdown
