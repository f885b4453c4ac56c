"""Milling data: loading (mill.mat layout and tables), checks that drop and name corrupt cuts, sub-cuts,
splits and scaling fitted on training only; the beta-VAE's KL score and causal TCN; the tensor contract."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.io
import torch
from helpers.store import SHARED

from shopfloor.anomaly_detection import data as milling
from shopfloor.anomaly_detection.detector import MillingAnomalyDetector
from shopfloor.anomaly_detection.evaluate import pr_auc
from shopfloor.anomaly_detection.simulate import simulate_milling
from shopfloor.anomaly_detection.vae import TCN, BetaVAE, VAEConfig, kl_divergence
from shopfloor.contract import Tensor, TensorSchema
from shopfloor.errors import DataError

MILLING = SHARED / "milling"
SIGNALS = ("a", "b", "c")


def table(cuts: dict[int, np.ndarray], **per_cut) -> pd.DataFrame:
    """One row per sample of hand-made cuts (arrays of shape (samples, 3))."""
    frames = []
    for cut, x in cuts.items():
        frame = pd.DataFrame(x, columns=list(SIGNALS)).assign(cut_no=cut)
        for key, values in per_cut.items():
            frame[key] = values[cut]
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def good(n: int = 300, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.normal([1.0, 5.0, 0.2], [0.3, 0.5, 0.05], size=(n, 3))


# ------------------------------------------------------------------ loading and checks
def test_corrupt_cuts_are_dropped_and_named():
    nan, absurd, constant, long = good(seed=1), good(seed=2), good(seed=3), good(500, seed=4)
    nan[10, 1] = np.nan
    absurd[100:110, 2] = 1e30
    constant[:, 0] = 0.25
    cuts = {0: good(seed=5), 1: nan, 2: absurd, 3: constant, 4: long, **{k: good(seed=k) for k in range(5, 12)}}
    data = milling.load_table(table(cuts), "cut_no")
    with pytest.warns(milling.MillingDataWarning) as caught:
        kept = milling.validate(data)
    message = str(caught[0].message)
    assert "dropped 4 of 12 cuts" in message
    assert "cut 1 (1 non-finite values (first in b))" in message
    assert "cut 2 (values up to 1e+30 in c" in message
    assert "cut 3 (constant channel a)" in message
    assert "cut 4 (length 500 where 11 of 12 cuts have 300 samples)" in message
    assert sorted(kept.dropped) == [1, 2, 3, 4]
    assert kept.cuts["cut"].tolist() == [0, *range(5, 12)]


def test_nothing_valid_left_is_a_named_error():
    bad = good()
    bad[:, 1] = np.inf
    with pytest.raises(DataError, match="cuts: no valid cut left of 1: cut 7"):
        milling.validate(milling.load_table(table({7: bad}), "cut_no"))


def test_table_errors_name_the_field(tmp_path):
    frame = table({0: good(), 1: good(seed=1)})
    with pytest.raises(DataError, match="cut: no cut column named 'cut'"):
        milling.load_table(frame, "cut")
    with pytest.raises(DataError, match="d: no signal column 'd' in the table"):
        milling.load_table(frame, "cut_no", signals=["a", "b", "c", "d"])
    data = milling.load_table(frame, "cut_no")
    with pytest.raises(DataError, match="signals: the data has no signal 'd'"):
        data.with_signals(["a", "b", "c", "d"])
    path = tmp_path / "other.mat"
    scipy.io.savemat(path, {"signals": np.zeros((3, 3))})
    with pytest.raises(DataError, match="mill: .* has no 'mill' struct \\(variables: signals\\)"):
        milling.load_mat(path)
    (tmp_path / "text.mat").write_text("not matlab")
    with pytest.raises(DataError, match="data: .*not a MATLAB file"):
        milling.load_mat(tmp_path / "text.mat")


def test_subcut_count_follows_the_analysis_window_and_short_cuts_are_refused():
    frame = table(
        {0: good(300), 1: good(300, seed=1)},
        window_start={0: 10, 1: 0},
        window_end={0: 210, 1: 300},
        VB={0: 0.1, 1: 0.8},
    )
    sub = milling.subcuts(milling.load_table(frame, "cut_no"), window=64, stride=32)
    counts = sub.meta.groupby("cut").size().to_dict()
    assert counts == {0: (200 - 64) // 32 + 1, 1: (300 - 64) // 32 + 1}
    assert sub.X.shape[1:] == (64, 3)
    first = sub.X[sub.meta["cut"].to_numpy() == 0][1]  # the second window of cut 0 starts at 10 + 32
    assert np.allclose(first, frame[frame.cut_no == 0][list(SIGNALS)].to_numpy()[42:106])
    assert sub.meta["tool_class"].tolist()[0] == 0 and sub.meta["tool_class"].tolist()[-1] == 2
    short = table({0: good(300), 1: good(300, seed=1)}, window_start={0: 0, 1: 250}, window_end={0: 300, 1: 300})
    with pytest.raises(DataError, match="cut 1: its analysis window holds 50 samples, fewer than one window of 64"):
        milling.subcuts(milling.load_table(short, "cut_no"))


def test_scaling_is_fitted_on_training_windows_only():
    sub = milling.subcuts(milling.validate(milling.load_table(simulate_milling(cases=4, samples=600, seed=2))))
    parts = milling.split(sub, "cut", seed=0)
    train, test = sub.X[parts["train"]], sub.X[parts["test"]]
    scaler = milling.WindowScaler().fit(train)
    scaled = scaler.transform(train)
    assert np.allclose(scaled.reshape(-1, 5).min(axis=0), 0) and np.allclose(scaled.reshape(-1, 5).max(axis=0), 1)
    assert np.allclose(scaler.min_, train.reshape(-1, 5).min(axis=0))
    assert not np.allclose(scaler.min_, sub.X.reshape(-1, 5).min(axis=0))  # the test windows did not move it
    assert scaler.transform(test).max() != 1.0  # not clipped: held-out windows may leave [0, 1]


def test_cut_split_keeps_each_cut_in_one_split():
    sub = milling.subcuts(milling.load_table(simulate_milling(cases=6, samples=500, seed=1)))
    parts = milling.split(sub, "cut", seed=3)
    owners = {name: set(sub.meta["cut"].to_numpy()[idx]) for name, idx in parts.items()}
    assert not owners["train"] & owners["valid"] and not owners["train"] & owners["test"]
    assert not owners["valid"] & owners["test"]
    assert sum(len(i) for i in parts.values()) == len(sub)


def test_time_split_scores_cuts_made_after_every_cut_it_learned_from():
    table = simulate_milling(cases=6, samples=500, seed=1)
    rng = np.random.default_rng(0)
    made = dict(zip(range(table["cut_no"].nunique()), rng.permutation(table["cut_no"].nunique()), strict=True))
    # one stamp per sample, a second apart, each cut starting at its own (shuffled) hour
    start = pd.Timestamp("2026-03-01") + pd.to_timedelta(table["cut_no"].map(made), unit="h")
    table["stamp"] = (start + pd.to_timedelta(table.groupby("cut_no").cumcount(), unit="s")).astype(str)
    data = milling.load_table(table, time_column="stamp")
    assert "stamp" not in data.signal_names
    sub = milling.subcuts(data)
    parts = milling.split(sub, "auto", time_column="stamp")  # auto: time, given a time column
    hour = {name: sub.meta["cut"].to_numpy()[idx] for name, idx in parts.items()}
    order = {name: [made[c] for c in set(cuts)] for name, cuts in hour.items()}
    assert max(order["train"]) < min(order["valid"]) and max(order["valid"]) < min(order["test"])
    assert len(set(hour["test"])) == 12 and len(set(hour["valid"])) == 12  # 71 cuts: 24 held out, as "cut" holds
    assert sum(len(i) for i in parts.values()) == len(sub)
    with pytest.raises(DataError) as err:
        milling.split(sub, "time")
    assert err.value.field == "split"
    table.loc[table["cut_no"] == 5, "stamp"] = "not a time"
    with pytest.raises(DataError, match="not a time") as err:
        milling.split(milling.subcuts(milling.load_table(table, time_column="stamp")), "time", time_column="stamp")
    assert err.value.field == "stamp"


def test_the_mill_mat_layout_loads_from_the_committed_fixture():
    """NASA's layout (tests/fixtures/make_mill_mat.py writes it): labels, six signals, a missing VB filled."""
    from pathlib import Path

    data = milling.load_mat(Path(__file__).parent / "fixtures" / "mill_small.mat")
    assert data.signal_names == ("smcAC", "smcDC", "vib_table", "vib_spindle", "AE_table", "AE_spindle")
    assert [s.shape for s in data.signals] == [(256, 6)] * 3
    assert data.cuts[["case", "run"]].to_numpy().tolist() == [[1, 1], [1, 2], [1, 3]]
    assert data.cuts["tool_class"].tolist() == [0, 0, 1]  # cut 2's missing VB filled between its neighbours
    assert len(milling.subcuts(data)) == 3 * (256 // 64)
    assert np.allclose(data.signals[0][:, 5].mean(), 5.0, atol=0.2)  # each field lands in its own channel


def test_the_published_mat_file_loads(tmp_path):
    path = MILLING / "mill_two_cuts.mat"
    if not path.exists():
        pytest.skip(f"{path} not here (../shared/datasets is not part of a fresh clone)")
    data = milling.load_mat(path)
    assert data.signal_names == ("smcAC", "smcDC", "vib_table", "vib_spindle", "AE_table", "AE_spindle")
    assert [s.shape for s in data.signals] == [(9000, 6), (9000, 6)]
    assert data.cuts[["case", "run"]].to_numpy().tolist() == [[1, 1], [1, 2]]
    assert data.cuts["tool_class"].tolist() == [0, 0]  # cut 2's missing VB filled from cut 1's
    assert len(milling.subcuts(data)) == 2 * (9000 // 64)
    five = data.with_signals(["smcAC", "smcDC", "vib_table", "vib_spindle", "AE_table"])
    assert five.signals[0].shape == (9000, 5)


def test_published_corrupt_cuts_are_found_by_the_checks():
    path = MILLING / "mill_signals.parquet"
    if not path.exists():
        pytest.skip(f"{path} not here (../shared/datasets is not part of a fresh clone)")
    data = milling.load(path, labels=MILLING / "labels_with_tool_class.csv")
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        kept = milling.validate(data)
    assert sorted(kept.dropped) == [17, 94]
    sub = milling.subcuts(kept)
    parts = milling.split(sub, "subcut")
    assert {k: len(v) for k, v in parts.items()} == {"train": 7751, "valid": 1909, "test": 1910}  # the seed's counts
    assert round(sub.failed[parts["test"]].mean(), 3) == 0.073  # the seed's no-skill precision


# ------------------------------------------------------------------ the model
def test_kl_score_of_the_priors_own_mean_is_zero():
    zeros = np.zeros((2, 7))
    assert np.allclose(kl_divergence(zeros, zeros), 0.0)
    assert float(kl_divergence(torch.zeros(1, 7), torch.zeros(1, 7))[0]) == 0.0
    assert (kl_divergence(np.full((1, 7), 0.5), zeros) > 0).all()
    assert (kl_divergence(zeros, np.full((1, 7), -1.0)) > 0).all()


def test_tcn_is_causal_and_sees_its_receptive_field():
    torch.manual_seed(0)
    tcn = TCN(3, 8, kernel=3, dilations=(1, 2, 4))
    assert tcn.receptive_field == 1 + 2 * 2 * (1 + 2 + 4)  # two convolutions of kernel 3 per dilation
    x = torch.randn(1, 3, 64)
    y = tcn(x)
    assert y.shape == (1, 8, 64)
    later = x.clone()
    later[:, :, 40:] += 5.0
    assert torch.allclose(tcn(later)[:, :, :40], y[:, :, :40])
    assert not torch.allclose(tcn(later)[:, :, 40:], y[:, :, 40:])
    # the output at t sees exactly the last receptive_field samples: a change just beyond them changes nothing
    t, field = 60, tcn.receptive_field
    early, edge = x.clone(), x.clone()
    early[:, :, t - field] += 5.0
    edge[:, :, t - field + 1] += 5.0
    assert torch.allclose(tcn(early)[:, :, t], y[:, :, t])
    assert not torch.allclose(tcn(edge)[:, :, t], y[:, :, t])


def test_residual_blocks_match_the_published_layout():
    tcn = TCN(5, 16, kernel=3, dilations=(1, 2, 4, 8))
    assert isinstance(tcn.inlet, torch.nn.Conv1d) and tcn.inlet.kernel_size == (1,)
    residuals = [b.residual for b in tcn.blocks]
    assert all(isinstance(r, torch.nn.Conv1d) and r.kernel_size == (1,) for r in residuals[:-1])
    assert isinstance(residuals[-1], torch.nn.Identity)  # the last block adds its input unchanged
    assert [type(m).__name__ for m in tcn.blocks[0].convs] == ["_CausalConv", "ReLU", "_CausalConv", "ReLU"]
    assert isinstance(tcn.blocks[0].act, torch.nn.SELU)
    vae = BetaVAE(64, 5, VAEConfig())
    norms = [m for m in vae.modules() if isinstance(m, torch.nn.BatchNorm1d)]
    assert norms and all((n.momentum, n.eps) == (0.01, 1e-3) for n in norms)  # Keras' 0.99 / 1e-3


def test_vae_shapes_outputs_and_refused_window():
    vae = BetaVAE(64, 5, VAEConfig(layers=2, latent=6))
    recon, mu, log_var = vae(torch.rand(4, 64, 5))
    assert recon.shape == (4, 64, 5) and mu.shape == log_var.shape == (4, 6)
    assert isinstance(vae.decoder[-1], torch.nn.SELU)  # the published best model's output
    sigmoid = BetaVAE(64, 5, VAEConfig(layers=2, latent=6, output="sigmoid"))
    out = sigmoid(torch.rand(4, 64, 5))[0].detach()
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    with pytest.raises(ValueError, match="divisible by 2\\^layers"):
        BetaVAE(62, 5, VAEConfig(layers=2))
    with pytest.raises(ValueError, match="output must be one of"):
        VAEConfig(output="tanh")


def _simulated(cases: int = 6, samples: int = 800, seed: int = 5):
    sub = milling.subcuts(milling.load_table(simulate_milling(cases=cases, samples=samples, seed=seed)))
    parts = {k: sub.take(v) for k, v in milling.split(sub, "subcut").items()}
    return sub, parts


def _classes(part) -> np.ndarray:
    return part.meta["tool_class"].to_numpy().astype(int)


def test_detector_trains_on_healthy_tools_only_by_default():
    _, parts = _simulated()
    tr, va = parts["train"], parts["valid"]
    config = VAEConfig(latent=4, filters=16, dilations=(1,), layers=1, epochs=1, patience=1)
    detector = MillingAnomalyDetector(config, seed=0)
    assert detector.train_on == "healthy"
    failed = _classes(tr) == 2
    with pytest.raises(DataError, match="include .* failed sub-cut") as caught:
        detector.fit(tr.X, _classes(tr), va.X, _classes(va), learn=failed)
    assert caught.value.field == "train-on"
    degraded = _classes(tr) <= 1
    with pytest.raises(DataError, match="degraded sub-cut.*--train-on healthy\\+degraded"):
        detector.fit(tr.X, _classes(tr), va.X, _classes(va), learn=degraded)
    mixed = MillingAnomalyDetector(config, seed=0, train_on="healthy+degraded")
    mixed.fit(tr.X, _classes(tr), va.X, _classes(va), learn=degraded)  # allowed when asked for
    with pytest.raises(DataError, match="failed sub-cut"):
        mixed.fit(tr.X, _classes(tr), va.X, _classes(va), learn=np.ones(len(tr), dtype=bool))


def test_latent_does_not_collapse_failed_tools_score_higher():
    _, parts = _simulated()
    tr, va, te = parts["train"], parts["valid"], parts["test"]
    config = VAEConfig(latent=8, filters=16, dilations=(1, 2), layers=1, epochs=25, patience=25, batch_size=256)
    detector = MillingAnomalyDetector(config, threshold_metric="f2", seed=0).fit(tr.X, _classes(tr), va.X, _classes(va))
    scores = detector.scores(te.X)
    kl = scores["latent"]
    healthy, failed = kl[_classes(te) == 0].mean(), kl[_classes(te) == 2].mean()
    assert healthy > 0.5  # the posterior carries information (a collapsed latent sits at the prior: KL ~ 0)
    assert failed > healthy
    assert scores["input_per_signal"].shape == (len(te), 5)
    assert np.allclose(scores["input"], scores["input_per_signal"].mean(axis=1))
    assert pr_auc(te.failed, kl) > 2 * te.failed.mean()  # well above no skill
    from shopfloor.fault_detection.selection import best_threshold

    assert detector.threshold_ == best_threshold(va.failed, detector.scores(va.X)["latent"], "f2")[0]
    assert (detector.predict(te.X) == (kl >= detector.threshold_)).all()
    assert np.array_equal(detector.scores(te.X)["latent"], kl)  # deterministic: the latent mean, no sampling


def test_search_starts_from_the_published_model_and_ranks_by_validation_ap():
    from shopfloor.anomaly_detection.search import search

    _, parts = _simulated(cases=4, samples=500, seed=6)
    tr, va = parts["train"], parts["valid"]
    result = search(
        tr.X, _classes(tr), va.X, _classes(va), n_trials=2, base=VAEConfig(epochs=2), max_filters=16, keep=2
    )
    first = result.trials[0]
    assert (first["beta"], first["latent"], first["filters"], first["kernel"], first["layers"], first["output"]) == (
        3.92,
        21,
        16,
        3,
        2,
        "selu",
    )
    assert all(30 <= t["patience"] <= 49 for t in result.trials)
    assert len(result.trials) == 2 and len(result.members) == 2
    assert result.chosen in ("single", "ensemble of 2")
    assert np.isfinite(result.detector.threshold_)


def test_simple_detectors_and_the_choice_on_validation():
    """Windows where one signal's level alone tells failed tools: the RMS detector finds that signal, wins on
    validation, and is what ``choose`` serves; a tie goes to the simpler detector."""
    from shopfloor.anomaly_detection.baselines import MahalanobisDetector, RMSDetector
    from shopfloor.anomaly_detection.compare import choose, fit_baselines

    rng = np.random.default_rng(0)

    def windows(n, failed):
        X = rng.normal(0.0, 1.0, size=(n, 32, 3))
        X[:, :, 1] *= 3.0 if failed else 1.0
        return X

    def part(healthy, failed):
        return np.concatenate([windows(healthy, False), windows(failed, True)]), np.r_[[0] * healthy, [2] * failed]

    (X_tr, c_tr), (X_va, c_va) = part(200, 20), part(100, 10)
    baselines = fit_baselines(X_tr, c_tr, X_va, c_va, signal_names=("a", "b", "c"))
    assert list(baselines) == ["rms", "mahalanobis", "isolation_forest"]
    rms = baselines["rms"]
    assert isinstance(rms, RMSDetector) and rms.details()["signal"] == "b" and rms.details()["direction"] == "high"
    assert isinstance(baselines["mahalanobis"], MahalanobisDetector)
    chosen, aps = choose(baselines, X_va, (c_va == 2).astype(int))
    assert aps["rms"] == pytest.approx(1.0) and chosen == "rms"
    assert np.isfinite(rms.threshold_) and rms.predict(X_va).tolist() == (c_va == 2).tolist()


# ------------------------------------------------------------------ the tensor contract
SCHEMA = TensorSchema("subcut", 4, ("a", "b"))


def test_tensor_schema_parses_one_window_or_a_batch():
    window = [[float(i), float(i) + 0.5] for i in range(4)]
    assert SCHEMA.parse_v1({"instances": window}).values.shape == (1, 4, 2)
    assert SCHEMA.parse_v1({"instances": [window, window, window]}).values.shape == (3, 4, 2)
    flat = [v for step in window for v in step]
    assert SCHEMA.parse_v2([Tensor("subcut", [2, 4, 2], "FP32", flat * 2)]).values.shape == (2, 4, 2)
    assert SCHEMA.parse_v2([Tensor("subcut", [4, 2], "FP64", flat)]).values.shape == (1, 4, 2)
    assert np.array_equal(SCHEMA.from_input(np.array([window])).values, np.array([window]))


@pytest.mark.parametrize(
    "instances, field",
    [
        ([[[1, 2]] * 3], "instances"),  # 3 time steps, not 4
        ([[[1, 2]] * 4, [[1, 2, 3]] * 4], "instances[1][0]"),  # a window with 3 signals
        ([[[1, 2], [1, 2], [1, "x"], [1, 2]]], "instances[0][2][1]"),
        ([[[1, 2], [1, 2], [None, 2], [1, 2]]], "instances[0][2][0]"),
        ([[[1, 2], [1, 2], [1, 2]], [[1, 2]] * 4], "instances[0]"),
        ([[[1, 2], [1, 2], [1], [1, 2]]], "instances[0][2]"),
        ([], "instances"),
    ],
)
def test_tensor_schema_names_the_bad_field(instances, field):
    with pytest.raises(DataError) as caught:
        SCHEMA.parse_v1({"instances": instances})
    assert caught.value.field == field, str(caught.value)


def test_tensor_schema_v2_errors():
    with pytest.raises(DataError, match="inputs\\[0\\].shape: expected \\[n, 4, 2\\]"):
        SCHEMA.parse_v2([Tensor("subcut", [1, 4, 3], "FP32", [0.0] * 12)])
    with pytest.raises(DataError, match="inputs\\[0\\].data\\[0\\]\\[1\\]\\[0\\]: signal 'a': NaN"):
        SCHEMA.parse_v2([Tensor("subcut", [1, 4, 2], "FP32", [0.0, 0.0, None, 0.0, 0.0, 0.0, 0.0, 0.0])])
    with pytest.raises(DataError, match="inputs: send one tensor 'subcut'"):
        SCHEMA.parse_v2([Tensor("a", [4], "FP32", [0.0] * 4), Tensor("b", [4], "FP32", [0.0] * 4)])
    with pytest.raises(DataError, match="inputs\\[0\\].datatype"):
        SCHEMA.parse_v2([Tensor("subcut", [1, 4, 2], "BYTES", ["x"] * 8)])
