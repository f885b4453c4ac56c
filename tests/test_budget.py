"""One time budget per run: its parsing and shares, the budgeted cross-validation grid (successive halving, the
cheapest rival always kept) and a fault-detection run whose budget is spent before training."""

from __future__ import annotations

import time

import numpy as np
import pytest

from shopfloor.errors import DataError
from shopfloor.fault_detection import grid as grid_module
from shopfloor.fault_detection.grid import Candidate, run_grid
from shopfloor.platform.budget import SHARES, Budget, BudgetSpent, Pace, parse_seconds


@pytest.mark.parametrize(
    ("text", "seconds"), [("15m", 900), ("90s", 90), ("1h", 3600), ("600", 600), ("2.5m", 150), ("0", 0), ("none", 0)]
)
def test_durations(text, seconds):
    assert parse_seconds(text) == seconds


@pytest.mark.parametrize("text", ["fast", "-5m", "10 parsecs"])
def test_a_bad_duration_names_the_option(text):
    with pytest.raises(DataError, match="^budget: "):
        parse_seconds(text)


def test_deadlines_count_from_the_run_start_so_an_early_step_passes_its_rest_on():
    budget = Budget.start("fault-detection", 1000, started=time.time() - 100)
    assert budget.deadline("tune") == pytest.approx(budget.started + 250)
    assert budget.deadline("train") == pytest.approx(budget.started + 950)
    assert 740 < budget.left("cv") <= 750  # 85 % of 1000 s, 100 s spent, whenever the earlier steps ended
    assert list(SHARES["fault-detection"].values()) == sorted(SHARES["fault-detection"].values())
    assert Budget.start("health-index", 0).left("cv") == float("inf")
    assert "no time budget" in Budget.start("health-index", 0).estimate()


def test_pace():
    pace = Pace()
    assert pace.fits(100, 0.0)  # nothing known yet: the first unit always runs
    pace.add(2.0)
    pace.add(4.0)
    assert pace.each == 3.0 and pace.fits(3, 9.0) and not pace.fits(4, 9.0)


