"""One report per run: a self-contained HTML file (tables and plots inline, no network needed to open it) logged
beside the model, and the same facts, shortened, as the registered version's description (a model card the MLflow
UI shows). Registration builds it (``register.register_model``) from what every run logs (its parameters,
metrics, comparison tables and PNG plots) plus what the pipeline adds (``RunReport.section``, ``figure``), and
ends it with the registry's decision.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

REPORT_FILE = "report.html"
STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#222;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .5rem}
th{background:#f3f3f3}tr.chosen td{background:#e8f4e8;font-weight:600}img{max-width:100%}
p.lead{font-size:1.05rem}code{background:#f3f3f3;padding:0 .2rem}
"""


@dataclass
class RunReport:
    """What a run did and decided, for people: a title, an opening line, then sections in order."""

    title: str
    lead: str = ""
    limits: str = ""  # what the model cannot do; the model card's last line
    sections: list[tuple[str, str]] = field(default_factory=list)  # (heading, HTML)

    def section(self, heading: str, text: str) -> None:
        """A paragraph of plain text (escaped)."""
        self.sections.append((heading, f"<p>{html.escape(text)}</p>"))

    def table(self, heading: str, frame: pd.DataFrame, chosen: str | None = None, note: str = "") -> None:
        """``frame`` as a table; the row whose first cell is ``chosen`` is marked."""
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
        rows = []
        for record in frame.itertuples(index=False):
            cells = "".join(f"<td>{html.escape(_cell(v))}</td>" for v in record)
            mark = ' class="chosen"' if chosen is not None and str(record[0]) == chosen else ""
            rows.append(f"<tr{mark}>{cells}</tr>")
        extra = f"<p>{html.escape(note)}</p>" if note else ""
        self.sections.append((heading, f"{extra}<table><tr>{head}</tr>{''.join(rows)}</table>"))

    def facts(self, heading: str, values: dict[str, Any]) -> None:
        self.table(heading, pd.DataFrame({"": list(values), "value": [_cell(v) for v in values.values()]}))

    def figure(self, heading: str, figure: Any) -> None:
        """A matplotlib figure, inline as PNG (closed after)."""
        import matplotlib.pyplot as plt

        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
        plt.close(figure)
        self.image(heading, buffer.getvalue())

    def image(self, heading: str, png: bytes) -> None:
        data = base64.b64encode(png).decode()
        self.sections.append((heading, f'<img alt="{html.escape(heading)}" src="data:image/png;base64,{data}">'))

    def render(self) -> str:
        body = "".join(f"<h2>{html.escape(h)}</h2>{content}" for h, content in self.sections)
        lead = f'<p class="lead">{html.escape(self.lead)}</p>' if self.lead else ""
        return (
            f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>'
            f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>{lead}{body}</body></html>"
        )


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def model_card(
    *,
    kind: str,
    predicts: str,
    trained: str,
    measured: dict[str, float],
    decision: str,
    limits: str,
) -> str:
    """The registered version's description (Markdown, as the MLflow UI shows it)."""
    figures = ", ".join(f"{k} {v:.4g}" for k, v in measured.items())
    lines = [
        f"**{kind}** model. Predicts: {predicts}.",
        f"Trained: {trained}.",
        f"Measured on held-out rows: {figures}.",
        f"Registry: {decision}.",
    ]
    if limits:
        lines.append(f"Limits: {limits}")
    return "\n\n".join(lines)


def png_artifacts(artifacts: dict[str, Path]) -> list[tuple[str, bytes]]:
    """The PNG plots among a run's artifacts, as (name, bytes), for the report."""
    return [(name, Path(path).read_bytes()) for name, path in artifacts.items() if name.lower().endswith(".png")]
