"""The catalog of kinds: each entry's model class and retrainer say the same kind, and logged answers name it."""

from __future__ import annotations

import pytest

from shopfloor.errors import DataError
from shopfloor.kinds import KINDS, kind_answering, model_class, retrainer_for


@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_names_its_model_class_and_retrainer(kind):
    model = model_class(kind)
    assert model.KIND == kind and model.ANSWER
    assert retrainer_for(kind).KIND == kind
    assert model.live_metrics.__qualname__.startswith(model.__name__)  # its own live metrics, not the base's
    assert kind_answering({model.ANSWER, "something else"}) == kind


def test_an_unknown_kind_is_a_named_error():
    with pytest.raises(DataError, match="no kind of model named 'camera'"):
        model_class("camera")
    with pytest.raises(ValueError, match="no kind of model answers"):
        kind_answering({"nothing"})
