"""The retraining workflow against a real temporary MLflow store: promotion, bad input, the DAG."""

import json

import joblib
import numpy as np
import pandas as pd
import pytest
from helpers.cli import run_cli, shopfloor
from helpers.retrain_fixtures import drifted_csv, register_champion
from mlflow import MlflowClient
from sklearn.dummy import DummyClassifier

from shopfloor.constants import FAULT_MODEL as MODEL_NAME
from shopfloor.errors import DataError, RegistryError
from shopfloor.fault_detection.pyfunc import FaultClassifier
from shopfloor.retraining.workflow import check_step, promote_step, retrain_step


def _check(home, data, **options):
    paths = {k: str(home / f"{k}.parquet") for k in ("adapt", "holdout")}
    info = check_step(
        str(data),
        "faulty",
        tracking_uri=f"sqlite:///{home / 'mlflow.db'}",
        report=str(home / "d.json"),
        **paths,
        **options,
    )
    return info, paths


def _constant(paths, answer: int) -> FaultClassifier:
    """A classifier that always answers ``answer``, in the contract of the registered champion."""
    from shopfloor.registry import load_version

    rows = pd.read_parquet(paths["adapt"])
    champion = load_version(MODEL_NAME, 1)
    dummy = DummyClassifier(strategy="constant", constant=answer).fit(rows.drop(columns="label"), rows["label"])
    return FaultClassifier(dummy, champion.inputs)


def test_refit_challenger_is_promoted_and_a_worse_one_is_kept(home, tmp_path):
    first = register_champion(home, "logreg")
    info, paths = _check(home, drifted_csv(tmp_path / "new.csv"))
    assert info["drift"] and "ws1_press_bearing_b_peak_kN" in info["drifted"]
    uri = f"sqlite:///{home / 'mlflow.db'}"
    made = retrain_step(paths["adapt"], tracking_uri=uri, challenger=str(home / "c.joblib"))
    assert made["method"] == "refit"
    better = promote_step(
        paths["adapt"],
        paths["holdout"],
        str(home / "c.joblib"),
        str(home / "d.json"),
        tracking_uri=uri,
        retrain_info=made,
    )
    assert better["promoted"] and better["challenger"] > better["champion"]
    client = MlflowClient()
    assert int(client.get_model_version_by_alias(MODEL_NAME, "champion").version) == better["version"] == 2

    # A model that never says "faulty" scores F2 = 0: it is registered for the record, the alias stays.
    joblib.dump(_constant(paths, 0), home / "dummy.joblib")
    worse = promote_step(
        paths["adapt"], paths["holdout"], str(home / "dummy.joblib"), str(home / "d.json"), tracking_uri=uri
    )
    assert not worse["promoted"] and worse["alias"] == "challenger" and "kept the champion" in worse["reason"]
    assert int(client.get_model_version_by_alias(MODEL_NAME, "champion").version) == 2
    tags = client.get_run(worse["run_id"]).data.tags
    assert tags["shopfloor.reason"] == worse["reason"] and first.version == 1


def test_margin_lets_a_slightly_worse_challenger_through(home, tmp_path):
    register_champion(home, "logreg")
    _, paths = _check(home, drifted_csv(tmp_path / "new.csv"))
    uri = f"sqlite:///{home / 'mlflow.db'}"
    joblib.dump(_constant(paths, 1), home / "all-faulty.joblib")  # recall 1: F2 about 0.27, below the champion's
    strict = promote_step(
        paths["adapt"], paths["holdout"], str(home / "all-faulty.joblib"), str(home / "d.json"), tracking_uri=uri
    )
    loose = promote_step(
        paths["adapt"],
        paths["holdout"],
        str(home / "all-faulty.joblib"),
        str(home / "d.json"),
        tracking_uri=uri,
        margin=1.0,
    )
    assert not strict["promoted"] and loose["promoted"]


