"""``shopfloor data check``: each pipeline's embedded data read as its run reads it, the hostile-table corpus
(every table either checked, each column given a role, or refused with the error its run gives), doubts as
warnings with exit 0, problems as named errors with exit 2, and the check's summary first in every run."""

from __future__ import annotations

import json

import numpy as np
import pytest
from helpers.cli import run_cli
from helpers.hostile_tables import LABEL, corpus

from shopfloor.data import ingest as ing
from shopfloor.data.check import ROLES
from shopfloor.data.simulate import simulate_gearbox
from shopfloor.errors import DataError
from shopfloor.fault_detection.check import check_table

CORPUS = corpus()


@pytest.mark.parametrize("name, table, options, expected", CORPUS, ids=[c[0] for c in CORPUS])
def test_the_hostile_corpus_is_checked_as_its_run_reads_it(name, table, options, expected, tmp_path):
    path = tmp_path / "table.parquet"
    table.to_parquet(path, index=False)
    if expected != "trains":
        with pytest.raises(DataError, match=expected.split(": ", 1)[1]) as caught:
            check_table(path, LABEL, **options)
        assert caught.value.field == expected.split(":")[0]
        return
    report, prepared, _ = check_table(path, LABEL, **options)
    assert [c.name for c in report.columns] == [str(c) for c in table.columns]
    assert {c.role for c in report.columns} <= set(ROLES)
    features = [c.name for c in report.columns if c.role in ("feature", "categorical")]
    assert features == list(prepared.features.columns)  # the check's features are the ones the model learns
    if name == "constant column":
        assert any(w.startswith("line: constant") for w in report.warnings)
    if name == "half a column missing":
        why = next(c.why for c in report.columns if c.name == "humidity")
        assert "missing (filled with the training median)" in why


def _data(tmp_path, pipeline: str) -> tuple[str, list[str]]:
    """A file of ``pipeline``'s embedded kind and the options its check needs."""
    if pipeline == "fault-detection":
        path = tmp_path / "line.csv"
        simulate_gearbox(rows=400, seed=0, made_from="2026-01-05").to_csv(path, index=False)
        return str(path), ["--time-column", "made_at"]
    if pipeline == "health-index":
        from shopfloor.data.simulate import simulate_run_to_failure

        path = tmp_path / "units.csv"
        simulate_run_to_failure(units=6, seed=0).to_csv(path, index=False)
        return str(path), ["--truth-column", "wear"]
    if pipeline == "anomaly-detection":
        from shopfloor.data import embedded

        return str(embedded.milling(4, 0)), ["--time-column", "run"]
    if pipeline == "prognosis":
        from shopfloor.prognosis.wear_model import wear_table

        path = tmp_path / "wear.csv"
        wear_table(cases=4, seed=0).to_csv(path, index=False)
        return str(path), ["--time-column", "cut"]
    from shopfloor.surface_inspection.simulate import simulate_surfaces

    return str(simulate_surfaces(tmp_path / "surfaces", counts={"good": 20, "pit": 6, "crack": 6})), []


EXPECTED = {
    "fault-detection": ("400 rows", "in time order by 'made_at'", {"time", "label", "feature"}),
    "health-index": ("6 units of", "held out (at random)", {"unit", "time", "truth", "feature"}),
    "anomaly-detection": ("cuts,", "time: train", {"id", "time", "feature", "label"}),
    "prognosis": ("4 cases of", "test: 4 cases", {"id", "time", "label"}),
    "surface-inspection": ("20 good, 12 defect images of 2 kinds", "stratified by class", set()),
}


