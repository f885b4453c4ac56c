"""The health index's example for the docs: Frusque et al.'s index (a short DeepSAD) on eight simulated units run
to failure, asked about the first five steps of a new unit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from shopfloor.examples import Example


def example(folder: Path) -> Example:
    from shopfloor.data.ingest import column_type
    from shopfloor.data.simulate import simulate_run_to_failure
    from shopfloor.health_index import selection as sel
    from shopfloor.health_index.estimator import HIConfig
    from shopfloor.health_index.pyfunc import HealthIndexPyfunc
    from shopfloor.registry import REFERENCE

    table = simulate_run_to_failure(units=9, min_life=60, max_life=90, n_bands=4, seed=0).drop(columns="wear")
    table = table.round(4)
    features = [c for c in table.columns if c not in ("unit", "time")]
    settings = sel.Settings(hi=HIConfig(t_d=0.2, t_f=15, window=3, deepsad={"epochs": 10, "embedding_dim": 4}))
    frames = [g.sort_values("time") for _, g in table.groupby("unit")]
    new_unit, frames = frames[-1], frames[:-1]
    arrays = sel.unit_arrays(frames, features, None)
    hi = sel.make("a2ds", settings).fit(arrays)
    rul = sel.make_rul("hi", settings, int(np.median([len(a) for a in arrays]))).fit(
        arrays, [hi.transform(a) for a in arrays]
    )
    types = {c: column_type(table[c]) for c in table.columns}
    model = HealthIndexPyfunc(
        hi, features, "unit", "time", types, rul=rul, window=3, method="a2ds", rul_interval=(-10.0, 10.0)
    )
    reference = folder / "reference.parquet"
    table.to_parquet(reference, index=False)
    names = model.inputs.names
    return Example(
        model,
        table[names].head(5),
        new_unit[names].head(5).to_dict(orient="records"),
        "test_rul_ranking",
        {REFERENCE: reference},
    )