@pytest.mark.parametrize("case", ["no_champion", "other_columns", "empty", "missing_label"])
def test_bad_new_data_is_named_and_the_champion_untouched(case, home, tmp_path, capsys, monkeypatch):
    data = drifted_csv(tmp_path / "new.csv", rows=300)
    if case != "no_champion":
        register_champion(home, "logreg")
    table = pd.read_csv(data)
    if case == "other_columns":
        table.rename(columns={"ws2_screw_flange_angle_deg": "flange_angle"}).to_csv(data, index=False)
    elif case == "empty":
        table.head(0).to_csv(data, index=False)
    elif case == "missing_label":
        table.drop(columns="faulty").to_csv(data, index=False)
    code, _, err = run_cli(
        "run",
        "retraining",
        "--data",
        str(data),
        "--model-name",
        MODEL_NAME,
        home=home,
        capsys=capsys,
        monkeypatch=monkeypatch,
    )
    assert code == 2, err
    expected = {
        "no_champion": "no version with alias 'champion'",
        "other_columns": "ws2_screw_flange_angle_deg",
        "empty": "no rows",
        "missing_label": "faulty",
    }[case]
    assert expected in err
    if case != "no_champion":
        versions = MlflowClient(f"sqlite:///{home / 'mlflow.db'}").search_model_versions(f"name='{MODEL_NAME}'")
        assert [int(v.version) for v in versions] == [1]


def test_check_step_errors_name_the_field(home, tmp_path):
    with pytest.raises(RegistryError):
        _check(home, drifted_csv(tmp_path / "new.csv", rows=200))
    register_champion(home, "logreg")
    data = tmp_path / "extra.csv"
    pd.read_csv(drifted_csv(tmp_path / "new.csv", rows=200)).assign(operator=1).to_csv(data, index=False)
    with pytest.raises(DataError) as err:
        _check(home, data)
    assert err.value.field == "operator"


def test_a_batch_with_more_faulty_parts_than_good_keeps_the_champions_faulty_value(home, tmp_path):
    """A bad week: most new parts are faulty. Their label is read by the champion's faulty value, not taken as the
    rarer value (which would call every good part faulty and every faulty part good)."""
    from shopfloor.fault_detection.retrain import ClassifierRetrainer
    from shopfloor.registry import load_version

    register_champion(home, "logreg")
    champion = load_version(MODEL_NAME, 1)
    line = pd.read_csv(drifted_csv(tmp_path / "new.csv", rows=1500))
    bad_week = pd.concat([line[line["faulty"] == 1], line[line["faulty"] == 0].head(40)]).sample(frac=1, random_state=0)
    assert (bad_week["faulty"] == 1).mean() > 0.5
    bad_week.to_csv(tmp_path / "bad-week.csv", index=False)
    rows = ClassifierRetrainer().read(str(tmp_path / "bad-week.csv"), champion, "faulty")
    assert rows["label"].tolist() == (bad_week["faulty"] == 1).astype(int).tolist()


def test_a_time_split_holds_out_the_latest_rows(home, tmp_path):
    """New rows with a time column, shuffled in the file: the held-out rows are exactly the latest 40 %, and the
    column is never a feature; the served answers (the log's rows, oldest first) are split in time by default."""
    from shopfloor.data.splitfiles import write_split

    register_champion(home, "logreg")
    rows = pd.read_csv(drifted_csv(tmp_path / "new.csv", rows=400))
    rows["made"] = pd.date_range("2026-01-01", periods=len(rows), freq="h").astype(str)
    rows["probe"] = np.arange(len(rows), dtype=float)  # where each row was in time: kept to check, then dropped
    shuffled = rows.sample(frac=1.0, random_state=0)
    probe = shuffled.pop("probe")
    data = tmp_path / "shuffled.csv"
    shuffled.to_csv(data, index=False)
    info, paths = _check(home, data, time_column="made")
    assert info["split"] == "the latest rows held out" and info["holdout_rows"] == 160
    held, kept = pd.read_parquet(paths["holdout"]), pd.read_parquet(paths["adapt"])
    assert "made" not in held.columns
    order = probe.to_numpy()[np.argsort(pd.to_datetime(shuffled["made"]).to_numpy(), kind="stable")]
    latest = rows.iloc[order[-160:]].drop(columns=["made", "probe", "faulty"])
    assert np.allclose(held.drop(columns="label").to_numpy(), latest.to_numpy())
    assert len(kept) == 240

    info, _ = _check(home, data, time_column="made", split="random")
    assert info["split"].startswith("held out at random")

    answered = tmp_path / "answered.parquet"  # as write_training_rows writes the log's rows
    write_split(rows.drop(columns=["made", "probe"]), answered, order="time")
    info, paths = _check(home, answered)
    assert info["split"] == "the latest rows held out"
    first = rows.columns[0]
    assert np.allclose(pd.read_parquet(paths["holdout"])[first], rows[first].iloc[-160:])


