"""Prognosis's reading of a user's wear table, as its evaluation reads it: the case, wear and cut columns, each
case's measured curve, the cases left out and why, and which cases validate and test. (The conditional flow
learns from simulated curves; a user's table is what it is measured on.) Problems raise ``DataError``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from shopfloor.data.check import ColumnRole, DataCheck, lengths
from shopfloor.data.ingest import read_table
from shopfloor.defaults import PROGNOSIS
from shopfloor.prognosis.curves import CurveWarning, evaluation_curves


def check_curves(
    path: str | Path,
    case: str = PROGNOSIS.case,
    wear: str = PROGNOSIS.wear,
    *,
    cut: str = "",
    valid_cases: list[str] | None = None,
    test_cases: list[str] | None = None,
    observed: int = PROGNOSIS.observed,
) -> DataCheck:
    table = read_table(path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CurveWarning)
        splits = evaluation_curves(table, case, wear, cut, list(valid_cases or []), list(test_cases or []))
    report = DataCheck("prognosis", str(path), len(table))
    roles = {
        case: ("id", "--case-column: names each tool"),
        wear: ("label", "--wear-column: flank wear in mm, the quantity forecast"),
    }
    if cut:
        roles[cut] = ("time", "--time-column: orders each tool's measurements")
    for column in table.columns:
        role, why = roles.get(column, ("dropped", "not used: the model takes the wear curve alone"))
        report.columns.append(ColumnRole(str(column), role, why))
    for message in caught:
        if issubclass(message.category, CurveWarning):
            report.left_out[str(message.message)] = str(message.message).count("measured)")
    curves = [c for part in splits.values() for c in part.values()]
    sizes = np.array([len(c) for c in curves])
    gaps = int(table[wear].isna().sum())
    report.facts = {
        "cases": {part: ", ".join(str(k) for k in cases) for part, cases in splits.items()},
        "curve lengths": lengths(sizes),
        "wear": f"{np.min([c.min() for c in curves]):.3f} .. {np.max([c.max() for c in curves]):.3f} mm",
        **({"gaps": f"{gaps} missing wear values, interpolated within their case"} if gaps else {}),
        "summary": [f"{len(curves)} cases of {lengths(sizes)}"],
    }
    report.split = "; ".join(f"{part}: {len(cases)} cases" for part, cases in splits.items())
    short = int((sizes <= observed).sum())
    if short:
        report.warnings.append(f"{short} cases have no more than the {observed} observed cuts: nothing to forecast")
    if not cut:
        report.warnings.append("no --time-column: each case's rows are taken in file order")
    return report
