import numpy as np
import pandas as pd
import pytest

from shopfloor.data import ingest as ing
from shopfloor.errors import DataError


def _table(n=200, minority=20, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.normal(size=(n, 4)), columns=list("abcd"))
    frame["y"] = ["ok"] * (n - minority) + ["fault"] * minority
    return frame


@pytest.mark.parametrize(
    "mutate, field",
    [
        (lambda t: t.drop(columns=["y"]), "y"),
        (lambda t: t.assign(y="ok"), "y"),
        (lambda t: t.assign(y=np.resize(["a", "b", "c"], len(t))), "y"),
        (lambda t: t.assign(b=["x"] * len(t)), "b"),
        (lambda t: t.assign(c=np.nan), "c"),
        (lambda t: t.assign(y=["ok"] * (len(t) - 9) + ["fault"] * 9), "y"),
        (lambda t: t.assign(d=np.r_[np.inf, np.zeros(len(t) - 1)]), "d"),
    ],
)
def test_bad_tables_raise_naming_the_column(mutate, field):
    with pytest.raises(DataError) as err:
        ing.prepare(mutate(_table()), "y")
    assert err.value.field == field
    assert field in str(err.value)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(DataError, match="file not found") as err:
        ing.read_table(tmp_path / "nope.csv")
    assert err.value.field == "data"


def test_minority_becomes_one_and_categories_stay_raw_until_the_model():
    table = _table().assign(kind=np.resize(["L", "M", "H"], 200), uid=range(200), line=np.resize([1, 2], 200))
    data = ing.prepare(table, "y", drop=["uid"], categorical=["kind", "line"])
    assert data.positive_label == "fault" and data.label.sum() == 20
    assert list(data.features.columns) == ["a", "b", "c", "d", "kind", "line"] and data.categorical == ("kind", "line")
    assert data.features["line"].tolist()[:2] == ["1", "2"]  # categories are strings, as clients send them
    split = ing.split(data, seed=0)
    pre = ing.fit_preprocessor(split.train, data.categorical)
    encoded = ing.transform(pre, split.test)
    assert {"kind_H", "kind_L", "kind_M", "line_1", "line_2"} <= set(encoded.columns)
    schema = ing.schema_of(pre, split.train)
    assert [(c.name, c.type) for c in schema.columns][-2:] == [("kind", "string"), ("line", "string")]
    assert schema.categorical[0].categories == ("H", "L", "M")


@pytest.mark.parametrize(
    "categorical, field, message",
    [
        (["colour"], "colour", "not in the table"),
        (["kind"], "kind", r"1 distinct value\(s\)"),
    ],
)
def test_bad_categorical_columns_are_named(categorical, field, message):
    table = _table().assign(kind="L")
    with pytest.raises(DataError, match=message) as err:
        ing.prepare(table, "y", categorical=categorical)
    assert err.value.field == field


def test_a_string_column_not_named_categorical_is_refused_with_the_fix():
    with pytest.raises(DataError, match="name it categorical") as err:
        ing.prepare(_table().assign(kind=np.resize(["L", "M"], 200)), "y")
    assert err.value.field == "kind"


def test_split_is_stratified_and_scaler_maps_train_to_unit_box():
    data = ing.prepare(_table(n=500, minority=50), "y")
    sp = ing.split(data, test_size=0.2, valid_size=0.2, seed=0)
    assert (len(sp.train), len(sp.valid), len(sp.test)) == (300, 100, 100)
    assert [s[ing.LABEL].sum() for s in (sp.train, sp.valid, sp.test)] == [30, 10, 10]
    scaled = ing.transform(ing.fit_preprocessor(sp.train), sp.train).drop(columns=[ing.LABEL])
    assert list(scaled.columns) == list("abcd")
    assert np.allclose(scaled.min(), -1.0) and np.allclose(scaled.max(), 1.0)


def test_the_median_imputer_is_scikit_learns_median_imputer_faster():
    from sklearn.base import clone
    from sklearn.impute import SimpleImputer

    from shopfloor.data.ingest import MedianImputer

    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.normal(size=(500, 4)), columns=list("abcd"))
    x.loc[rng.random(500) < 0.2, "a"] = np.nan
    x["c"] = np.nan  # all missing: dropped by both
    x.loc[::2, "d"] = 1.0  # ties and an even count
    ours, theirs = clone(MedianImputer()).fit(x), SimpleImputer(strategy="median").fit(x)
    assert np.array_equal(ours.statistics_, theirs.statistics_, equal_nan=True)
    assert np.array_equal(ours.transform(x), theirs.transform(x))
    assert ours.strategy == "median" and list(ours.get_feature_names_out()) == list(theirs.get_feature_names_out())


def test_positive_names_the_faulty_value_even_when_it_is_the_commoner():
    data = ing.prepare(_table(), "y", positive="ok")
    assert (data.positive_label, data.negative_label) == ("ok", "fault") and data.label.sum() == 180
    assert "'ok' taken as faulty (named by --positive)" in ing.positive_summary(data, "y", "ok")
    rarer = ing.prepare(_table(), "y")
    assert rarer.positive_label == "fault" and "the rarer of the two values" in ing.positive_summary(rarer, "y", "")


