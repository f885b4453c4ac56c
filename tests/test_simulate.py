import numpy as np

from shopfloor.data.simulate import gearbox_feature_names, simulate_gearbox


def test_gearbox_has_66_numeric_features_and_rare_faults():
    table = simulate_gearbox(rows=4000, seed=1)
    features = [c for c in table.columns if c != "faulty"]
    assert features == gearbox_feature_names()
    assert len(features) == 66
    assert {c.split("_")[0] for c in features} == {"ws1", "ws2"}
    assert table[features].dtypes.map(lambda d: d.kind == "f").all()
    assert 0.05 <= table["faulty"].mean() <= 0.10


def test_seeded_and_deterministic():
    a, b = simulate_gearbox(rows=200, seed=7), simulate_gearbox(rows=200, seed=7)
    assert a.equals(b)
    assert not a.equals(simulate_gearbox(rows=200, seed=8))


def test_faults_move_only_a_few_features_and_some_labels_are_wrong():
    table = simulate_gearbox(rows=6000, seed=2, include_truth=True)
    features = gearbox_feature_names()
    good = table[table.true_faulty == 0][features]
    bad = table[table.true_faulty == 1][features]
    effect = ((bad.mean() - good.mean()).abs() / good.std()).sort_values(ascending=False)
    assert (effect > 0.5).sum() <= 8  # a handful of features carry the faults
    assert effect.iloc[0] > 1.0
    wrong = (table.faulty != table.true_faulty).mean()
    assert 0.005 < wrong < 0.03
    assert set(table.root_cause[table.true_faulty == 1]) == {
        "oversize_seat",
        "missing_shim",
        "thread_damage",
        "cross_threaded",
    }
    assert np.all(table.root_cause[table.true_faulty == 0] == "")
