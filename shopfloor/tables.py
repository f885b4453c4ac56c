"""Comparison tables as people read them: GitHub-style Markdown (KFP's Markdown viewer and terminals both read it)."""

from __future__ import annotations

import numbers

import pandas as pd


def _cell(value: object) -> str:
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        return "" if value != value else f"{value:.3f}"  # NaN: nothing to say
    return str(value)


def markdown_table(frame: pd.DataFrame) -> str:
    """The frame with its index as the first column; reals to three decimals (NaN blank), booleans as yes / blank."""
    head = "| " + " | ".join([frame.index.name or "", *map(str, frame.columns)]) + " |"
    rule = "|" + "---|" * (len(frame.columns) + 1)
    body = ["| " + " | ".join([str(i), *(_cell(v) for v in row)]) + " |" for i, row in frame.iterrows()]
    return "\n".join([head, rule, *body])