class Clock:
    """A fake monotonic clock that each fit advances by its candidate's cost."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture()
def clock(monkeypatch):
    fake = Clock()
    monkeypatch.setattr(grid_module.time, "monotonic", fake)
    return fake


def _grid(clock: Clock, deadline: float, n_folds: int = 5):
    """Six candidates; the better a candidate (higher ``quality``), the costlier its fit."""
    candidates = [Candidate("baseline", "logreg"), *(Candidate(f"m{i}", "logreg", 1.0) for i in range(5))]
    quality = {c: i / 10 for i, c in enumerate(candidates)}
    rng = np.random.default_rng(0)
    labels = (rng.random(200) < 0.2).astype(int)
    fitted: list[Candidate] = []

    def fit_predict(c: Candidate, k: int):
        clock.now += 1.0 + 2.0 * quality[c] * 10  # baseline 1 s, m4 11 s
        fitted.append(c)
        noise = np.random.default_rng(k).random(len(labels))
        return labels, (1 - quality[c]) * noise + quality[c] * labels

    result = run_grid(
        candidates,
        n_folds,
        lambda k: k,
        fit_predict,
        metric="f2",
        protected=[candidates[0]],
        left=lambda: deadline - clock.now,
    )
    return candidates, result, fitted


def test_the_whole_grid_runs_when_it_fits(clock):
    candidates, result, fitted = _grid(clock, deadline=1e6)
    assert set(result.scores) == set(candidates) and result.left_out == {}
    assert len(fitted) == result.fits == 6 * 5
    assert all(s.predictions == 200 * 5 for s in result.scores.values())


def test_successive_halving_keeps_the_best_and_the_cheapest_rival(clock):
    # fold 1 costs 36 s; the whole grid 180 s; with 110 s the grid must be cut after the first fold
    candidates, result, fitted = _grid(clock, deadline=110.0)
    survivors = set(result.scores)
    assert candidates[0] in survivors  # the protected cheapest rival
    assert candidates[-1] in survivors  # the best candidate by CV score
    assert 2 <= len(survivors) < len(candidates)
    assert clock.now <= 110.0 + 11.0  # at most one fit past the deadline
    for why in result.left_out.values():
        assert "successive halving" in why or "left out by the time budget" in why
        assert "CV f2" in why  # the partial score that dropped it
    assert all(s.predictions == 200 * 5 for s in result.scores.values())  # compared on the same folds only


def test_a_spent_budget_leaves_only_the_cheapest_rival(clock):
    candidates, result, fitted = _grid(clock, deadline=-1.0)
    assert list(result.scores) == [candidates[0]]
    assert set(fitted) == {candidates[0]} and len(fitted) == 5
    assert all("left out by the time budget at fold 1 of 5" in why for why in result.left_out.values())


@pytest.fixture()
def splits(tmp_path, gearbox_csv) -> dict[str, str]:
    from shopfloor.fault_detection import workflow as fd

    paths = {k: str(tmp_path / k) for k in ("train", "valid", "test", "prep")}
    fd.ingest_step(
        str(gearbox_csv),
        "faulty",
        train=paths["train"],
        valid=paths["valid"],
        test=paths["test"],
        preprocessing=paths["prep"],
    )
    return paths


def _train(paths: dict[str, str], tmp_path, synthetic: dict[str, str], **options):
    from shopfloor.fault_detection import workflow as fd

    return fd.train_step(
        paths["train"],
        paths["valid"],
        paths["test"],
        paths["prep"],
        synthetic,
        models_dir=str(tmp_path / "models"),
        report=str(tmp_path / "report.json"),
        plot=str(tmp_path / "cm.png"),
        classifier="auto",
        filter_method="discriminator",
        threshold_metric="f2",
        cv_folds=2,
        cv_repeats=1,
        seed=0,
        **options,
    )


def test_a_fault_detection_run_past_its_budget_registers_the_simplest_model(tmp_path, splits):
    """Training with a budget already spent and a synthesizer branch left out by it: the cheapest rival (logistic
    regression without synthetic rows) is chosen; nothing is reported as failed; everything else is named."""
    from shopfloor.fault_detection import workflow as fd
    from shopfloor.platform import failures

    spent = Budget.start("fault-detection", 10, started=time.time() - 60)
    kept = tmp_path / "kept"
    info = fd.synthesize_step(
        splits["train"],
        splits["valid"],
        splits["prep"],
        synthesizer="wgan",
        synthesizer_dir=str(tmp_path / "synth"),
        candidates=str(kept),
        n_trials=1,
        timeout=5,
        storage=None,
        study_name="spent",
        progress=False,
        run_budget=spent,
    )
    assert info["failed"] and failures.read(kept).error.startswith(BudgetSpent.__name__)
    summary = _train(splits, tmp_path, {"wgan": str(kept)}, run_budget=spent)
    assert summary["best"] == "baseline/logreg" and list(summary["methods"]) == ["baseline/logreg"]
    assert summary["failed"] == {} and "no time left for tuning wgan" in summary["left_out"]["wgan"]
    assert "baseline/hgb" in summary["left_out"] and summary["grid"]["fits"] == 2
    table = fd.comparison_table(summary)
    assert {"baseline/logreg", "wgan", "baseline/hgb"} <= set(table.index) and "left_out" in table.columns


def test_a_method_too_slow_to_serve_is_left_out_but_the_cheapest_rival_is_kept(tmp_path, splits):
    summary = _train(splits, tmp_path, {}, max_latency_ms=1e-6, smote_filters=())
    assert list(summary["methods"]) == ["baseline/logreg"]
    slow = {m: why for m, why in summary["left_out"].items() if "too slow to serve" in why}
    assert "baseline/hgb" in slow and "over --max-latency-ms 1e-06" in slow["baseline/hgb"]
    latency = summary["methods"]["baseline/logreg"]["latency"]
    assert 0 < latency["one_p50_ms"] <= latency["one_p99_ms"] and latency["batch_items"] == 100
    free = _train(splits, tmp_path, {}, max_latency_ms=0, smote_filters=())
    assert "baseline/hgb" in free["methods"] and not any("too slow" in w for w in free["left_out"].values())


def test_a_large_table_chooses_on_a_sample_of_the_full_folds(splits):
    """Each fold of the sample is its full fold restricted to one stratified sample (so rows synthesized from a
    fold's training faults never saw its held-out faults); the final model still gets every row."""
    from shopfloor.fault_detection.workflow import FINAL, Development, folds

    full = Development.load(splits["train"], splits["valid"], 3, 1, 0, cv_rows=0)
    small = Development.load(splits["train"], splits["valid"], 3, 1, 0, cv_rows=200)
    assert full.sampled == len(full.rows) and small.sampled == 200 and len(small.rows) == len(full.rows)
    sample = np.unique(np.concatenate([held for _, held in small.folds]))
    assert len(sample) == 200
    labels = full.rows["label"].to_numpy()
    assert abs(labels[sample].mean() - labels.mean()) < 0.01  # stratified
    for (fit, held), (full_fit, full_held) in zip(small.folds, folds(labels, 3, 1, 0), strict=True):
        assert set(fit) <= set(full_fit) and set(held) <= set(full_held) and not set(fit) & set(held)
        assert set(fit) | set(held) == set(sample)
    parts = dict(small.parts())
    assert len(parts[FINAL]) == len(full.rows)
