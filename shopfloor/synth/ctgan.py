"""SDV's CTGAN behind the Shopfloor interface, generating minority-class rows.

Two ways to get faulty rows, as in Dahdal et al.'s "conditioned CTGAN":

* fitted on the minority rows only (the default, ``condition_column=None``): ``sample`` is plain
  unconditional sampling and cannot fail for lack of accepted rows;
* fitted on the whole table with ``condition_column`` set: ``sample`` asks SDV for rows whose
  condition column equals ``condition_value`` by rejection sampling. When SDV gives up ("Unable to
  sample any rows for the given conditions"), the documented fallback is a ``SynthesisError`` that
  names the column and value and says what to change (more epochs, or fit on the minority rows);
  a partial batch is returned with a warning, since SDV keeps the rows it could accept.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np
import pandas as pd
import torch

from shopfloor.errors import ShopfloorError
from shopfloor.synth.base import Synthesizer, check_numeric_table, restore_dtypes

log = logging.getLogger(__name__)
TABLE = "rows"


class SynthesisError(ShopfloorError):
    """A synthesizer could not produce the rows asked for."""


class CTGANSynthesizer(Synthesizer):
    """CTGAN (Xu et al. 2019) from SDV; settings are passed through to SDV's synthesizer."""

    def __init__(self, seed: int = 0, progress: bool = True, condition_column: str | None = None,
                 condition_value: Any = 1, max_tries_per_batch: int = 100, **sdv_settings: Any) -> None:
        self.seed = seed
        self.progress = progress
        self.condition_column = condition_column
        self.condition_value = condition_value
        self.max_tries_per_batch = max_tries_per_batch
        self.sdv_settings = {"epochs": 300, "batch_size": 500, **sdv_settings}
        self.columns: list[str] = []

    def fit(self, table: pd.DataFrame) -> "CTGANSynthesizer":
        from sdv.metadata import Metadata
        from sdv.single_table import CTGANSynthesizer as SDVCTGAN

        check_numeric_table(table)
        if self.condition_column and self.condition_column not in table.columns:
            raise SynthesisError(f"{self.condition_column}: condition column is not in the table")
        self.columns = [c for c in map(str, table.columns) if c != self.condition_column]
        self._dtypes = {c: table[c].dtype for c in self.columns}
        metadata = Metadata.detect_from_dataframes({TABLE: table})
        for column in table.columns:  # numeric sensor values, never categories or ids
            sdtype = "categorical" if column == self.condition_column else "numerical"
            metadata.update_column(column_name=str(column), sdtype=sdtype, table_name=TABLE)
        settings = dict(self.sdv_settings)
        pac = settings.get("pac", 10)
        settings["batch_size"] = max(pac, (min(settings["batch_size"], len(table)) // pac) * pac)
        self._model = SDVCTGAN(metadata, enable_gpu=False, verbose=self.progress, **settings)
        _seed_everything(self.seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self._model.fit({TABLE: table})
        return self

    def sample(self, num_rows: int, seed: int | None = None) -> pd.DataFrame:
        if not self.columns:
            raise RuntimeError("fit the synthesizer before sampling")
        _seed_everything(self.seed if seed is None else seed)
        if self.condition_column is None:
            rows = self._model._sample(num_rows)  # the fitted model's sampler, without SDV's progress output
            rows = self._model._data_processor.reverse_transform(rows)
        else:
            rows = self._conditional(num_rows)
        return restore_dtypes(rows[self.columns].reset_index(drop=True), self._dtypes)

    def _conditional(self, num_rows: int) -> pd.DataFrame:
        from sdv.sampling import Condition

        condition = Condition({self.condition_column: self.condition_value}, num_rows=num_rows)
        try:
            rows = self._model.sample_from_conditions([condition], max_tries_per_batch=self.max_tries_per_batch)
            if isinstance(rows, dict):  # SDV 2 answers with {table name: frame}
                rows = rows[TABLE]
        except ValueError as exc:
            if "Unable to sample any rows" in str(exc):
                raise SynthesisError(
                    f"{self.condition_column}: CTGAN produced no row with value {self.condition_value!r} in "
                    f"{self.max_tries_per_batch} tries per batch; train longer, raise max_tries_per_batch, or "
                    "fit on the minority rows only (condition_column=None)") from exc
            raise
        if len(rows) < num_rows:
            log.warning("CTGAN gave %d of %d conditional rows", len(rows), num_rows)
        return rows

    def get_parameters(self) -> dict:
        return {**self.sdv_settings, "seed": self.seed, "condition_column": self.condition_column}


def _seed_everything(seed: int) -> None:
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
