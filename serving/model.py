"""``RegistryModel``: a kserve.Model that serves ``models:/NAME@ALIAS`` and follows the alias.

A background thread asks the registry every ``poll_seconds`` which version the alias names; when it
changes, the new version is loaded beside the old one and swapped in with one assignment. Each
request takes one reference to the current scorer, so it is answered wholly by one version and no
request fails or waits during a switch.
"""

from __future__ import annotations

import logging
import threading

from kserve import InferRequest, InferResponse, Model
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput

from serving import metrics
from shopfloor.errors import DataError
from shopfloor.inference import DEFAULT_MAX_BATCH, Scorer, Tensor, load_scorer, rows_from_v1, rows_from_v2
from shopfloor.registry import champion_version, use_tracking

log = logging.getLogger("kserve")  # configured by KServe in every worker process
VERSION_HEADER = "x-model-version"
SERVED: dict[str, "RegistryModel"] = {}  # the models loaded in this process, for the middlewares


def served_version() -> str | None:
    """The version this process serves (one model per server)."""
    model = next(iter(SERVED.values()), None)
    return model.scorer.version if model is not None and model.scorer is not None else None


class RegistryModel(Model):
    def __init__(self, name: str, alias: str = "champion", tracking_uri: str | None = None,
                 max_batch: int = DEFAULT_MAX_BATCH, poll_seconds: float = 10.0) -> None:
        super().__init__(name, return_response_headers=True)
        self.alias = alias
        self.tracking_uri = tracking_uri
        self.max_batch = max_batch
        self.poll_seconds = poll_seconds
        self.scorer: Scorer | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # ------------------------------------------------------------ loading
    def load(self) -> bool:
        use_tracking(self.tracking_uri)
        self.scorer = load_scorer(self.name, self.alias)
        SERVED[self.name] = self
        metrics.set_version(self.name, self.alias, self.scorer.version)
        self.ready = True
        if self.poll_seconds > 0 and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="alias-watcher", daemon=True)
            self._watcher.start()
        return self.ready

    def refresh(self) -> bool:
        """Load the alias's version if it moved; True when a switch happened."""
        current = self.scorer
        version = str(champion_version(self.name, self.alias).version)
        if current is not None and version == current.version:
            return False
        fresh = load_scorer(self.name, self.alias)
        self.scorer = fresh  # the switch: one reference assignment
        metrics.set_version(self.name, self.alias, fresh.version, None if current is None else current.version)
        metrics.RELOADS.labels(self.name).inc()
        log.info("%s@%s now serves version %s", self.name, self.alias, fresh.version)
        return True

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:  # the registry may be briefly unreachable: keep serving the current version
                log.exception("alias check failed; still serving version %s", self.scorer and self.scorer.version)

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------ workers
    # With --workers N, KServe pickles the registered models into spawned processes. Each worker
    # reloads the model from the registry and watches the alias itself.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for transient in ("_stop", "_watcher", "scorer", "_http_client_instance", "_grpc_client_stub"):
            state.pop(transient, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._stop, self._watcher, self.scorer = threading.Event(), None, None
        self._http_client_instance = self._grpc_client_stub = None
        if state.get("ready"):
            # Load in the background: the parent pings each new worker within 5 s, and loading
            # MLflow and the model takes longer. Until loaded, the model answers "not ready".
            self.ready = False
            threading.Thread(target=self._load_logged, name="model-load", daemon=True).start()

    def _load_logged(self) -> None:
        try:
            self.load()
            log.info("worker loaded %s version %s", self.name, self.scorer.version)
        except Exception:
            log.exception("worker could not load %s@%s", self.name, self.alias)

    # ------------------------------------------------------------ metadata
    def get_input_types(self) -> list[dict]:
        return [{"name": f, "datatype": "FP64", "shape": [-1]} for f in self.scorer.features]

    def get_output_types(self) -> list[dict]:
        return [{"name": name, "datatype": dtype, "shape": [-1]} for name, dtype in self.scorer.outputs.items()]

    # ------------------------------------------------------------ inference
    def predict(self, payload: dict | InferRequest, headers: dict[str, str] | None = None,
                response_headers: dict[str, str] | None = None) -> dict | InferResponse:
        scorer = self.scorer  # one version for the whole request
        v2 = isinstance(payload, InferRequest)
        try:
            if v2:
                tensors = [Tensor(i.name, list(i.shape), i.datatype, i.data) for i in payload.inputs]
                rows = rows_from_v2(tensors, scorer.features, self.max_batch)
            else:
                rows = rows_from_v1(payload, scorer.features, self.max_batch)
        except DataError as exc:
            metrics.reject(exc.reason)
            raise InvalidInput(str(exc)) from None
        results = scorer.score(rows)
        metrics.ROWS.labels(self.name).inc(len(rows))
        if "class" in results:
            positives = int(results["class"].sum())
            metrics.PREDICTIONS.labels(self.name, "1").inc(positives)
            metrics.PREDICTIONS.labels(self.name, "0").inc(len(rows) - positives)
        if response_headers is not None:
            response_headers[VERSION_HEADER] = scorer.version
        if v2:
            outputs = [InferOutput(name, [len(rows)], scorer.outputs[name], data=values.tolist())
                       for name, values in results.items()]
            return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=outputs,
                                 model_version=scorer.version)
        columns = {name: values.tolist() for name, values in results.items()}
        return {"predictions": [{name: columns[name][i] for name in columns} for i in range(len(rows))],
                "model_version": scorer.version}
