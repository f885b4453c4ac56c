"""The model contract without a server: the request parsers ``parse_v1``/``parse_v2`` (every check
reached), the classifier's compiled scoring path against scikit-learn, the signature and metadata a
registered model carries."""

import math

import numpy as np
import pandas as pd
import pytest
from helpers.serving_fixtures import gearbox_with_variant

from shopfloor.constants import check_model_name
from shopfloor.contract import Column, TabularSchema, Tensor
from shopfloor.data import ingest as ing
from shopfloor.errors import DataError
from shopfloor.fault_detection.pyfunc import FaultClassifier, linear_scorer
from shopfloor.fault_detection.train import fit_classifier, full_model, reference_classifier

SCHEMA = TabularSchema(
    (Column("speed"), Column("door_open", "boolean"), Column("variant", "string", ("A", "B")), Column("torque"))
)


def _error(call) -> DataError:
    with pytest.raises(DataError) as err:
        call()
    return err.value


# ------------------------------------------------------------------ v1
def test_v1_rows_as_lists_and_objects_give_the_same_rows():
    lists = SCHEMA.parse_v1({"instances": [[1.5, True, "A", 3], [2.0, 0, "C", -1.0]]})
    objects = SCHEMA.parse_v1(
        {
            "instances": [
                {"torque": 3, "variant": "A", "door_open": True, "speed": 1.5},
                {"speed": 2.0, "door_open": 0, "variant": "C", "torque": -1.0},
            ]
        }
    )
    for rows in (lists, objects):
        assert rows.numeric.tolist() == [[1.5, 1.0, 3.0], [2.0, 0.0, -1.0]]
        assert rows.categorical.tolist() == [["A"], ["C"]]
    assert SCHEMA.unknown_categories(lists) == {"variant": 1}
    assert list(lists.frame().columns) == ["speed", "door_open", "variant", "torque"]


@pytest.mark.parametrize(
    "row, field, reason",
    [
        ([math.nan, True, "A", 3], "instances[0][0]", "non_finite"),
        ([math.inf, True, "A", 3], "instances[0][0]", "non_finite"),
        ([1.0, True, "A", -math.inf], "instances[0][3]", "non_finite"),
        (["1.0", True, "A", 3], "instances[0][0]", "non_numeric"),
        ([None, True, "A", 3], "instances[0][0]", "non_numeric"),
        ([False, True, "A", 3], "instances[0][0]", "non_numeric"),  # a boolean is not a speed
        ([1.0, 2, "A", 3], "instances[0][1]", "wrong_type"),  # booleans take true/false or 0/1
        ([1.0, True, 7, 3], "instances[0][2]", "wrong_type"),  # a category is a string
        ([1.0, True, ["A"], 3], "instances[0][2]", "wrong_type"),
        ([1.0, True, "A"], "instances[0]", "wrong_feature_count"),
        ({"speed": 1.0, "door_open": True, "variant": "A"}, "instances[0]", "missing_feature"),
        (
            {"speed": 1.0, "door_open": True, "variant": "A", "torque": 1, "colour": 2},
            "instances[0]",
            "unknown_feature",
        ),
        ({"speed": math.nan, "door_open": True, "variant": "A", "torque": 1}, "instances[0].speed", "non_finite"),
        ({"speed": 1, "door_open": True, "variant": 1.5, "torque": 1}, "instances[0].variant", "wrong_type"),
        ("1,2,3", "instances[0]", "malformed"),
    ],
)
def test_v1_checks_name_the_field(row, field, reason):
    err = _error(lambda: SCHEMA.parse_v1({"instances": [[1.0, False, "B", 2.0], row]}))
    assert (err.field, err.reason) == (field.replace("[0]", "[1]", 1), reason)


@pytest.mark.parametrize(
    "payload, field, reason",
    [
        ([], "instances", "malformed"),
        ({"rows": []}, "instances", "malformed"),
        ({"instances": {"speed": 1}}, "instances", "malformed"),
        ({"instances": []}, "instances", "empty_batch"),
        ({"instances": [[1.0, True, "A", 2.0]] * 3}, "instances", "batch_too_large"),
    ],
)
def test_v1_body_checks(payload, field, reason):
    err = _error(lambda: SCHEMA.parse_v1(payload, max_batch=2))
    assert (err.field, err.reason) == (field, reason)


