"""Each default is written once (``shopfloor.defaults``): the pipeline signatures, the step functions a notebook
calls and the command line agree with it, so a step run by hand trains the model the pipeline would."""

from __future__ import annotations

import dataclasses
import importlib
import inspect

import pytest

from shopfloor.defaults import DEFAULTS
from shopfloor.platform.budget import parse_seconds
from shopfloor_cli.main import build_parser

#: Command-line options whose name differs from the pipeline parameter they set, and how their value maps.
CLI_NAMES = {"trials": "n_trials", "filter": "filter_method", "synthesizer": "synthesizers", "train": "n_train",
             "valid": "n_valid"}
CLI_VALUES = {"synthesizers": lambda text: tuple(text.split(",")), "budget": lambda text: parse_seconds(text)}


def fields(pipeline: str) -> dict:
    return {f.name: getattr(DEFAULTS[pipeline], f.name) for f in dataclasses.fields(DEFAULTS[pipeline])}


def plain(value):
    return tuple(value) if isinstance(value, list) else value


@pytest.mark.parametrize("pipeline", list(DEFAULTS))
def test_the_pipeline_signature_takes_its_defaults_from_one_place(pipeline):
    from pipelines.catalog import PIPELINES

    signature = inspect.signature(PIPELINES[pipeline].pipeline_func).parameters
    expected = fields(pipeline)
    shared = [name for name in expected if name in signature]
    assert len(shared) >= len(expected) - 2, f"defaults that the pipeline does not take: {set(expected) - set(shared)}"
    for name in shared:
        assert plain(signature[name].default) == plain(expected[name]), f"{pipeline}: {name}"


@pytest.mark.parametrize("pipeline", list(DEFAULTS))
def test_every_step_default_matches_the_pipelines(pipeline):
    module = importlib.import_module(f"shopfloor.{pipeline.replace('-', '_')}")
    expected = fields(pipeline)
    steps = [fn for name, fn in vars(module).items() if name.endswith("_step") and callable(fn)]
    assert steps, pipeline
    checked = 0
    for step in steps:
        for name, parameter in inspect.signature(step).parameters.items():
            if name in expected and parameter.default is not inspect.Parameter.empty:
                assert plain(parameter.default) == plain(expected[name]), f"{step.__name__}({name}=...)"
                checked += 1
    assert checked or pipeline == "retraining", f"no step of {pipeline} shares a default"


@pytest.mark.parametrize("pipeline", list(DEFAULTS))
def test_the_command_line_defaults_are_the_pipelines(pipeline):
    args = vars(build_parser().parse_args(["run", pipeline]))
    expected = fields(pipeline)
    checked = 0
    for option, value in args.items():
        name = CLI_NAMES.get(option, option)
        if name in expected and value is not None:
            value = CLI_VALUES.get(name, lambda v: v)(value)
            assert plain(value) == plain(expected[name]), f"shopfloor run {pipeline} --{option.replace('_', '-')}"
            checked += 1
    assert checked >= 3, pipeline
