"""SDV's CTGAN behind the Shopfloor interface, generating minority-class rows.

Two ways to get faulty rows, as in Dahdal et al.'s "conditioned CTGAN":

* fitted on the minority rows only (the default, ``condition_column=None``): ``sample`` is plain
  unconditional sampling and cannot fail for lack of accepted rows;
* fitted on the whole table with ``condition_column`` set: ``sample`` asks SDV for rows whose
  condition column equals ``condition_value`` by rejection sampling. When SDV gives up ("Unable to
  sample any rows for the given conditions"), the documented fallback is a ``SynthesisError`` that
  names the column and value and says what to change (more epochs, or fit on the minority rows);
  a partial batch is returned with a warning, since SDV keeps the rows it could accept.

CTGAN's training loop lives in the ``ctgan`` package and offers no per-epoch hook, but it draws its
epochs from ``tqdm(range(epochs))``; during ``fit`` that name is pointed at Shopfloor's epoch loop, so
each epoch is recorded in ``history`` (with CTGAN's own losses), drawn on the progress bar and handed
to the tuning callback, which lets the median pruner stop weak CTGAN trials like the others.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from shopfloor.errors import ShopfloorError
from shopfloor.synth.base import Synthesizer, step_budget
from shopfloor.synth.table import ColumnSpec, check_table, detect

log = logging.getLogger(__name__)
TABLE = "rows"


class SynthesisError(ShopfloorError):
    """A synthesizer could not produce the rows asked for."""


@dataclass
class CTGANConfig:
    """SDV's CTGAN settings (passed through) and the conditional-sampling options."""

    steps: int = 1500  # generator updates (CTGAN's epochs follow from the table's size and the batch)
    batch_size: int = 500
    embedding_dim: int = 128
    generator_dim: tuple[int, ...] = (256, 256)
    discriminator_dim: tuple[int, ...] = (256, 256)
    generator_lr: float = 2e-4
    discriminator_lr: float = 2e-4
    pac: int = 10
    condition_column: str | None = None
    condition_value: Any = 1
    max_tries_per_batch: int = 100


#: SDV's sdtype for each of Shopfloor's column kinds. The metadata is built from Shopfloor's own column specs, not
#: by SDV's detection, which would declare a numeric column whose values are all distinct (a coordinate, a time
#: stamp, a serial measurement) the table's primary key and then reject it as not an id.
SDTYPES = {"continuous": "numerical", "integer": "numerical", "categorical": "categorical", "boolean": "boolean"}
SDV_SETTINGS = (
    "batch_size",
    "embedding_dim",
    "generator_dim",
    "discriminator_dim",
    "generator_lr",
    "discriminator_lr",
    "pac",
)