# ------------------------------------------------------------------ v2
def _tensors(**overrides):
    base = {
        "speed": Tensor("speed", [2], "FP32", [1.5, 2.0]),
        "door_open": Tensor("door_open", [2], "BOOL", [True, 0]),
        "variant": Tensor("variant", [2], "BYTES", ["A", b"C"]),
        "torque": Tensor("torque", [2], "INT64", [3, -1]),
    }
    return list({**base, **overrides}.values())


def test_v2_per_column_tensors():
    rows = SCHEMA.parse_v2(_tensors())
    assert rows.numeric.tolist() == [[1.5, 1.0, 3.0], [2.0, 0.0, -1.0]]
    assert rows.categorical.tolist() == [["A"], ["C"]]


@pytest.mark.parametrize(
    "overrides, field, reason",
    [
        ({"speed": Tensor("speed", [2], "FP64", [1.0, math.nan])}, "inputs[0].data", "non_finite"),
        ({"torque": Tensor("torque", [2], "FP64", [math.inf, 1.0])}, "inputs[3].data", "non_finite"),
        ({"speed": Tensor("speed", [2], "FP64", ["fast", 1.0])}, "inputs[0].data", "non_numeric"),
        ({"speed": Tensor("speed", [2], "BYTES", ["1", "2"])}, "inputs[0].datatype", "bad_datatype"),
        ({"variant": Tensor("variant", [2], "FP64", [1.0, 2.0])}, "inputs[2].datatype", "wrong_type"),
        ({"variant": Tensor("variant", [2], "BYTES", ["A", 5])}, "inputs[2].data[1]", "wrong_type"),
        ({"door_open": Tensor("door_open", [2], "FP64", [0.5, 1.0])}, "inputs[1].data", "wrong_type"),
        ({"speed": Tensor("speed", [3], "FP64", [1.0, 2.0])}, "inputs[0].shape", "bad_shape"),
        ({"speed": Tensor("speed", [3], "FP64", [1.0, 2.0, 3.0])}, "inputs", "bad_shape"),  # lengths differ
        ({"speed": Tensor("speed", [2, 1], "FP64", [1.0, 2.0])}, "inputs[0].shape", "bad_shape"),
        ({"colour": Tensor("colour", [2], "FP64", [1.0, 2.0])}, "inputs[4].name", "unknown_feature"),
    ],
)
def test_v2_checks_name_the_field(overrides, field, reason):
    err = _error(lambda: SCHEMA.parse_v2(_tensors(**overrides)))
    assert (err.field, err.reason) == (field, reason)


def test_v2_missing_column_and_matrix_rules():
    err = _error(lambda: SCHEMA.parse_v2(_tensors()[:3]))
    assert (err.field, err.reason) == ("inputs", "missing_feature") and "'torque'" in str(err)
    err = _error(lambda: SCHEMA.parse_v2([Tensor("rows", [1, 4], "FP64", [1.0, 1.0, 1.0, 1.0])]))
    assert err.field == "inputs[0].shape" and "string columns (variant)" in str(err)
    numeric = TabularSchema((Column("a"), Column("b")))
    assert numeric.parse_v2([Tensor("rows", [2, 2], "FP32", [1, 2, 3, 4])]).numeric.tolist() == [[1, 2], [3, 4]]
    for data, reason in (([1.0, math.nan], "non_finite"), ([1.0, 2.0, 3.0], "bad_shape")):
        err = _error(lambda data=data: numeric.parse_v2([Tensor("rows", [1, 2], "FP64", data)]))
        assert err.reason == reason and err.field.startswith("inputs[0]")
    assert _error(lambda: numeric.parse_v2([])).reason == "malformed"
    assert _error(lambda: numeric.parse_v2([Tensor("rows", [0, 2], "FP64", [])])).reason == "empty_batch"


# ------------------------------------------------------------------ the classifier
@pytest.fixture(scope="module")
def variant_model():
    return reference_classifier(gearbox_with_variant(600, 2), "faulty", categorical=["variant"])


