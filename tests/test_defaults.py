"""Each default is written once (``shopfloor.defaults``): the pipeline signatures, the step functions a notebook
calls and the command line agree with it, so a step run by hand trains the model the pipeline would."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from pathlib import Path

import pytest

from shopfloor.defaults import DEFAULTS
from shopfloor.platform.budget import parse_seconds
from shopfloor_cli.main import build_parser
from shopfloor_cli.options import flag_of

ROOT = Path(__file__).resolve().parents[1]


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
    module = importlib.import_module(f"shopfloor.{pipeline.replace('-', '_')}.workflow")
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


def _options(pipeline: str) -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(DEFAULTS[pipeline]) if "help" in f.metadata]


def _as_default(field: dataclasses.Field, value):
    """What a command-line value means as the pipeline's parameter."""
    default = getattr(DEFAULTS[next(p for p in DEFAULTS if field in dataclasses.fields(DEFAULTS[p]))], field.name)
    if isinstance(default, bool):
        return default != value  # the flag switches away from the default
    if field.metadata.get("duration"):
        return parse_seconds(value)
    if isinstance(default, tuple):
        return tuple(value.split(","))
    return value


@pytest.mark.parametrize("pipeline", list(DEFAULTS))
def test_every_command_line_option_of_a_run_is_its_pipelines_default(pipeline):
    """Every ``setting`` of the pipeline is an option of ``shopfloor run``, whose value given nothing is the
    default, and whose help shows it; no option escapes by name."""
    parser = build_parser()
    args = vars(parser.parse_args(["run", pipeline]))
    options = _options(pipeline)
    assert len(options) >= 5, pipeline
    for field in options:
        dest = flag_of(field).removeprefix("--").replace("-", "_")
        assert dest in args, f"shopfloor run {pipeline} has no {flag_of(field)}"
        assert plain(_as_default(field, args[dest])) == plain(getattr(DEFAULTS[pipeline], field.name)), flag_of(field)


@pytest.mark.parametrize("pipeline", list(DEFAULTS))
def test_every_run_option_has_help_that_shows_its_default(pipeline, capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", pipeline, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for field in _options(pipeline):
        assert field.metadata["help"].split(",")[0][:30] in text.replace("%%", "%"), flag_of(field)
    helps = [a for a in _run_parser(pipeline)._actions if a.option_strings and a.dest != "help"]
    assert [a.option_strings[0] for a in helps if not a.help] == []
    assert [
        a.option_strings[0]
        for a in helps
        if "default" not in a.help and a.const is None and a.required is False and a.default not in (None, False)
    ] == []


def _run_parser(pipeline: str):
    parser = build_parser()
    run = next(a for a in parser._actions if getattr(a, "choices", None) and "run" in a.choices).choices["run"]
    return next(a for a in run._actions if getattr(a, "choices", None) and pipeline in a.choices).choices[pipeline]


@pytest.mark.parametrize(
    ("pipeline", "option", "value", "message"),
    [
        ("fault-detection", "--trials", "0", "must be at least 1"),
        ("fault-detection", "--cv-folds", "1", "must be at least 2"),
        ("health-index", "--epochs", "ten", "expected a whole number"),
        ("anomaly-detection", "--budget", "5x", "expected a duration"),
        ("prognosis", "--vb-limit", "-0.1", "must be at least 0"),
    ],
)
def test_a_value_outside_an_options_bounds_is_refused_by_name(pipeline, option, value, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args(["run", pipeline, option, value])
    assert exit_.value.code == 2
    assert f"argument {option}: {message}" in capsys.readouterr().err


COMPONENT_MODULES = [
    *(f"components.{m}" for m in ("anomaly_detection", "health_index", "prognosis", "retraining")),
    *(f"components.fault_detection.{p.stem}" for p in sorted(ROOT.glob("components/fault_detection/[a-z]*.py"))),
]


@pytest.mark.parametrize("module", COMPONENT_MODULES)
def test_a_components_defaults_are_its_pipelines(module):
    """KFP runs a component's source on its own, so its defaults are literals: they must still be the pipeline's."""
    components = importlib.import_module(module)
    expected = fields(module.split(".")[1].replace("_", "-"))
    checked = 0
    for component in vars(components).values():
        function = getattr(component, "python_func", None)
        if function is None:
            continue
        for name, parameter in inspect.signature(function).parameters.items():
            if name in expected and parameter.default is not inspect.Parameter.empty:
                assert plain(parameter.default) == plain(expected[name]), f"{module}.{function.__name__}({name}=...)"
                checked += 1
    assert checked or not module.endswith("retraining")


def test_the_command_says_its_version(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"shopfloor {version('shopfloor')}"


def test_every_option_of_every_command_has_help_its_default_and_one_meaning():
    """Across the whole command tree: no option without help; an option with a default shows it in ``--help``;
    a flag is a switch everywhere or takes a value everywhere (``--json`` is always a file to write; printing
    for machines is ``--format json``)."""
    from collections import defaultdict

    from shopfloor_cli.main import options

    parser = build_parser()
    kinds: dict[str, set[str]] = defaultdict(set)
    for path, action in options(parser):
        name = " ".join(path) + " " + action.option_strings[0]
        assert action.help, f"{name} has no help"
        shows = action.nargs == 0 or action.required or action.default in (None, "", False) or "default" in action.help
        assert shows, f"{name} does not show its default"
        for flag in action.option_strings:
            kinds[flag].add("switch" if action.nargs == 0 else "value")
    assert {flag: sorted(k) for flag, k in kinds.items() if len(k) > 1} == {}
    assert kinds["--json"] == {"value"} and kinds["--format"] == {"value"}


def test_one_flag_vocabulary_across_the_command_tree():
    """A flag shared by commands means one thing everywhere (its help says so), no command uses a retired
    synonym, and every option that names a column of the user's table is spelled ``--X-column``."""
    from shopfloor_cli.main import options
    from shopfloor_cli.vocabulary import RETIRED, VOCABULARY

    problems = []
    for path, action in options(build_parser()):
        text = (action.help or "").lower()
        for flag in action.option_strings:
            where = " ".join([*path[1:], flag])
            if flag in RETIRED:
                problems.append(f"{where}: retired, use {RETIRED[flag]}")
            phrase = VOCABULARY.get(flag, ("", ""))[1]
            if phrase and phrase.lower() not in text:
                problems.append(f"{where}: means {VOCABULARY[flag][0]!r} elsewhere, its help does not say {phrase!r}")
            if text.startswith(("the column", "a column", "the label column")) and not flag.endswith("-column"):
                problems.append(f"{where}: names a column, so it ends in -column")
    assert problems == []


def test_every_command_shows_examples_that_parse():
    """Each command's ``--help`` ends with examples, and each example parses with the command line as it is."""
    import shlex

    from shopfloor_cli.examples import EXAMPLES, commands

    parser = build_parser()
    missing = [" ".join(path) for path, command in commands(parser) if "examples:" not in (command.epilog or "")]
    assert missing == []
    for path, lines in EXAMPLES.items():
        for line in lines:
            argv = shlex.split(line)
            assert argv[: 1 + len(path.split())] == ["shopfloor", *path.split()], line
            args, extra = parser.parse_known_args(argv[1:])  # exits 2 on an option the command does not have
            if getattr(args, "accepts_extra", False):  # `data check` hands the rest to its pipeline's run options
                parser.parse_args(["run", args.pipeline, *extra])
            else:
                assert extra == [], line
