"""Bad input ends ``shopfloor run`` with a message naming the problem, exit code 2, nothing registered. The checks
run in this process (``main(argv)``); two cases run as a real command, as a user types it."""

import numpy as np
import pandas as pd
import pytest
from helpers.cli import nothing_registered, run_cli, shopfloor

from shopfloor.data.simulate import simulate_gearbox


def _write(tmp_path, table, name="bad.csv"):
    path = tmp_path / name
    table.to_csv(path, index=False)
    return path


BASE = simulate_gearbox(rows=300, seed=0)
MADE = simulate_gearbox(rows=300, seed=0, made_from="2026-01-05")
CASES = {
    "missing file": (None, "faulty", "file not found"),
    "absent label": (BASE, "broken", "broken: label column not found"),
    "one class": (BASE.assign(faulty=0), "faulty", "exactly two classes, found 1"),
    "three classes": (BASE.assign(faulty=np.resize([0, 1, 2], len(BASE))), "faulty", "exactly two classes, found 3"),
    "non-numeric": (
        BASE.assign(ws1_press_pinion_peak_kN="high"),
        "faulty",
        "ws1_press_pinion_peak_kN: feature column is not numeric",
    ),
    "all NaN": (
        BASE.assign(ws2_screw_flange_angle_deg=np.nan),
        "faulty",
        "ws2_screw_flange_angle_deg: feature column has only missing values",
    ),
    "few faults": (
        pd.concat([BASE[BASE.faulty == 0], BASE[BASE.faulty == 1].head(9)]),
        "faulty",
        "only 9 minority rows",
    ),
    "absent categorical": (
        BASE,
        "faulty",
        "variant: column named in drop/categorical is not in the table",
        "--categorical",
        "variant",
    ),
    "one-valued categorical": (
        BASE.assign(variant="A"),
        "faulty",
        "variant: categorical column has 1 distinct",
        "--categorical",
        "variant",
    ),
    "string column": (BASE.assign(variant="A"), "faulty", "variant: feature column is not numeric"),
    "unknown synthesizer": (
        BASE,
        "faulty",
        "synthesizer: synthesizer must be 'all' or a comma-separated choice",
        "--synthesizer",
        "wgan,gan",
    ),
    "unknown threshold metric": (
        BASE,
        "faulty",
        "argument --threshold-metric: invalid choice: 'auc'",
        "--threshold-metric",
        "auc",
    ),
    "unknown objective": (BASE, "faulty", "argument --objective: invalid choice: 'speed'", "--objective", "speed"),
    "too few synthesizer steps": (BASE, "faulty", "argument --max-steps: must be at least 8", "--max-steps", "4"),
    "positive not a label value": (
        BASE,
        "faulty",
        "positive: 'broken' is not a value of the label 'faulty'",
        "--positive",
        "broken",
    ),
    "absent time column": (BASE, "faulty", "made_at: time column not found", "--time-column", "made_at"),
    "time that does not parse": (
        MADE.assign(made_at=MADE.made_at.astype(str).where(MADE.index != 7, "tuesday")),
        "faulty",
        "made_at: time column does not parse as a number or a date: 'tuesday' in row 7",
        "--time-column",
        "made_at",
    ),
    "time split without a time column": (BASE, "faulty", "split: a time split needs --time-column", "--split", "time"),
    "no faults in the latest rows": (
        MADE.assign(faulty=np.where(np.arange(len(MADE)) < 240, MADE.faulty, 0)),
        "faulty",
        "made_at: the test rows of the time split (60 rows, 2026-01-05 08:00:00 .. 2026-01-05 09:58:00) hold no "
        "faulty row",
        "--time-column",
        "made_at",
    ),
}


def _args(case: str, tmp_path) -> tuple[list[str], str]:
    table, label, message, *extra = CASES[case]
    data = tmp_path / "absent.csv" if table is None else _write(tmp_path, table)
    return [
        "run",
        "fault-detection",
        "--data",
        str(data),
        "--model-name",
        "line-1",
        "--label-column",
        label,
        *extra,
    ], message


@pytest.mark.parametrize("case", CASES)
def test_bad_input_is_named_and_nothing_is_registered(case, tmp_path, capsys, monkeypatch):
    args, message = _args(case, tmp_path)
    home = tmp_path / "home"
    code, _, err = run_cli(*args, home=home, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2, err[-2000:]
    assert message in err
    assert "Traceback" not in err
    nothing_registered(home)


@pytest.mark.parametrize("case", ["missing file", "unknown objective"])
def test_the_real_command_exits_2_naming_the_problem(case, tmp_path):
    args, message = _args(case, tmp_path)
    home = tmp_path / "home"
    result = shopfloor(*args, home=home, timeout=120)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
    nothing_registered(home)


@pytest.mark.parametrize("pipeline", ["fault-detection", "health-index", "retraining"])
def test_own_data_needs_a_model_name_and_a_usable_one(pipeline, tmp_path, capsys, monkeypatch):
    data = _write(tmp_path, BASE)
    home = tmp_path / "home"
    code, _, err = run_cli("run", pipeline, "--data", str(data), home=home, capsys=capsys, monkeypatch=monkeypatch)
    assert code == 2 and "model-name: name the model of your own data, e.g. --model-name bad-" in err, err
    code, _, err = run_cli(
        "run",
        pipeline,
        "--data",
        str(data),
        "--model-name",
        "bad name",
        home=home,
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert code == 2 and "model-name: 'bad name' is not a usable model name" in err
    assert not home.exists() or not (home / "mlflow.db").exists()
