"""Choosing a health index and a remaining-life estimator by cross-validation across units: the supervised rival
is causal, no held-out unit reaches the fitting of its fold, the chosen method is the table's winner, and a
linear degradation with one noisy sensor is won by the ridge rival."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from shopfloor.health_index import selection
from shopfloor.health_index.estimator import HIConfig
from shopfloor.health_index.selection import Settings, cross_validate, interval, random_cuts, rank_at_cuts
from shopfloor.health_index.supervised import SupervisedHI

FAST = {"epochs": 5}


def linear_degradation(units: int = 16, seed: int = 0, noisy: bool = True) -> list[pd.DataFrame]:
    """Units whose two informative sensors rise linearly with life fraction, one sensor pure noise of a large
    spread, lives of 60-140 steps."""
    rng = np.random.default_rng(seed)
    frames = []
    for unit in range(units):
        life = int(rng.integers(60, 141))
        fraction = np.arange(life) / (life - 1)
        frame = pd.DataFrame(
            {
                "unit": unit,
                "time": np.arange(life),
                "a": 2.0 * fraction + rng.normal(0, 0.15, life),
                "b": -1.0 * fraction + rng.normal(0, 0.15, life),
            }
        )
        if noisy:
            frame["noise"] = rng.normal(0, 5.0, life)
        frames.append(frame)
    return frames


def features_of(frames: list[pd.DataFrame]) -> list[str]:
    return [c for c in frames[0].columns if c not in ("unit", "time")]


def test_supervised_hi_is_causal_and_rises_to_failure():
    frames = linear_degradation()
    units = [f[features_of(frames)].to_numpy(float) for f in frames]
    for estimator in ("ridge", "hgb"):
        model = SupervisedHI(estimator, window=5, baseline=True, t_d=10).fit(units[:12])
        full = model.transform(units[12])
        for t in (3, 20, 50):
            assert np.allclose(model.transform(units[12][:t]), full[:t])  # a prefix's answer never changes
        assert full[-10:].mean() > full[:10].mean() + 0.5


def test_random_cuts_and_ranking():
    rng = np.random.default_rng(0)
    cuts = random_cuts([100, 50, 10], rng)
    assert (cuts >= [10, 5, 1]).all() and (cuts <= [99, 49, 9]).all()
    lives = [np.linspace(0, 1, n) for n in (100, 150, 200)]
    assert rank_at_cuts(lives, np.array([90, 60, 20])) == pytest.approx(-1.0)  # highest HI, least life left
    assert interval(np.array([-10.0, 0.0, 10.0] * 10)) == pytest.approx((-10.0, 10.0))


def test_cross_validation_never_fits_on_a_held_out_unit(monkeypatch):
    """Each unit is known by its first row (unique). Every model records the units it was fitted on and the units
    it scored: each unit must be scored, per method, by exactly one model that never saw it (its out-of-fold HI),
    and each model sees only its fold's units. A model fitted on all units would score no unit unseen."""
    frames = linear_degradation(units=10, noisy=False)
    key = lambda unit: round(float(unit[0, 0]), 9)  # noqa: E731
    models: list[tuple[str, set, list]] = []
    real_make = selection.make

    class Recording:
        def __init__(self, inner, name):
            self.inner, self.name, self.fitted, self.scored = inner, name, set(), []
            models.append((name, self.fitted, self.scored))

        def fit(self, units):
            self.fitted |= {key(u) for u in units}
            self.inner.fit(units)
            return self

        def transform(self, unit):
            self.scored.append(key(unit))
            return self.inner.transform(unit)

    monkeypatch.setattr(
        selection, "make", lambda method, settings, progress=False: Recording(real_make(method, settings), method)
    )
    settings = Settings(hi=HIConfig(t_d=5, t_f=5, window=3, deepsad=FAST))
    result = cross_validate(frames, features_of(frames), settings, methods=("ridge", "apaic"), folds=5, draws=3)
    everyone = {key(f[features_of(frames)].to_numpy(float)) for f in frames}
    assert len(everyone) == 10 and result.folds == 5
    for method in ("ridge", "apaic"):
        mine = [(fitted, scored) for name, fitted, scored in models if name == method]
        assert len(mine) == 5 and all(len(fitted) == 8 for fitted, _ in mine)  # 8 of 10 units per fold
        unseen = [u for fitted, scored in mine for u in scored if u not in fitted]
        assert sorted(unseen) == sorted(everyone)  # each unit scored once by a model that never saw it


def test_regimes_are_found_on_the_fitted_units_only(monkeypatch):
    frames = [f.assign(setting=np.where(np.arange(len(f)) % 2, 1.0, 0.0)) for f in linear_degradation(units=8)]
    seen: list[set] = []
    real = selection.fit_regimes

    def recording(fold_frames, features, settings):
        seen.append({int(f["unit"].iloc[0]) for f in fold_frames})
        return real(fold_frames, features, settings)

    monkeypatch.setattr(selection, "fit_regimes", recording)
    features = ["a", "b", "noise"]
    cross_validate(frames, features, Settings(conditions=["setting"]), methods=("ridge",), folds=4, draws=2)
    assert len(seen) == 4 and all(len(s) == 6 for s in seen)  # each fold: its 6 fitted units, never all 8


def test_the_chosen_method_is_the_tables_winner_and_ridge_wins_a_linear_degradation():
    frames = linear_degradation(units=20)
    settings = Settings(hi=HIConfig(t_d=5, t_f=5, window=5, deepsad=FAST))
    result = cross_validate(frames, features_of(frames), settings, methods=("ridge", "hgb", "apaic"), folds=4, draws=10)
    table = result.table.set_index("method")
    his = table[table["kind"] == "health index"]
    assert result.chosen == his["spearman_rul"].idxmin()
    assert result.chosen == "ridge"
    assert his.loc["ridge", "spearman_rul"] < -0.8
    assert result.rul_chosen in ("hi", "sensors")
    assert "sensors" in table.index and np.isfinite(table.loc["sensors", "rul_rmse"])
    assert len(result.residuals) == 10 * len(frames)


