"""``RegistryModel``: a kserve.Model that serves ``models:/NAME@ALIAS`` and follows the alias.

It serves any model registered in Shopfloor's contract (``shopfloor.contract.ShopfloorModel``) the same
way: the model's input schema parses and checks the request, ``predict_rows`` answers, and the declared
outputs shape the v1 and v2 answers. Nothing here knows what kind of model it serves.

A background thread asks the registry every ``poll_seconds`` which version the alias names; when it
changes, the new version is loaded beside the old one and swapped in with one assignment. Each
request takes one reference to the current model, so it is answered wholly by one version and no
request fails or waits during a switch.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from kserve import InferRequest, InferResponse, Model
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput

from serving import metrics
from shopfloor.constants import CHAMPION, DEFAULT_MAX_BATCH
from shopfloor.contract import ShopfloorModel, Tensor
from shopfloor.errors import DataError
from shopfloor.registry import champion_version, load_version, use_tracking

log = logging.getLogger("kserve")  # configured by KServe in every worker process
VERSION_HEADER = "x-model-version"
SERVED: dict[str, RegistryModel] = {}  # the models loaded in this process, for the middlewares


@dataclass(frozen=True)
class Loaded:
    """One registered version, ready to answer."""

    version: str
    model: ShopfloorModel


def load_alias(name: str, alias: str) -> Loaded:
    """The version that ``name@alias`` names, loaded (its scoring path compiled by ``load_context``)."""
    version = str(champion_version(name, alias).version)
    return Loaded(version, load_version(name, version))


def served_version() -> str | None:
    """The version this process serves (one model per server)."""
    model = next(iter(SERVED.values()), None)
    return model.current.version if model is not None and model.current is not None else None


class RegistryModel(Model):
    def __init__(self, name: str, alias: str = CHAMPION, tracking_uri: str | None = None,
                 max_batch: int = DEFAULT_MAX_BATCH, poll_seconds: float = 10.0) -> None:
        super().__init__(name, return_response_headers=True)
        self.alias = alias
        self.tracking_uri = tracking_uri
        self.max_batch = max_batch
        self.poll_seconds = poll_seconds
        self.current: Loaded | None = None
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # ------------------------------------------------------------ loading
    def load(self) -> bool:
        use_tracking(self.tracking_uri)
        self.current = load_alias(self.name, self.alias)
        SERVED[self.name] = self
        metrics.set_version(self.name, self.alias, self.current.version)
        self.ready = True
        if self.poll_seconds > 0 and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="alias-watcher", daemon=True)
            self._watcher.start()
        return self.ready

    def refresh(self) -> bool:
        """Load the alias's version if it moved; True when a switch happened."""
        current = self.current
        version = str(champion_version(self.name, self.alias).version)
        if current is not None and version == current.version:
            return False
        fresh = Loaded(version, load_version(self.name, version))
        self.current = fresh  # the switch: one reference assignment
        metrics.set_version(self.name, self.alias, fresh.version, None if current is None else current.version)
        metrics.RELOADS.labels(self.name).inc()
        log.info("%s@%s now serves version %s", self.name, self.alias, fresh.version)
        return True

    def _watch(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.refresh()
            except Exception:  # the registry may be briefly unreachable: keep serving the current version
                log.exception("alias check failed; still serving version %s", self.current and self.current.version)

    def stop(self) -> None:
        self._stop.set()

    # ------------------------------------------------------------ workers
    # With --workers N, KServe pickles the registered models into spawned processes. Each worker
    # reloads the model from the registry and watches the alias itself.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for transient in ("_stop", "_watcher", "current", "_http_client_instance", "_grpc_client_stub"):
            state.pop(transient, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._stop, self._watcher, self.current = threading.Event(), None, None
        self._http_client_instance = self._grpc_client_stub = None
        if state.get("ready"):
            # Load in the background: the parent pings each new worker within 5 s, and loading
            # MLflow and the model takes longer. Until loaded, the model answers "not ready".
            self.ready = False
            threading.Thread(target=self._load_logged, name="model-load", daemon=True).start()

    def _load_logged(self) -> None:
        try:
            self.load()
            log.info("worker loaded %s version %s", self.name, self.current.version)
        except Exception:
            log.exception("worker could not load %s@%s", self.name, self.alias)

    # ------------------------------------------------------------ metadata
    def get_input_types(self) -> list[dict]:
        return self.current.model.inputs.v2_inputs()

    def get_output_types(self) -> list[dict]:
        return self.current.model.v2_outputs()

    # ------------------------------------------------------------ inference
    def predict(self, payload: dict | InferRequest, headers: dict[str, str] | None = None,
                response_headers: dict[str, str] | None = None) -> dict | InferResponse:
        served = self.current  # one version for the whole request
        model = served.model
        v2 = isinstance(payload, InferRequest)
        try:
            if v2:
                tensors = [Tensor(i.name, list(i.shape), i.datatype, i.data) for i in payload.inputs]
                rows = model.inputs.parse_v2(tensors, self.max_batch)
            else:
                rows = model.inputs.parse_v1(payload, self.max_batch)
            for column, count in model.inputs.unknown_categories(rows).items():
                metrics.UNKNOWN_CATEGORIES.labels(self.name, column).inc(count)
            results = model.predict_rows(rows)  # a model may refuse rows too (a HI: one unit, time forward)
        except DataError as exc:
            metrics.reject(exc.reason)
            raise InvalidInput(str(exc)) from None
        metrics.observe(self.name, model.outputs, results, len(rows))
        if response_headers is not None:
            response_headers[VERSION_HEADER] = served.version
        if v2:
            outputs = [InferOutput(o.name, [len(rows), *o.shape], o.datatype, data=results[o.name].ravel().tolist())
                       for o in model.outputs]
            return InferResponse(response_id=payload.id or "", model_name=self.name, infer_outputs=outputs,
                                 model_version=served.version)
        columns = [(o.name, results[o.name].tolist()) for o in model.outputs]
        return {"predictions": [{name: values[i] for name, values in columns} for i in range(len(rows))],
                "model_version": served.version}
