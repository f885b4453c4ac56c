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

import functools
import gc
import itertools
import json
import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from kserve import InferRequest, InferResponse, Model
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferOutput

from serving import drift, live, metrics, trial
from shopfloor.constants import CHAMPION, DEFAULT_MAX_BATCH
from shopfloor.contract import ShopfloorModel, Tensor
from shopfloor.errors import DataError
from shopfloor.monitoring.prediction_log import Entry, PredictionLog, now
from shopfloor.registry import champion_version, load_version, use_tracking

log = logging.getLogger("kserve")  # configured by KServe in every worker process
VERSION_HEADER = "x-model-version"
REQUEST_ID_HEADER = "x-request-id"
SERVED: dict[str, RegistryModel] = {}  # the models loaded in this process, for the middlewares


@dataclass(frozen=True)
class Loaded:
    """One registered version, ready to answer."""

    version: str
    model: ShopfloorModel
    run_id: str = ""

    @functools.cached_property
    def key_column(self) -> str | None:
        """The business key the model was trained to pass through (named at training), if any."""
        return self.model.details().get("key_column")


def load_alias(name: str, alias: str) -> Loaded:
    """The version that ``name@alias`` names, loaded (its scoring path compiled by ``load_context``)."""
    found = champion_version(name, alias)
    version = str(found.version)
    return Loaded(version, load_version(name, version), found.run_id)


def online_drift(name: str, loaded: Loaded):
    """The online drift monitor of a loaded version (None when it has no logged training rows)."""
    try:
        return drift.for_version(name, loaded.model, loaded.run_id)
    except Exception:  # drift is a monitor: a version without usable reference rows is still served
        log.exception("no online drift for %s version %s", name, loaded.version)
        return None


def served_version() -> str | None:
    """The version this process serves (one model per server)."""
    model = next(iter(SERVED.values()), None)
    return model.current.version if model is not None and model.current is not None else None


class _RequestIds:
    """32 hex digits per request: 16 random ones drawn once per process, then a counter. Unique as a uuid4 is
    in practice (a forked process draws a new prefix), without a system call per request: ``os.urandom`` per
    request was 4.5 % of the server's time under one-row load, and ``os.getpid`` per request 3 % (py-spy)."""

    def __init__(self) -> None:
        self._draw()
        os.register_at_fork(after_in_child=self._draw)

    def _draw(self) -> None:
        self.prefix, self.count = os.urandom(8).hex(), itertools.count()

    def __call__(self) -> str:
        return f"{self.prefix}{next(self.count):016x}"


new_request_id = _RequestIds()


def split_key(payload: Any, v2: bool, key_column: str | None) -> tuple[Any, list | None]:
    """The request without its business key, and the key per row (None when the model names no key or the
    request carries none): a v1 instance's ``key_column`` field, or a v2 tensor of that name."""
    if not key_column:
        return payload, None
    if v2:
        tensors = payload if isinstance(payload, list) else [tensor_of(i) for i in payload.inputs]
        keys = next((t.data for t in tensors if t.name == key_column), None)
        return ([t for t in tensors if t.name != key_column] if keys is not None else tensors), keys
    instances = payload.get("instances") if isinstance(payload, dict) else None
    if not isinstance(instances, list) or not instances or not all(isinstance(i, dict) for i in instances):
        return payload, None
    if not any(key_column in i for i in instances):
        return payload, None
    keys = [i.get(key_column) for i in instances]
    return {**payload, "instances": [{k: v for k, v in i.items() if k != key_column} for i in instances]}, keys


EXPLANATION = "explanation"  # the v2 output a request asks for with "parameters": {"explain": true}


def asks_explanation(parameters: Any) -> bool:
    """Whether a v2 request's parameters ask for the ``explanation`` output (a JSON value over REST, an
    ``InferParameter`` over gRPC)."""
    if not parameters or "explain" not in parameters:
        return False
    value = parameters["explain"]
    return bool(getattr(value, "bool_param", value))