def test_a_time_split_needs_both_classes_on_each_side(home, tmp_path):
    register_champion(home, "logreg")
    rows = pd.read_csv(drifted_csv(tmp_path / "new.csv", rows=300)).sort_values("faulty", kind="stable")
    rows["made"] = np.arange(len(rows))  # every faulty row last: the earliest rows hold none
    data = tmp_path / "sorted.csv"
    rows.to_csv(data, index=False)
    with pytest.raises(DataError, match="earliest rows .* are all good") as err:
        _check(home, data, time_column="made")
    assert err.value.field == "split"
    with pytest.raises(DataError) as err:
        _check(home, data, time_column="when")
    assert err.value.field == "when"


@pytest.mark.slow
def test_resnet_loop_through_kfp_local(home, tmp_path):
    """Champion ResNet -> drifted data -> EnKF challenger -> promoted -> @champion serves it."""
    register_champion(home, "resnet")
    done = shopfloor(
        "run",
        "retraining",
        "--data",
        str(drifted_csv(tmp_path / "new.csv")),
        "--model-name",
        MODEL_NAME,
        "--json",
        str(tmp_path / "r.json"),
        home=home,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads((tmp_path / "r.json").read_text())
    assert result["retrain"]["method"] == "enkf" and result["check"]["drift"]
    assert result["promoted"] and result["challenger"] > result["champion"]
    import mlflow

    from shopfloor.registry import champion_version, load_version, use_tracking

    use_tracking(f"sqlite:///{home / 'mlflow.db'}")
    assert str(champion_version(MODEL_NAME).version) == str(result["version"])
    challenger, champion = load_version(MODEL_NAME, result["version"]), load_version(MODEL_NAME, 1)
    rows = pd.read_csv(tmp_path / "new.csv").drop(columns="faulty").head(200)
    assert challenger.inputs == champion.inputs  # the EnKF moved weights only: same columns, same threshold
    moved = challenger.predict(None, rows)["fault_probability"] - champion.predict(None, rows)["fault_probability"]
    assert np.abs(moved).max() > 0.01
    served = mlflow.pyfunc.load_model(f"models:/{MODEL_NAME}@champion").predict(rows)
    assert served.equals(challenger.predict(None, rows))


def test_retraining_takes_the_raw_table_with_its_string_columns(home, tmp_path):
    """The champion encodes ``variant`` itself, so new rows arrive as the line writes them, new categories
    included, and the refitted challenger learns the new category."""
    from helpers.serving_fixtures import gearbox_with_variant, register_gearbox_model

    register_gearbox_model(home, f2=0.5, variant=True)
    new = gearbox_with_variant(900, seed=8)
    new.loc[new.index[::5], "variant"] = "D"  # a variant launched after the champion was trained
    data = tmp_path / "new.csv"
    new.to_csv(data, index=False)
    info, paths = _check(home, data)
    assert info["drift"] is None and info["rows"] == 900  # no reference rows were logged with this champion
    uri = f"sqlite:///{home / 'mlflow.db'}"
    made = retrain_step(paths["adapt"], tracking_uri=uri, challenger=str(home / "c.joblib"))
    challenger = joblib.load(home / "c.joblib")
    assert made["method"] == "refit" and challenger.inputs.names[-1] == "variant"
    assert challenger.inputs.categorical[0].categories == ("A", "B", "C", "D")
    result = promote_step(
        paths["adapt"],
        paths["holdout"],
        str(home / "c.joblib"),
        str(home / "d.json"),
        tracking_uri=uri,
        retrain_info=made,
    )
    assert result["version"] == 2


def test_category_shift_is_drift():
    from shopfloor.retraining.drift import drift_report

    rng = np.random.default_rng(0)
    before = pd.DataFrame({"variant": rng.choice(["A", "B"], 800), "x": rng.normal(size=800)})
    same = pd.DataFrame({"variant": rng.choice(["A", "B"], 800), "x": rng.normal(size=800)})
    moved = pd.DataFrame({"variant": rng.choice(["A", "B", "C"], 800, p=[0.2, 0.3, 0.5]), "x": rng.normal(size=800)})
    assert drift_report(before, same).drifted == []
    report = drift_report(before, moved)
    assert report.drifted == ["variant"] and report.table.loc["variant", "psi"] > 1.0