@pytest.mark.parametrize("pipeline", list(EXPECTED))
def test_each_pipelines_embedded_data_is_checked(pipeline, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SHOPFLOOR_HOME", str(tmp_path / "home"))  # where the embedded data is written
    path, options = _data(tmp_path, pipeline)
    code, out, err = run_cli(
        "data", "check", path, "--pipeline", pipeline, *options, "--format", "json", home=tmp_path / "home",
        capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    fact, split, roles = EXPECTED[pipeline]
    assert fact in report["summary"] and split in report["split"]
    assert {c["role"] for c in report["columns"]} == roles
    code, text, _ = run_cli(
        "data", "check", path, "--pipeline", pipeline, *options, home=tmp_path / "home", capsys=capsys,
        monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0 and f"{pipeline} reads {path}" in text and f"split: {report['split']}" in text


def test_a_doubt_is_a_warning_and_a_problem_is_a_named_error(tmp_path, capsys, monkeypatch):
    table = simulate_gearbox(rows=300, seed=0, made_from="2026-01-05")
    table.insert(0, "row", np.arange(len(table)))
    path = tmp_path / "line.csv"
    table.to_csv(path, index=False)
    home = tmp_path / "home"
    code, out, _ = run_cli(
        "data", "check", str(path), "--pipeline", "fault-detection", "--time-column", "made_at", "--split", "random",
        "--json", str(tmp_path / "check.json"), home=home, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0
    warnings = json.loads((tmp_path / "check.json").read_text())["warnings"]
    assert any(w.startswith("row: every value distinct and in order, like a row number") for w in warnings)
    assert any(w.startswith("made_at: a time column is named but the split is random") for w in warnings)
    code, _, err = run_cli(
        "data", "check", str(path), "--pipeline", "fault-detection", home=home, capsys=capsys, monkeypatch=monkeypatch
    )
    assert code == 2 and "made_at: feature column is not numeric" in err and "name it with --time-column" in err
    code, _, err = run_cli(
        "data", "check", str(path), "--pipeline", "fault-detection", "--labl", "faulty", home=home, capsys=capsys,
        monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 2 and "unrecognized arguments: --labl" in err


def test_every_run_prints_the_checks_summary_first(tmp_path, capsys, monkeypatch):
    """The run's first lines are its check's (the run itself stops at a bad option after them)."""
    path = tmp_path / "line.csv"
    simulate_gearbox(rows=300, seed=0, made_from="2026-01-05").to_csv(path, index=False)
    code, out, err = run_cli(
        "run", "fault-detection", "--data", str(path), "--model-name", "line-1", "--time-column", "made_at",
        "--optuna-storage", "nosuch://", home=tmp_path / "home", capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 2, err
    first, second = out.splitlines()[:2]
    assert first.startswith("label 'faulty': '1' taken as faulty")
    assert second.startswith("data check: 300 rows; 66 feature, 1 time, 1 label;") and "in time order" in second
    assert ing.split_mode("auto", "made_at") == "time"


def test_a_european_excel_export_is_read_and_binary_data_is_named(tmp_path, capsys, monkeypatch):
    """A CSV in Windows-1252 with ';' separators and decimal commas (what Excel writes on a German machine) reads as
    its columns and numbers; an image handed over as data is named as not a table."""
    from shopfloor.data.ingest import read_table

    table = simulate_gearbox(rows=300, seed=0).rename(
        columns={"ws1_press_pinion_peak_kN": "Einpresskraft Ritzel [kN] ü"}
    )
    table.to_csv(tmp_path / "linie.csv", sep=";", decimal=",", index=False, encoding="cp1252")
    home = tmp_path / "home"
    code, out, err = run_cli(
        "data", "check", str(tmp_path / "linie.csv"), "--pipeline", "fault-detection", "--format", "json",
        home=home, capsys=capsys, monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 0, err
    report = json.loads(out)
    assert report["facts"]["file"] == "CSV, Windows-1252 (not UTF-8), separator ';', decimal comma"
    assert "Einpresskraft Ritzel [kN] ü" in [c["name"] for c in report["columns"]]
    read = read_table(tmp_path / "linie.csv")  # the numbers as numbers: 1,5 is 1.5
    assert np.allclose(read["Einpresskraft Ritzel [kN] ü"], table["Einpresskraft Ritzel [kN] ü"])
    (tmp_path / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    code, _, err = run_cli(
        "data", "check", str(tmp_path / "photo.png"), "--pipeline", "fault-detection", home=home, capsys=capsys,
        monkeypatch=monkeypatch,
    )  # fmt: skip
    assert code == 2 and "photo.png is not a table (binary data" in err
