"""``shopfloor predict``: a file scored by a registered model as the server answers its rows, written back with
one column per answer (and explanations on request); a bad value is named by its row; a kind whose input is not
table rows says so."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from helpers.cli import run_cli
from helpers.kind_fixtures import DETECTOR, HEALTH, milling_subcuts, register_detector, register_health, run_to_failure
from helpers.serving_fixtures import MODEL, register_gearbox_model


def test_a_file_is_scored_as_the_model_answers_it(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    _, model, rows = register_gearbox_model(home, f2=0.5, variant=True)
    rows.head(150).to_csv(tmp_path / "parts.csv", index=False)
    code, out, err = run_cli(
        "predict", "--model-name", MODEL, "--data", str(tmp_path / "parts.csv"), "--out", str(tmp_path / "s.parquet"),
        "--explain", home=home, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0, err
    assert f"scored 150 rows of parts.csv with {MODEL} version 1 (@champion)" in out
    scored = pd.read_parquet(tmp_path / "s.parquet")
    expected = model.predict(None, rows.head(150))
    assert scored["class"].tolist() == expected["class"].tolist()
    assert np.allclose(scored["fault_probability"], expected["fault_probability"], rtol=1e-12)
    first = json.loads(scored["explanation"].iloc[0])
    assert set(first["contributions"]) == set(rows.columns) and first["class"] == scored["class"].iloc[0]

    bad = rows.head(150).astype({"ws1_press_pinion_peak_kN": object})
    bad.loc[123, "ws1_press_pinion_peak_kN"] = "high"
    bad.to_csv(tmp_path / "bad.csv", index=False)
    code, _, err = run_cli(
        "predict", "--model-name", MODEL, "--data", str(tmp_path / "bad.csv"), "--out", str(tmp_path / "x.csv"),
        home=home, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 2 and "row 123.ws1_press_pinion_peak_kN: not a number: 'high'" in err
    assert not (tmp_path / "x.csv").exists()


def test_a_health_index_scores_each_unit_as_one_request(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SHOPFLOOR_HOME", str(home))
    table = run_to_failure(6, 0)
    model = register_health(home, table, method="ridge")
    shuffled = table.sample(frac=1.0, random_state=0)  # the file's row order is kept in the answer
    shuffled.to_csv(tmp_path / "units.csv", index=False)
    code, _, err = run_cli(
        "predict", "--model-name", HEALTH, "--data", str(tmp_path / "units.csv"), "--out", str(tmp_path / "s.csv"),
        "--explain", home=home, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0, err
    scored = pd.read_csv(tmp_path / "s.csv")
    assert scored["time"].tolist() == shuffled["time"].tolist()
    for _, unit in scored.groupby("unit"):
        ordered = unit.sort_values("time")
        expected = model.predict_rows(model.inputs.from_frame(ordered))["health_index"]
        assert np.allclose(ordered["health_index"], expected)
        assert ordered["explanation"].notna().tolist() == [False] * (len(ordered) - 1) + [True]


def test_a_kind_that_takes_windows_is_served_not_batch_scored(tmp_path, capsys, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("SHOPFLOOR_HOME", str(home))  # the registered model's artifacts go there
    register_detector(home, milling_subcuts(3, 0), kind="mahalanobis")
    pd.DataFrame({"x": [1.0]}).to_csv(tmp_path / "t.csv", index=False)
    code, _, err = run_cli(
        "predict", "--model-name", DETECTOR, "--data", str(tmp_path / "t.csv"), "--out", str(tmp_path / "o.csv"),
        home=home, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 2 and "this anomaly-detection model takes TensorSchema inputs, not table rows" in err


@pytest.mark.parametrize("missing", ["--data", "--out"])
def test_the_file_options_are_required(missing, tmp_path, capsys, monkeypatch):
    args = {"--data": "in.csv", "--out": "out.csv"}
    args.pop(missing)
    flat = [x for pair in args.items() for x in pair]
    code, _, err = run_cli(
        "predict", "--model-name", MODEL, *flat, home=tmp_path, capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 2 and f"the following arguments are required: {missing}" in err