class CTGANSynthesizer(Synthesizer):
    """CTGAN (Xu et al. 2019) from SDV."""

    Config = CTGANConfig
    label = "CTGAN"

    @staticmethod
    def search_space(trial, max_steps: int = 1500) -> dict[str, Any]:
        """CTGAN's own knobs: embedding, network sizes, learning rates, epochs, batch (a multiple of pac)."""
        g_units = trial.suggest_categorical("generator_units", [64, 128, 256])
        d_units = trial.suggest_categorical("discriminator_units", [64, 128, 256])
        g_layers = trial.suggest_int("generator_layers", 1, 3)
        d_layers = trial.suggest_int("discriminator_layers", 1, 3)
        return {
            "steps": step_budget(trial, max_steps),
            "batch_size": trial.suggest_categorical("batch_size", [50, 100, 200, 500]),
            "embedding_dim": trial.suggest_categorical("embedding_dim", [32, 64, 128]),
            "generator_dim": (g_units,) * g_layers,
            "discriminator_dim": (d_units,) * d_layers,
            "generator_lr": trial.suggest_float("generator_lr", 5e-5, 1e-3, log=True),
            "discriminator_lr": trial.suggest_float("discriminator_lr", 5e-5, 1e-3, log=True),
        }

    def fit(self, table: pd.DataFrame, specs: list[ColumnSpec] | None = None) -> CTGANSynthesizer:
        from sdv.metadata import Metadata
        from sdv.single_table import CTGANSynthesizer as SDVCTGAN

        check_table(table)
        cfg = self.config
        if cfg.condition_column and cfg.condition_column not in table.columns:
            raise SynthesisError(f"{cfg.condition_column}: condition column is not in the table")
        by_name = {s.name: s for s in (specs or detect(table))}
        self.columns = [c for c in map(str, table.columns) if c != cfg.condition_column]
        self._dtypes = {c: table[c].dtype for c in self.columns}
        metadata = Metadata.load_from_dict(
            {
                "tables": {
                    TABLE: {
                        "columns": {
                            column: {
                                "sdtype": "categorical"
                                if column == cfg.condition_column
                                else SDTYPES[by_name[column].kind]
                            }
                            for column in map(str, table.columns)
                        }
                    }
                }
            }
        )
        settings = {k: getattr(cfg, k) for k in SDV_SETTINGS}
        settings["batch_size"] = max(cfg.pac, (min(cfg.batch_size, len(table)) // cfg.pac) * cfg.pac)
        epochs, _ = self._plan(len(table), settings["batch_size"], cfg.steps)
        _seed_everything(self.seed)
        self._start_history()
        with warnings.catch_warnings(), self._epoch_hook():
            warnings.simplefilter("ignore")  # SDV's advice on saving metadata, sampling warnings
            self._model = SDVCTGAN(metadata, enable_gpu=False, verbose=False, epochs=epochs, **settings)
            self._model.fit({TABLE: table})
        return self

    @contextlib.contextmanager
    def _epoch_hook(self) -> Iterator[None]:
        """Route CTGAN's epoch loop through ``_epoch_loop`` for the duration of ``fit``."""
        import ctgan.synthesizers.ctgan as engine

        original = engine.tqdm
        engine.tqdm = lambda epochs, **_kwargs: self._epoch_loop(epochs)
        try:
            yield
        finally:
            engine.tqdm = original

    def _epoch_loop(self, epochs: range) -> Iterator[int]:
        for epoch in self._epochs(len(epochs)):
            yield epoch  # CTGAN trains this epoch before asking for the next
            losses = getattr(self._model._model, "loss_values", None)
            last = losses.iloc[-1] if losses is not None and len(losses) else {}
            self._end_epoch(
                epoch,
                generator_loss=float(last.get("Generator Loss", np.nan)),
                discriminator_loss=float(last.get("Discriminator Loss", np.nan)),
            )

    def sample(self, num_rows: int, seed: int | None = None) -> pd.DataFrame:
        if not self.columns:
            raise RuntimeError("fit the synthesizer before sampling")
        _seed_everything(self.seed if seed is None else seed)
        if self.config.condition_column is None:
            rows = self._model._sample(num_rows)  # the fitted model's sampler, without SDV's progress output
            rows = self._model._data_processor.reverse_transform(rows)
        else:
            rows = self._conditional(num_rows)
        rows = rows[self.columns].reset_index(drop=True)
        return rows.astype(self._dtypes)

    def _conditional(self, num_rows: int) -> pd.DataFrame:
        from sdv.sampling import Condition

        cfg = self.config
        condition = Condition({cfg.condition_column: cfg.condition_value}, num_rows=num_rows)
        try:
            rows = self._model.sample_from_conditions([condition], max_tries_per_batch=cfg.max_tries_per_batch)
            if isinstance(rows, dict):  # SDV 2 answers with {table name: frame}
                rows = rows[TABLE]
        except ValueError as exc:
            if "Unable to sample any rows" in str(exc):
                raise SynthesisError(
                    f"{cfg.condition_column}: CTGAN produced no row with value {cfg.condition_value!r} in "
                    f"{cfg.max_tries_per_batch} tries per batch; train longer, raise max_tries_per_batch, or "
                    "fit on the minority rows only (condition_column=None)"
                ) from exc
            raise
        if len(rows) < num_rows:
            log.warning("CTGAN gave %d of %d conditional rows", len(rows), num_rows)
        return rows


def _seed_everything(seed: int) -> None:
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