def test_positive_picks_one_class_against_the_rest_and_is_checked():
    table = _table().assign(y=np.resize(["ok", "ok", "ok", "bearing", "seal"], 200))
    with pytest.raises(DataError, match="exactly two classes, found 3.*--positive"):
        ing.prepare(table, "y")
    data = ing.prepare(table, "y", positive="bearing")
    assert data.negative_label == "not bearing" and data.label.sum() == (table["y"] == "bearing").sum()
    with pytest.raises(DataError, match="'crack' is not a value of the label 'y'") as caught:
        ing.prepare(table, "y", positive="crack")
    assert caught.value.field == "positive"
    with pytest.raises(DataError, match="one value only"):
        ing.prepare(table.assign(y="ok"), "y", positive="ok")
    numbers = _table().assign(y=np.resize([0, 0, 0, 1], 200))
    assert ing.prepare(numbers, "y", positive="0").positive_label == "0"  # given as text, as on a command line


def _made(n=500, minority=50, seed=0):
    """``_table`` shuffled, with a ``made`` column of dates as text (one an hour, in a random row order)."""
    table = _table(n, minority, seed).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    hours = np.random.default_rng(seed).permutation(n)
    table["made"] = (pd.Timestamp("2026-03-01") + pd.to_timedelta(hours, unit="h")).astype(str)
    return table


def test_a_time_split_never_tests_on_rows_older_than_it_trained_on():
    table = _made()
    times = ing.time_values(table, "made")
    data = ing.prepare(table, "y", drop=["made"])
    assert "made" not in data.features.columns
    sp = ing.split(data, times=times, time_column="made")
    assert (len(sp.train), len(sp.valid), len(sp.test)) == (300, 100, 100)
    when = {part: times.iloc[rows] for part, rows in sp.index.items()}
    assert when["train"].max() < when["valid"].min() and when["valid"].max() < when["test"].min()
    assert all(w.is_monotonic_increasing for w in when.values())  # each part in time order
    for part in ("train", "valid", "test"):  # the rows are the ones the positions say, features and label alike
        expected = table.drop(columns=["made"]).iloc[sp.index[part]]
        assert np.allclose(getattr(sp, part)[list("abcd")].to_numpy(), expected[list("abcd")].to_numpy())
        assert (getattr(sp, part)[ing.LABEL].to_numpy() == (expected["y"] == "fault").to_numpy()).all()
    assert sp.describe().startswith("train/valid/test 300/100/100 in time order by 'made' (train 2026-03-01 00:00:00")
    assert ing.split(data).describe() == "train/valid/test 300/100/100, stratified at random"


def test_numbers_are_times_too_and_the_split_mode_follows_the_time_column():
    table = _table().sample(frac=1.0, random_state=1).reset_index(drop=True).assign(cycle=np.arange(200)[::-1])
    sp = ing.split(ing.prepare(table, "y", drop=["cycle"]), times=ing.time_values(table, "cycle"), time_column="cycle")
    assert sp.spans == {"train": ("0", "119"), "valid": ("120", "159"), "test": ("160", "199")}
    assert ing.split_mode("auto", "cycle") == "time" and ing.split_mode("auto", "") == "random"
    assert ing.split_mode("random", "cycle") == "random"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda t: t.drop(columns=["made"]), "made: time column not found"),
        (
            lambda t: t.assign(made=t.made.where(t.index != 3, None)),
            "made: time column has 1 missing values (the first in row 3)",
        ),
        (lambda t: t.assign(made=t.made.where(t.index != 5, "31/31/2026")), "'31/31/2026' in row 5 (1 such rows)"),
    ],
)
def test_bad_time_columns_are_named(mutate, message):
    with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")) as err:
        ing.time_values(mutate(_made()), "made")
    assert err.value.field == "made"


def test_a_time_split_with_no_fault_in_a_part_is_named():
    table = _table(minority=20).assign(t=np.arange(200))  # the faults are the last 20 rows: all in the test part
    with pytest.raises(DataError, match="the train rows of the time split .* hold no faulty row") as err:
        ing.split(ing.prepare(table, "y", drop=["t"]), times=ing.time_values(table, "t"), time_column="t")
    assert err.value.field == "t"
    with pytest.raises(DataError, match="a time split needs --time-column") as err:
        ing.split_mode("time", "")
    assert err.value.field == "split"


def test_the_ingest_step_writes_time_ordered_splits_and_the_folds_chain_forward(tmp_path):
    from shopfloor.data.simulate import simulate_gearbox
    from shopfloor.data.splitfiles import in_time_order
    from shopfloor.fault_detection.workflow import Development, ingest_step

    table = simulate_gearbox(rows=600, seed=1, made_from="2026-01-05").sample(frac=1.0, random_state=0)
    table.to_csv(tmp_path / "line.csv", index=False)
    files = {part: str(tmp_path / f"{part}.parquet") for part in ("train", "valid", "test", "preprocessing")}
    info = ingest_step(str(tmp_path / "line.csv"), "faulty", **files, time_column="made_at")
    assert info["order"] == "time" and "in time order by 'made_at'" in info["split"]
    assert in_time_order(files["train"]) and "made_at" not in pd.read_parquet(files["train"]).columns
    dev = Development.load(files["train"], files["valid"], n_folds=5, repeats=2, seed=0)
    assert 1 <= len(dev.folds) <= 5  # forward folds: one pass, repeats do not apply
    assert all(fit.max() < held.min() for fit, held in dev.folds)
    # the development rows are train then valid, each in production order: fold k never sees a later unit
    earliest = table.sort_values("made_at").head(len(dev.rows))
    column = "ws1_press_pinion_peak_kN"
    assert np.array_equal(dev.rows[column].to_numpy(), earliest[column].to_numpy())
    info = ingest_step(str(tmp_path / "line.csv"), "faulty", **files, time_column="made_at", split="random")
    assert info["order"] == "random" and not in_time_order(files["train"])
    assert len(Development.load(files["train"], files["valid"], n_folds=5, repeats=2, seed=0).folds) == 10