def test_compiled_linear_path_equals_the_pipeline_with_unknown_and_missing_values(variant_model):
    model, splits = variant_model
    rows = splits.test.drop(columns=[ing.LABEL]).head(50).copy()
    rows.loc[rows.index[:5], "variant"] = "never seen"
    rows.loc[rows.index[5:8], "variant"] = None
    rows.iloc[8:12, 0] = np.nan
    fast = linear_scorer(model.estimator, model.inputs)
    assert fast is not None and model.scorer() is not model._pipeline_proba
    parsed = model.inputs.from_frame(rows)
    assert np.allclose(fast(parsed), model.estimator.predict_proba(rows)[:, 1], rtol=0, atol=1e-12)


def test_other_estimators_are_scored_by_their_pipeline(variant_model):
    from sklearn.ensemble import RandomForestClassifier

    model, splits = variant_model
    pre = model.estimator[0]
    forest = full_model(
        pre, RandomForestClassifier(n_estimators=5, random_state=0).fit(*ing.xy(ing.transform(pre, splits.train)))
    )
    assert linear_scorer(forest, model.inputs) is None
    other = FaultClassifier(forest, model.inputs, threshold=0.2)
    rows = splits.test.drop(columns=[ing.LABEL]).head(10)
    out = other.predict(None, rows)
    expected = forest.predict_proba(rows)[:, 1]
    assert np.array_equal(out["fault_probability"], expected)
    assert np.array_equal(out["class"], (expected >= 0.2).astype(int))


def test_signature_and_metadata_name_the_raw_columns_and_outputs(variant_model):
    model, _ = variant_model
    model.threshold = 0.35
    signature = model.signature()
    inputs = {spec.name: spec.type.name for spec in signature.inputs.inputs}
    assert inputs["variant"] == "string" and inputs["ws1_press_bearing_a_peak_kN"] == "double"
    assert [o.name for o in signature.outputs.inputs] == ["class", "fault_probability"]
    meta = model.metadata()["shopfloor"]
    assert meta["kind"] == "fault-detection" and meta["threshold"] == 0.35 and meta["labels"] == {"0": "0", "1": "1"}
    assert meta["inputs"][-1] == {"name": "variant", "type": "string", "categories": ["A", "B", "C"]}
    assert TabularSchema.from_dict(meta["inputs"]) == model.inputs


def test_threshold_is_checked():
    with pytest.raises(ValueError, match="threshold"):
        FaultClassifier(None, SCHEMA, threshold=1.5)


def test_resnet_classifiers_use_the_pipeline_path():
    table = pd.DataFrame(np.random.default_rng(0).normal(size=(120, 3)), columns=list("abc"))
    table["y"] = (table.a > 0.8).astype(int)
    data = ing.prepare(table, "y")
    pre = ing.fit_preprocessor(data.features.assign(label=data.label))
    resnet = fit_classifier(ing.transform(pre, data.features.assign(label=data.label)), "resnet")
    estimator = full_model(pre, resnet.set_params(max_epochs=5))
    assert linear_scorer(estimator, ing.schema_of(pre, data.features)) is None


@pytest.mark.parametrize(
    "name, ok",
    [
        ("gearbox-fault-classifier", True),
        ("line_3.v2", True),
        ("A1", True),
        ("", False),
        ("a/b", False),
        ("a:b", False),
        ("..", False),
        ("-x", False),
        ("a" * 64, False),
        ("press line", False),
        ("über", False),
    ],
)
def test_model_names(name, ok):
    if ok:
        assert check_model_name(name) == name
    else:
        with pytest.raises(DataError) as err:
            check_model_name(name)
        assert err.value.field == "model-name"


def test_every_input_schema_implements_the_one_interface():
    from shopfloor.contract import InputSchema, SequenceSchema, TensorSchema

    schemas = [
        TabularSchema((Column("a", "double"), Column("b", "string"))),
        TensorSchema("subcut", 4, ("x", "y")),
        SequenceSchema("VB"),
    ]
    for schema in schemas:
        assert isinstance(schema, InputSchema), type(schema).__name__
        assert type(schema).from_dict(schema.to_dict()) == schema
        assert schema.v2_inputs() and schema.names
