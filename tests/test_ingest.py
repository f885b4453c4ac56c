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