def test_a_method_past_the_time_budget_is_left_out():
    frames = linear_degradation(units=8)
    settings = Settings(hi=HIConfig(t_d=5, t_f=5))
    result = cross_validate(frames, features_of(frames), settings, methods=("ridge",), folds=2, draws=2, timeout=600)
    assert result.skipped == {} and result.chosen == "ridge"


def test_a_spent_budget_still_completes_the_simplest_method_and_leaves_out_the_costlier():
    """The deep method listed first does not take the budget from ridge: methods run simplest first, each through
    all its folds, and the first always completes; the rest are named with their reason."""
    frames = linear_degradation(units=8)
    settings = Settings(hi=HIConfig(t_d=5, t_f=5))
    result = cross_validate(
        frames, features_of(frames), settings, methods=("apaic", "ridge"), folds=2, draws=2, left=lambda: -1.0
    )
    assert result.chosen == "ridge" and set(result.skipped) == {"apaic"}
    assert "remaining fold(s) would end past the time limit" in result.skipped["apaic"]
    assert list(result.table["method"]) == ["ridge", "sensors"]


def test_a_deep_fit_that_would_overrun_the_limit_is_stopped_in_the_middle():
    """Ridge's quick folds make the 2DS fold look affordable; the limit then stops DeepSAD between epochs instead of
    letting one fold overrun the run's budget, and the method is left out with its reason."""
    frames = linear_degradation(units=8)
    settings = Settings(hi=HIConfig(t_d=5, t_f=5, deepsad={"epochs": 100_000}))
    deadline = {"at": float("inf")}

    def starting(method: str, fold: int) -> None:  # the limit falls a second into the deep method's first fold
        if method == "a2ds":
            deadline["at"] = min(deadline["at"], time.monotonic() + 1.0)

    began = time.monotonic()
    result = cross_validate(
        frames,
        features_of(frames),
        settings,
        methods=("ridge", "a2ds"),
        folds=2,
        draws=2,
        on_fit=starting,
        left=lambda: deadline["at"] - time.monotonic(),
    )
    assert time.monotonic() - began < 30  # 100,000 epochs would take far longer
    assert result.chosen == "ridge" and "was stopped at the time limit" in result.skipped["a2ds"]


def test_forward_folds_fit_on_units_that_started_before_the_ones_they_score(monkeypatch):
    """With the units in order of their starts, every fold's model is fitted on units that started before every
    unit it scores; the first block of units is only ever fitted on, and the figures pool the scored units."""
    frames = linear_degradation(units=10, noisy=False)  # already in order: unit i starts i-th
    key = lambda unit: round(float(unit[0, 0]), 9)  # noqa: E731
    order = {key(f[features_of(frames)].to_numpy(float)): i for i, f in enumerate(frames)}
    models: list[tuple[set, list]] = []
    real_make = selection.make

    class Recording:
        def __init__(self, inner):
            self.inner, self.fitted, self.scored = inner, set(), []
            models.append((self.fitted, self.scored))

        def fit(self, units):
            self.fitted |= {order[key(u)] for u in units}
            self.inner.fit(units)
            return self

        def transform(self, unit):
            self.scored.append(order[key(unit)])
            return self.inner.transform(unit)

    monkeypatch.setattr(
        selection, "make", lambda method, settings, progress=False: Recording(real_make(method, settings))
    )
    settings = Settings(hi=HIConfig(t_d=5, t_f=5, window=3, deepsad=FAST))
    result = cross_validate(frames, features_of(frames), settings, methods=("ridge",), folds=4, draws=3, forward=True)
    unseen = []
    for fitted, scored in models:
        held = [u for u in scored if u not in fitted]
        assert held and max(fitted) < min(held)  # fitted on earlier-starting units only
        unseen += held
    assert sorted(unseen) == list(range(2, 10))  # blocks 1..4 of 0-2, 2-4, 4-6, 6-8, 8-10 were scored
    assert result.table.loc[0, "method"] == "ridge" and np.isfinite(result.table.loc[0, "spearman_rul"])


def test_the_units_that_started_last_are_held_out_by_a_time_split(tmp_path):
    from shopfloor.data.splitfiles import in_time_order
    from shopfloor.health_index.data import held_out_units, unit_split_mode, unit_starts
    from shopfloor.health_index.workflow import ingest_step

    frames = linear_degradation(units=8, noisy=False)
    for i, frame in enumerate(frames):
        frame["time"] += 1000 * ((i * 3) % 8)  # units started at shuffled times
    table = pd.concat(frames)
    starts = unit_starts(table, "unit", "time")
    assert unit_split_mode("auto", starts) == "time"
    assert unit_split_mode("auto", starts * 0) == "random"  # every unit counted from its own start
    latest = set(starts.sort_values().index[-2:])
    assert held_out_units(list(starts.index), 0.25, starts=starts) == latest
    table.to_csv(tmp_path / "units.csv", index=False)
    files = {"train": str(tmp_path / "train.parquet"), "test": str(tmp_path / "test.parquet")}
    info = ingest_step(str(tmp_path / "units.csv"), "unit", "time", **files, t_d=5, t_f=5, window=3)
    assert info["order"] == "by start time" and in_time_order(files["train"])
    assert set(pd.read_parquet(files["test"])["unit"]) == latest
    info = ingest_step(str(tmp_path / "units.csv"), "unit", "time", **files, t_d=5, t_f=5, window=3, split="random")
    assert info["order"] == "at random" and not in_time_order(files["train"])