def _explanation_texts(explained: dict[str, Any]) -> list[str]:
    """One JSON text per row: the row's explanation with the fields all rows share."""
    shared = {k: v for k, v in explained.items() if k != "rows"}
    return [json.dumps({**row, **shared}) for row in explained["rows"]]


def tensor_of(infer_input) -> Tensor:
    """A v2 input as the contract's ``Tensor``, whether its values came as JSON ``data`` or as binary tensor
    contents (gRPC ``raw_input_contents``, or REST's binary extension), as KServe's and Triton's clients send them
    by default."""
    if getattr(infer_input, "_raw_data", None) is not None:
        values = infer_input.as_numpy().ravel()
        data = [v.decode() if isinstance(v, bytes) else v for v in values.tolist()]
    else:
        data = infer_input.data
    return Tensor(infer_input.name, list(infer_input.shape), infer_input.datatype, data)


class RegistryModel(Model):
    def __init__(
        self,
        name: str,
        alias: str = CHAMPION,
        tracking_uri: str | None = None,
        max_batch: int = DEFAULT_MAX_BATCH,
        poll_seconds: float = 10.0,
        prediction_log: bool = True,
        key_column: str | None = None,
        quality_seconds: float = live.DEFAULT_REFRESH_SECONDS,
        quality_window: float = live.DEFAULT_WINDOW_SECONDS,
        challenger: str | None = None,
    ) -> None:
        super().__init__(name, return_response_headers=True)
        self.trial_mode = trial.TrialMode.parse(challenger) if challenger else None
        self.trial: trial.Trial | None = None  # @challenger on trial, in each process that serves
        self.log_predictions = prediction_log
        self.key_column = key_column
        self.prediction_log: PredictionLog | None = None  # started in each process that serves
        self.quality_seconds, self.quality_window = quality_seconds, quality_window
        self.live: live.LiveQualityWatcher | None = None
        self.alias = alias
        self.tracking_uri = tracking_uri
        self.max_batch = max_batch
        self.poll_seconds = poll_seconds
        self.current: Loaded | None = None
        self.drift: Any = None  # serving.drift.OnlineDrift of the current version, when it has a reference
        self._stop = threading.Event()
        self._watcher: threading.Thread | None = None

    # ------------------------------------------------------------ loading
    def load(self) -> bool:
        use_tracking(self.tracking_uri)
        self.current = load_alias(self.name, self.alias)
        metrics.alias_checked(self.name, self.alias, self.current.version)
        self.drift = online_drift(self.name, self.current)
        if self.log_predictions and self.prediction_log is None:
            self.prediction_log = PredictionLog()
            if self.quality_seconds > 0:
                self.live = live.LiveQualityWatcher(self, self.quality_seconds, self.quality_window).start()
        SERVED[self.name] = self
        drift.register_collector(SERVED)
        live.register_collector(SERVED)
        metrics.set_version(self.name, self.alias, self.current.version)
        if self.trial_mode is not None and self.trial is None:
            self.trial = trial.Trial(self.name, self.trial_mode)
            self.trial.refresh(self._load)
        self.ready = True
        if self.poll_seconds > 0 and self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="alias-watcher", daemon=True)
            self._watcher.start()
        # What is alive now (MLflow, KServe, torch, the model: hundreds of thousands of objects) will live as
        # long as the process; frozen, it is left out of the cyclic collector's full passes, which otherwise
        # scan all of it whenever enough request-sized objects survive (as queued log entries do). Measured:
        # one-row answers in-process 17.6 against up to 28.8 us with the prediction log on (benchmarks/).
        gc.freeze()
        return self.ready

    def _load(self, version: str, run_id: str) -> Loaded:
        return Loaded(version, load_version(self.name, version), run_id)

    def refresh(self) -> bool:
        """Load the alias's version if it moved (and follow ``@challenger`` on trial); True when the served
        version switched."""
        if self.trial is not None:
            self.trial.refresh(self._load)
        current = self.current
        try:
            found = champion_version(self.name, self.alias)
        except Exception:
            metrics.alias_checked(self.name, self.alias, None)
            raise
        version = str(found.version)
        metrics.alias_checked(self.name, self.alias, version)
        if current is not None and version == current.version:
            return False
        try:
            fresh = Loaded(version, load_version(self.name, version), found.run_id)
        except Exception:  # a broken artifact is never swapped in: the served version stays
            metrics.LOAD_FAILURES.labels(self.name, version).inc()
            raise
        monitor = online_drift(self.name, fresh)
        self.current = fresh  # the switch: one reference assignment
        self.drift = monitor
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
        if self.live is not None:
            self.live.stop()
        if self.prediction_log is not None:
            self.prediction_log.close()

    # ------------------------------------------------------------ outcomes
    def record_feedback(self, records: list[dict]):
        """Store outcomes for this model's answers (``shopfloor.monitoring.outcomes``), a classifier's label read
        as 0/1 or its registered class names."""
        from shopfloor.monitoring.outcomes import record_outcomes

        labels = self.current.model.details().get("labels")  # class names, where the kind has them
        return record_outcomes(self.name, records, key_column=self.key_column or self.current.key_column, labels=labels)

    # ------------------------------------------------------------ workers
    # With --workers N, KServe pickles the registered models into spawned processes. Each worker
    # reloads the model from the registry and watches the alias itself.
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for transient in (
            "_stop",
            "_watcher",
            "current",
            "drift",
            "prediction_log",
            "live",
            "trial",
            "_http_client_instance",
            "_grpc_client_stub",
        ):
            state.pop(transient, None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._stop, self._watcher, self.current, self.drift = threading.Event(), None, None, None
        self.prediction_log = self.live = self.trial = None
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
    def answer(
        self, payload: dict | InferRequest | list[Tensor], v2: bool, request_id: str = "", explain: bool = False
    ) -> tuple[Loaded, dict[str, Any] | InferResponse]:
        """Parse, check, score and shape one request, for both the KServe routes and the direct path.

        ``payload`` is the v1 JSON object, or for v2 KServe's ``InferRequest`` or already-built tensors;
        a ``DataError`` (counted by reason) propagates for the caller to answer 400. Returns the version
        that answered and the answer (a plain dict, or an ``InferResponse`` for KServe's v2 route). Every
        answered request goes to the prediction log under ``request_id`` (the caller's, or a new one). With
        ``explain`` (a v2 request's ``"parameters": {"explain": true}``) the answer gains an ``explanation`` output:
        one JSON text per row, as the explain route gives it.
        """
        served = self.current  # one version for the whole request
        on_trial = self.trial
        role = "answered"
        if on_trial is not None and on_trial.answers_this():
            served, role = on_trial.loaded, trial.CANARY  # this request goes to the challenger
        model = served.model
        request_id = request_id or new_request_id()
        try:
            rows, keys, parse = self._parsed(served, payload, v2)
            results = model.predict_rows(rows)  # a model may refuse rows too (a HI: one unit, time forward)
            explanations = _explanation_texts(model.explain_rows(rows)) if explain else None
        except DataError as exc:
            metrics.reject(exc.reason)
            raise
        self._record(served, role, request_id, rows, results, keys)
        if on_trial is not None:
            trial.ROWS.labels(self.name, served.version, role).inc(len(rows))
            shadow = on_trial.shadow(served, rows, results, parse)
            if shadow is not None and self.prediction_log is not None:
                challenger, answered = shadow
                self.prediction_log.add(
                    Entry(now(), self.name, challenger.version, request_id, rows, answered, keys, trial.SHADOW)
                )
        return served, self._shaped(served, payload, v2, request_id, results, len(rows), explanations)

    def answer_many(
        self, requests: list[tuple[dict | list[Tensor], bool, str]]
    ) -> list[tuple[Loaded, dict[str, Any]] | DataError]:
        """Answer requests that arrived together (``(payload, v2, request_id)`` each) as ``answer`` answers each,
        scoring their rows in one call where the served kind stacks them (``ShopfloorModel.stack``): a tree
        ensemble's fixed cost per call is then paid once. Each request keeps its own checks, 400, request id, log
        entry and answer; a request the checks refuse is returned as its ``DataError`` (counted). Requests on
        trial (canary or shadow), and kinds that do not stack, are answered one by one."""
        served = self.current
        if len(requests) == 1 or self.trial is not None:
            return [self._answer_or_error(payload, v2, rid) for payload, v2, rid in requests]
        model = served.model
        out: list[tuple[Loaded, dict[str, Any]] | DataError | None] = [None] * len(requests)
        parsed = []
        for i, (payload, v2, request_id) in enumerate(requests):
            try:
                rows, keys, _ = self._parsed(served, payload, v2)
            except DataError as exc:
                metrics.reject(exc.reason)
                out[i] = exc
                continue
            parsed.append((i, payload, v2, request_id or new_request_id(), rows, keys))
        together = None  # (the stacked rows, their results) where the requests were scored in one call
        stacked = model.stack([p[4] for p in parsed]) if len(parsed) > 1 else None
        if stacked is not None:
            try:
                together = stacked, model.predict_rows(stacked)
            except DataError:  # refused together: each request gets its own answer or its own error
                together = None
        if together is None:
            scored = [self._scored_alone(model, rows) for *_, rows, _ in parsed]
        else:
            self._monitor(served, *together)  # counted and fed to the drift monitor once for the call
            ends = np.cumsum([len(p[4]) for p in parsed])
            scored = [
                {name: values[end - len(p[4]) : end] for name, values in together[1].items()}
                for p, end in zip(parsed, ends, strict=True)
            ]
        for (i, payload, v2, request_id, rows, keys), results in zip(parsed, scored, strict=True):
            if isinstance(results, DataError):
                out[i] = results
                continue
            self._record(served, "answered", request_id, rows, results, keys, monitored=together is not None)
            out[i] = served, self._shaped(served, payload, v2, request_id, results, len(rows), None)
        return out  # type: ignore[return-value]

    def _answer_or_error(self, payload, v2: bool, request_id: str):
        try:
            return self.answer(payload, v2, request_id=request_id)
        except DataError as exc:
            return exc

    @staticmethod
    def _scored_alone(model: ShopfloorModel, rows) -> dict[str, np.ndarray] | DataError:
        try:
            return model.predict_rows(rows)
        except DataError as exc:
            metrics.reject(exc.reason)
            return exc

    def _parsed(self, served: Loaded, payload, v2: bool):
        """The checked rows of one request, its business keys (or None) and how to parse it with another
        schema (a shadow challenger's); a ``DataError`` names what is wrong (not yet counted)."""
        model = served.model
        key_column = self.key_column or served.key_column
        request, keys = split_key(payload, v2, key_column)
        if v2:
            tensors = request if isinstance(request, list) else [tensor_of(i) for i in request.inputs]

            def parse(schema):
                return schema.parse_v2(tensors, self.max_batch)
        else:

            def parse(schema):
                return schema.parse_v1(request, self.max_batch)

        rows = parse(model.inputs)
        if keys is not None and len(keys) != len(rows):
            raise DataError(key_column, f"{len(keys)} keys for {len(rows)} rows", "bad_shape")
        for column, count in model.inputs.unknown_categories(rows).items():
            metrics.UNKNOWN_CATEGORIES.labels(self.name, column).inc(count)
        return rows, keys, parse

    def _record(
        self, served: Loaded, role: str, request_id: str, rows, results: dict, keys, monitored: bool = False
    ) -> None:
        """Count an answered request, feed the drift monitor (unless ``monitored`` already, with the rows of the
        requests scored with it) and write it to the prediction log."""
        if not monitored:
            self._monitor(served, rows, results)
        if self.prediction_log is not None:
            self.prediction_log.add(Entry(now(), self.name, served.version, request_id, rows, results, keys, role))

    def _monitor(self, served: Loaded, rows, results: dict) -> None:
        """The rows and answers counted in the metrics (their number, each output's values) and fed to the drift
        monitor."""
        metrics.observe(self.name, served.model.outputs, results, len(rows))
        if self.drift is not None:
            self.drift.add(rows)

    def _shaped(
        self,
        served: Loaded,
        payload,
        v2: bool,
        request_id: str,
        results: dict,
        n: int,
        explanations: list[str] | None,
    ) -> dict[str, Any] | InferResponse:
        """The answer in the form the request came in: v1 predictions, a v2 JSON body, or KServe's response."""
        model = served.model
        if v2:
            if isinstance(payload, InferRequest):
                # answered in the form the request used: binary tensors for raw inputs over gRPC, or where a REST
                # request asks for binary outputs (KServe's response serializers do the rest)
                outputs = [
                    InferOutput(o.name, [n, *o.shape], o.datatype, data=results[o.name].ravel().tolist())
                    for o in model.outputs
                ]
                if explanations is not None:
                    outputs.append(InferOutput(EXPLANATION, [n], "BYTES", data=explanations))
                return InferResponse(
                    response_id=request_id,
                    model_name=self.name,
                    infer_outputs=outputs,
                    model_version=served.version,
                    use_binary_outputs=payload.use_binary_outputs,
                    requested_outputs=payload.request_outputs,
                )
            return {
                "model_name": self.name,
                "model_version": served.version,
                "id": request_id,
                "parameters": None,
                "outputs": [
                    {
                        "name": o.name,
                        "shape": [n, *o.shape],
                        "datatype": o.datatype,
                        "parameters": None,
                        "data": results[o.name].ravel().tolist(),
                    }
                    for o in model.outputs
                ]
                + (
                    [{"name": EXPLANATION, "shape": [n], "datatype": "BYTES", "parameters": None, "data": explanations}]
                    if explanations is not None
                    else []
                ),
            }
        columns = [(o.name, results[o.name].tolist()) for o in model.outputs]
        return {
            "predictions": [{name: values[i] for name, values in columns} for i in range(n)],
            "model_version": served.version,
            "request_id": request_id,
        }

    def explain(self, payload: dict, headers: dict[str, str] | None = None) -> dict[str, Any]:
        """KServe's explain route (``POST /v1/models/NAME:explain``, a v1 body): what moved each row's answer, as
        the served kind explains it. Computed only here, so the predict path keeps its speed; bad input gets the
        same named 400 as a prediction. Explanations are not logged as answers."""
        served = self.current
        key_column = self.key_column or served.key_column
        try:
            request, keys = split_key(payload, False, key_column)
            rows = served.model.inputs.parse_v1(request, self.max_batch)
            explained = served.model.explain_rows(rows)
        except DataError as exc:
            metrics.reject(exc.reason)
            raise InvalidInput(str(exc)) from None
        if keys is not None and len(keys) == len(explained["rows"]):  # a kind may explain one row of many
            for row, key in zip(explained["rows"], keys, strict=True):
                row[key_column] = key
        return {**explained, "model_name": self.name, "model_version": served.version}

    def predict(
        self,
        payload: dict | InferRequest,
        headers: dict[str, str] | None = None,
        response_headers: dict[str, str] | None = None,
    ) -> dict | InferResponse:
        """KServe's route (``--kserve-routes``, and requests the direct path leaves to KServe)."""
        v2 = isinstance(payload, InferRequest)
        request_id = (payload.id if v2 else "") or (headers or {}).get(REQUEST_ID_HEADER, "")
        explain = isinstance(payload, InferRequest) and asks_explanation(payload.parameters)
        try:
            served, result = self.answer(payload, v2, request_id=request_id, explain=explain)
        except DataError as exc:
            raise InvalidInput(str(exc)) from None
        if response_headers is not None:
            response_headers[VERSION_HEADER] = served.version
            response_headers[REQUEST_ID_HEADER] = result.id if v2 else result["request_id"]
        return result
