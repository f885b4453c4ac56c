"""MkDocs hook: what each pipeline's default run made, from ``benchmarks/results/pipeline_runs.json`` (written by
``benchmarks/pipeline_runs.py`` from the runs' own MLflow records) and its figures. Page markers:

* ``<!-- pipeline run: PIPELINE -->``: on a pipeline's page, the run's comparison table (the chosen row marked),
  its choice and the figures its run report shows;
* ``<!-- pipeline runs -->``: on the results page, one short summary per pipeline: the method chosen against its
  rivals on the score it was chosen by, drawn here as a bar chart, beside the run's first figure.

Figures are copied into the built site (``figures/``) and the bar charts drawn into it, so neither can go stale
against the JSON the page is made from.
"""

from __future__ import annotations

import json
import numbers
import re
import shutil
from functools import cache
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parents[2] / "benchmarks" / "results"
SOURCE = RESULTS / "pipeline_runs.json"
MARKER, SUMMARY = "<!-- pipeline run: {} -->", "<!-- pipeline runs -->"
CHARTS: dict[str, dict[str, Any]] = {}  # site path of a bar chart -> the pipeline's record, drawn at post-build


@cache
def runs() -> dict[str, Any]:
    return json.loads(SOURCE.read_text())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral | bool):
        return f"{value:.3g}"
    return str(value).replace("|", "\\|")


def _name(row: dict[str, Any]) -> str:
    """A comparison row's method: its first column."""
    return str(next(iter(row.values())))


def _table(record: dict[str, Any]) -> str:
    rows = record["table"]
    if not rows:
        return ""
    columns = [c for c in rows[0] if c != "chosen" and any(r.get(c) is not None for r in rows)]
    out = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = [_cell(row.get(c)) for c in columns]
        if _name(row) == str(record["chosen"]):
            cells = [f"**{c}**" for c in cells]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _images(record: dict[str, Any], limit: int | None = None) -> str:
    return "\n\n".join(
        f'<img src="{f["file"]}" alt="{f["title"]}" style="max-width:100%">' for f in record["figures"][:limit]
    )


def _when() -> str:
    data = runs()
    return f"measured {data['measured_at']} with `.venv/bin/python benchmarks/pipeline_runs.py`"


def pipeline_block(pipeline: str) -> str:
    record = runs()["pipelines"][pipeline]
    selected = record.get("selected_on")
    choice = f"It chose **{record['chosen']}**" + (
        f" on `{selected}` ({record['better']} is better), the row in bold." if selected else "."
    )
    table = _table(record)
    return (
        f"What `{record['command']}` makes with its defaults, read from its own MLflow run ({_when()}). {choice}\n\n"
        + (f"{table}\n\n" if table else "")
        + _images(record)
    )


def _chart_file(pipeline: str) -> str:
    return f"figures/summary/{pipeline}.png"


def summary_block() -> str:
    parts = [f"Each pipeline's default run on its simulator, read from its own MLflow run ({_when()})."]
    for pipeline, record in runs()["pipelines"].items():
        selected = record.get("selected_on")
        lines = [f"### {pipeline}", ""]
        if selected and record["table"]:
            scored = [r for r in record["table"] if isinstance(r.get(selected), numbers.Real)]
            lower = record["better"] == "lower"
            rivals = sorted(
                (r for r in scored if _name(r) != str(record["chosen"])), key=lambda r: r[selected], reverse=not lower
            )
            chosen = next(r for r in scored if _name(r) == str(record["chosen"]))
            against = (
                f", against {_name(rivals[0])} {_cell(rivals[0][selected])}, the best of {len(rivals)} rivals"
                if rivals
                else ""
            )
            lines.append(f"Chosen: **{record['chosen']}**, `{selected}` {_cell(chosen[selected])}{against}.")
            CHARTS[_chart_file(pipeline)] = {"pipeline": pipeline, **record}
            lines += ["", f'<img src="{_chart_file(pipeline)}" alt="{pipeline}: {selected} by method" width="420">']
        else:
            tests = {k: v for k, v in record["metrics"].items() if k.startswith("test_")}
            shown = ", ".join(f"{k} {_cell(v)}" for k, v in list(tests.items())[:4])
            lines.append(f"Registered: **{record['model']}** ({shown}).")
        if record["figures"]:
            lines += ["", _images(record, 1).replace('style="max-width:100%"', 'width="420"')]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _draw(record: dict[str, Any], path: Path) -> None:
    """The score each method was chosen by, one bar per method, the chosen one in colour."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    selected = record["selected_on"]
    rows = [r for r in record["table"] if isinstance(r.get(selected), numbers.Real)]
    rows.sort(key=lambda r: r[selected], reverse=record["better"] == "lower")
    names = [_name(r) for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 0.32 * len(rows) + 1.1))
    colours = ["#2a7ab9" if n == str(record["chosen"]) else "#c9d3dd" for n in names]
    ax.barh(names, [r[selected] for r in rows], color=colours)
    ax.set_xlabel(f"{selected} ({record['better']} is better)")
    ax.set_title(f"{record['pipeline']}: chosen {record['chosen']}", fontsize=10)
    ax.tick_params(labelsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def on_page_markdown(markdown: str, page, config, files) -> str:
    if SUMMARY in markdown:
        markdown = markdown.replace(SUMMARY, summary_block())
    for match in re.finditer(MARKER.format(r"([a-z-]+)"), markdown):
        if match.group(1) not in runs()["pipelines"]:
            raise RuntimeError(f"{SOURCE.name} has no run of {match.group(1)}: run benchmarks/pipeline_runs.py")
    return re.sub(MARKER.format(r"([a-z-]+)"), lambda m: pipeline_block(m.group(1)), markdown)


def on_post_build(config) -> None:
    site = Path(config["site_dir"])
    shutil.copytree(RESULTS / "figures", site / "figures", dirs_exist_ok=True)
    for file, record in CHARTS.items():
        _draw(record, site / file)
