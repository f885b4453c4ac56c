"""The feedback loop's storage: the prediction log, outcomes and live quality, on real Parquet files."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import average_precision_score, fbeta_score

from shopfloor.contract import Column, Rows, TabularSchema
from shopfloor.monitoring.live_quality import live_quality, score
from shopfloor.monitoring.outcomes import joined, latest_outcomes, record_outcomes
from shopfloor.monitoring.prediction_log import Entry, PredictionLog
from shopfloor.monitoring.store import read_predictions

SCHEMA = TabularSchema(
    (Column("temperature", "double"), Column("line", "string", ("a", "b")), Column("clamped", "boolean"))
)
MODEL = "press"


def rows(n: int, start: int = 0) -> Rows:
    numeric = np.column_stack([np.arange(start, start + n, dtype=float), np.arange(n) % 2])
    categorical = np.array([["a" if i % 2 else "b"] for i in range(n)], dtype=object)
    return Rows(numeric, categorical, SCHEMA)


def entry(request_id: str, n: int, version: str = "1", start: int = 0, keys=None, cls=None) -> Entry:
    predicted = np.asarray(cls if cls is not None else np.zeros(n), dtype=np.int64)
    return Entry(
        datetime.now(UTC).timestamp(),
        MODEL,
        version,
        request_id,
        rows(n, start),
        {"class": predicted, "fault_probability": predicted * 0.8 + 0.1},
        keys,
    )


def test_the_log_holds_exactly_the_rows_added_with_their_inputs_and_outputs(tmp_path):
    log = PredictionLog(root=tmp_path, flush_seconds=60)
    log.add(entry("r1", 3))
    log.add(entry("r2", 1, start=10, keys=["part-7"]))
    log.add(entry("r3", 2, version="2"))
    assert log.flush() == 6 and log.stats.written == 6 and log.stats.queued == 0
    table = read_predictions(MODEL, root=tmp_path)
    assert len(table) == 6
    assert sorted(zip(table.request_id, table.row, strict=True)) == [
        ("r1", 0),
        ("r1", 1),
        ("r1", 2),
        ("r2", 0),
        ("r3", 0),
        ("r3", 1),
    ]
    r2 = table[table.request_id == "r2"].iloc[0]
    assert r2["input.temperature"] == 10.0 and r2["input.line"] == "b" and r2["key"] == "part-7"
    assert r2["input.clamped"] in (False, np.False_) and r2["version"] == "1"
    assert set(table.version) == {"1", "2"} and table["output.class"].dtype.kind == "i"
    log.close()


def test_a_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    log = PredictionLog(root=tmp_path, flush_seconds=60, max_rows=5)
    assert log.add(entry("a", 4)) and not log.add(entry("b", 2)) and log.add(entry("c", 1))
    assert log.stats.dropped == 2
    log.flush()
    assert sorted(read_predictions(MODEL, root=tmp_path).request_id.unique()) == ["a", "c"]
    log.close()


def test_a_failing_disk_counts_lost_rows_and_the_log_keeps_taking_answers(tmp_path, caplog):
    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the log wants a directory")
    log = PredictionLog(root=blocked, flush_seconds=60)
    log.add(entry("a", 3))
    assert log.flush() == 0
    assert log.add(entry("b", 2))
    log.flush()
    assert log.stats.failed == 5 and log.stats.queued == 0
    assert sum("could not write" in r.message for r in caplog.records) == 1  # said once
    log.close()


def test_the_writer_thread_flushes_within_its_interval(tmp_path):
    log = PredictionLog(root=tmp_path, flush_seconds=0.2)
    log.add(entry("a", 2))
    deadline = datetime.now(UTC).timestamp() + 5
    while log.stats.written < 2 and datetime.now(UTC).timestamp() < deadline:
        threading.Event().wait(0.05)
    assert log.stats.written == 2
    log.close()


def test_outcomes_name_bad_rows_keep_good_ones_and_the_last_write_wins(tmp_path):
    log = PredictionLog(root=tmp_path, flush_seconds=60)
    log.add(entry("r1", 2, keys=["k1", "k2"]))
    log.flush()
    report = record_outcomes(
        MODEL,
        [
            {"request_id": "r1", "row": 0, "label": 1},
            {"request_id": "r1", "row": 1, "label": "sometimes"},  # bad label
            {"label": 0},  # no id, no key
            {"request_id": "nobody", "label": 0},  # unknown: stored, counted
            {"request_id": "r1", "row": -1, "label": 0},
        ],
        labels={"0": "ok", "1": "faulty"},
        root=tmp_path,
    )
    assert report.stored == 2 and report.unknown == 1
    assert report.rejected == [
        "row 2, column 'label': expected 0, 1 or one of ['faulty', 'ok'], got 'sometimes'",
        "row 3, column 'request_id': missing (an outcome needs a request id or a key)",
        "row 5, column 'row': expected a row number >= 0, got -1",
    ]
    record_outcomes(
        MODEL, [{"request_id": "r1", "row": 0, "label": "ok"}], labels={"0": "ok", "1": "faulty"}, root=tmp_path
    )  # a correction
    latest = latest_outcomes(MODEL, root=tmp_path)
    assert latest.set_index("request_id").loc["r1", "label"] == 0.0
    # by key: the second row of r1
    record_outcomes(
        MODEL, [{"part": "k2", "label": 1}], key_column="part", labels={"0": "ok", "1": "faulty"}, root=tmp_path
    )
    both = joined(MODEL, root=tmp_path).sort_values("row")
    assert both[["request_id", "row", "label"]].values.tolist() == [["r1", 0, 0.0], ["r1", 1, 1.0]]
    log.close()


def test_two_feedback_writers_at_once_lose_nothing(tmp_path):
    def write(prefix: str) -> None:
        for i in range(20):
            record_outcomes(MODEL, [{"request_id": f"{prefix}{i}", "label": 1.5}], root=tmp_path)

    threads = [threading.Thread(target=write, args=(p,)) for p in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(latest_outcomes(MODEL, root=tmp_path)) == 40


def test_the_live_figure_equals_a_hand_computed_f2(tmp_path):
    log = PredictionLog(root=tmp_path, flush_seconds=60)
    predicted = [1, 1, 0, 0, 1, 0, 0, 0]
    truth = [1, 0, 1, 0, 1, 0, 0, 1]
    log.add(entry("batch", 8, cls=predicted))
    log.flush()
    record_outcomes(
        MODEL,
        [{"request_id": "batch", "row": i, "label": y} for i, y in enumerate(truth)],
        labels={"0": "ok", "1": "faulty"},
        root=tmp_path,
    )
    [quality] = live_quality(MODEL, root=tmp_path)
    tp, fp, fn = 2, 1, 2  # by hand
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert quality.rows == 8
    assert quality.metrics["f2"] == pytest.approx(5 * precision * recall / (4 * precision + recall))
    assert quality.metrics["f2"] == pytest.approx(fbeta_score(truth, predicted, beta=2))
    assert quality.metrics["pr_auc"] == pytest.approx(average_precision_score(truth, np.array(predicted) * 0.8 + 0.1))
    log.close()


@pytest.mark.parametrize(
    ("outputs", "label", "expected"),
    [
        (
            {"output.score": [0.1, 0.9, 0.4, 0.8], "output.anomaly": [False, True, False, False]},
            [0, 1, 0, 1],
            {"ap": 1.0, "precision": 1.0},
        ),
        (
            {"output.health_index": [0.1, 0.5, 0.9], "output.rul": [90.0, 50.0, 10.0]},
            [100.0, 40.0, 10.0],
            {"rank_correlation": 1.0, "rul_mae": 20 / 3},
        ),
        # three requests (units); the last rows (HI 0.3, 0.9, 0.6 with 30, 5, 40 steps left) rank them partly wrong
        (
            {
                "request_id": ["a", "a", "b", "b", "c", "c"],
                "row": [0, 1, 0, 1, 0, 1],
                "output.health_index": [0.1, 0.3, 0.5, 0.9, 0.2, 0.6],
                "output.rul": [50.0, 30.0, 20.0, 5.0, 60.0, 40.0],
            },
            [50.0, 30.0, 20.0, 5.0, 60.0, 40.0],
            {
                "rank_correlation": -spearmanr([0.1, 0.3, 0.5, 0.9, 0.2, 0.6], [50, 30, 20, 5, 60, 40]).statistic,
                "rul_ranking": 0.5,
                "rul_mae": 0.0,
            },
        ),
        (
            {
                "output.median": [[0.10, 0.12], [0.20, 0.21]],
                "output.q10": [[0.05, 0.1], [0.15, 0.2]],
                "output.q90": [[0.15, 0.2], [0.22, 0.3]],
            },
            [0.12, 0.30],
            {"mae": 0.06, "coverage": 0.5},
        ),
    ],
)
def test_each_model_kind_is_scored_with_its_registered_metric(outputs, label, expected):
    got = score(pd.DataFrame({**outputs, "label": label}))
    assert got == pytest.approx(expected)


def test_retraining_from_logged_rows_registers_a_challenger_scored_beside_the_champion(home, tmp_path):
    """The served champion's logged answers with their outcomes are the training rows of ``run retraining
    --from-log``; answers without an outcome are left out."""
    from helpers.retrain_fixtures import MODEL_NAME, register_champion
    from mlflow import MlflowClient

    from shopfloor.data.simulate import simulate_gearbox
    from shopfloor.registry import load_version
    from shopfloor_cli.main import main

    register_champion(home, "logreg")
    champion = load_version(MODEL_NAME, 1)
    line = simulate_gearbox(rows=1200, seed=7, drift=2.0)
    log = PredictionLog(flush_seconds=60)  # under $SHOPFLOOR_HOME/monitoring, as the server writes it
    now = datetime.now(UTC).timestamp()
    for start in range(0, len(line), 100):
        batch = champion.inputs.from_input(line.iloc[start : start + 100].drop(columns=["faulty"]))
        log.add(Entry(now, MODEL_NAME, "1", f"req-{start}", batch, champion.predict_rows(batch)))
    log.add(Entry(now, MODEL_NAME, "1", "no-outcome", batch, champion.predict_rows(batch)))
    log.close()
    outcomes = [
        {"request_id": f"req-{start}", "row": i, "label": int(y)}
        for start in range(0, len(line), 100)
        for i, y in enumerate(line["faulty"].iloc[start : start + 100])
    ]
    assert record_outcomes(MODEL_NAME, outcomes, labels=champion.details()["labels"]).stored == len(line)

    result = tmp_path / "retraining.json"
    assert (
        main(
            [
                "run",
                "retraining",
                "--model-name",
                MODEL_NAME,
                "--from-log",
                "--label-column",
                "faulty",
                "--json",
                str(result),
            ]
        )
        == 0
    )
    import json

    assert json.loads(result.read_text())["check"]["rows"] == 1200  # the answer without an outcome left out
    version = MlflowClient().get_model_version(MODEL_NAME, "2")
    metrics = MlflowClient().get_run(version.run_id).data.metrics
    params = MlflowClient().get_run(version.run_id).data.params
    assert params["parent_version"] == "1" and {"test_f2", "champion_test_f2"} <= set(metrics)
    assert metrics["test_f2"] > metrics["champion_test_f2"]  # the drifted line taught it something
    from shopfloor.registry.history import history

    assert history(MODEL_NAME)[-1]["kind"] == "retraining" and history(MODEL_NAME)[-1]["to"] == "2"

    # the live figures of version 1 on those answers, logged to MLflow as an evaluation run beside its own
    assert main(["quality", "--model-name", MODEL_NAME, "--log"]) == 0
    evaluations = MlflowClient().search_runs(
        [MlflowClient().get_run(MlflowClient().get_model_version(MODEL_NAME, "1").run_id).info.experiment_id],
        filter_string=f"tags.`shopfloor.evaluates` = '{MODEL_NAME}/1'",
    )
    [evaluation] = evaluations
    assert evaluation.data.metrics["live_labelled_rows"] == 1200 and 0 <= evaluation.data.metrics["live_f2"] <= 1


def test_retraining_from_an_empty_log_is_a_named_error(home, capsys):
    from helpers.retrain_fixtures import MODEL_NAME, register_champion

    from shopfloor_cli.main import main

    register_champion(home, "logreg")
    assert main(["run", "retraining", "--model-name", MODEL_NAME, "--from-log"]) == 2
    assert "no answers of gearbox-fault-classifier with an outcome" in capsys.readouterr().err


def test_feedback_and_predictions_commands(home, tmp_path, capsys):
    from shopfloor_cli.main import main

    log = PredictionLog(flush_seconds=60)
    log.add(entry("r1", 2, keys=["P-1", "P-2"]))
    log.close()
    assert main(["predictions", "--model-name", MODEL, "--out", str(tmp_path / "log.csv")]) == 0
    exported = pd.read_csv(tmp_path / "log.csv")
    assert exported.request_id.tolist() == ["r1", "r1"] and exported["key"].tolist() == ["P-1", "P-2"]

    no_label = tmp_path / "no-label.csv"
    pd.DataFrame({"request_id": ["r1"], "truth": [1]}).to_csv(no_label, index=False)
    assert main(["feedback", "--model-name", MODEL, "--file", str(no_label)]) == 2
    assert "label: label column not found" in capsys.readouterr().err
    mixed = tmp_path / "outcomes.csv"
    pd.DataFrame({"part": ["P-1", "P-2", "P-9"], "label": ["1", "x", "0"]}).to_csv(mixed, index=False)
    assert main(["feedback", "--model-name", MODEL, "--file", str(mixed), "--key-column", "part"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stored"] == 2 and report["unknown"] == 1
    assert report["errors"] == ["row 2, column 'label': not a number: 'x'"]


def test_windows_and_images_are_logged_as_the_same_nested_lists_without_python_lists():
    import pyarrow as pa

    from shopfloor.monitoring.prediction_log import nested_lists

    rng = np.random.default_rng(0)
    for items in (
        [rng.normal(size=(64, 64)) for _ in range(3)],  # images
        [rng.normal(size=(3, 5)), rng.normal(size=(2, 7))],  # windows of different shapes
        [rng.normal(size=n) for n in (10, 4)],  # sequences
    ):
        nested = items[0].ndim == 2
        expected = pa.array(
            [a.tolist() for a in items], type=pa.list_(pa.list_(pa.float64())) if nested else pa.list_(pa.float64())
        )
        assert nested_lists(items).equals(expected)
