"""Models registered before each pipeline became one package (and before kinds were named as pipelines) load."""

from __future__ import annotations

import importlib
import pickle

import pytest

from shopfloor.kinds import EARLIER_NAMES, canonical, model_class
from shopfloor.moved import _MODULES, _PACKAGES, new_name

OLD_MODULES = [
    "shopfloor.classify.compiled",
    "shopfloor.classify.train",
    "shopfloor.health.deepsad",
    "shopfloor.milling.detector",
    "shopfloor.milling.vae",
    "shopfloor.wear.posterior",
    *(f"shopfloor.{old}" for old in _MODULES),
]


@pytest.mark.parametrize("old", OLD_MODULES)
def test_an_old_module_name_is_the_module_at_its_new_place(old):
    new = importlib.import_module(new_name(old))
    assert importlib.import_module(old) is new and new.__name__ == new_name(old)


def test_a_pickle_naming_an_old_module_gives_todays_class():
    from shopfloor.anomaly_detection.detector import Member
    from shopfloor.fault_detection.pyfunc import FaultClassifier

    member = Member.__new__(Member)
    old = (
        pickle.dumps((FaultClassifier, member), protocol=2)
        .replace(b"shopfloor.fault_detection.pyfunc", b"shopfloor.classify.model")
        .replace(b"shopfloor.anomaly_detection.detector", b"shopfloor.milling.detector")
    )
    assert b"shopfloor.classify.model" in old and b"shopfloor.milling" in old and b"_detection" not in old
    cls, loaded = pickle.loads(old)
    assert cls is FaultClassifier and type(loaded) is Member


def test_modules_that_did_not_move_are_left_alone():
    assert new_name("shopfloor.synth.flow") is None and new_name("shopfloor") is None
    assert set(_PACKAGES) == {"classify", "health", "milling", "wear", "retrain"}


@pytest.mark.parametrize("old", list(EARLIER_NAMES))
def test_an_earlier_kind_name_is_its_pipelines(old):
    assert model_class(old).KIND == canonical(old) != old
