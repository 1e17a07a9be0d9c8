"""One layer filter, filter_fn(module, fqn) -> bool, across FR, pointwise conversion and occasional regularization."""

import pytest
import torch
from torch import nn

import freqlib
from freqlib import layers, pointwise
from freqlib.fr import fr_weights
from freqlib.occasional import OccasionalRegularizer, magnitude_prune


def net():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(8, 16, 3, padding=1),
        nn.Conv2d(16, 16, 1),
        nn.Sequential(nn.Conv2d(16, 32, 1), nn.ReLU()),
        nn.Flatten(),
        nn.Linear(32 * 4 * 4, 10),
    )


def fr_names(model):
    return [name for name, *_ in fr_weights(model)]


def test_by_name_and_by_type():
    conv, lin = nn.Conv2d(2, 2, 1), nn.Linear(2, 2)
    f = layers.by_name(include="2.*", exclude=["2.1"])
    assert f(conv, "2.0") and not f(conv, "2.1") and not f(conv, "1")
    assert layers.by_name()(conv, "anything")
    t = layers.by_type(nn.Linear)
    assert t(lin, "x") and not t(conv, "x")
    both = layers.all_of(f, layers.by_type(nn.Conv2d), None)
    assert both(conv, "2.0") and not both(lin, "2.0")


def test_frequency_regularize_filter_fn():
    model = freqlib.frequency_regularize(net(), keep=0.5, filter_fn=lambda m, fqn: isinstance(m, nn.Conv2d))
    assert fr_names(model) == ["0.weight", "1.weight", "2.0.weight"]
    model = freqlib.frequency_regularize(net(), keep=0.5, filter_fn=layers.by_name(exclude="2.*"))
    assert fr_names(model) == ["0.weight", "1.weight", "4.weight"]


def test_pointwise_convert_filter_fn_and_glob_sugar_agree():
    a = pointwise.convert(net(), 4, filter_fn=lambda m, fqn: m.out_channels == 32)
    b = pointwise.convert(net(), 4, include=["2.*"])
    assert list(pointwise.pointwise_layers(a)) == list(pointwise.pointwise_layers(b)) == ["2.0"]
    c = pointwise.convert(net(), 4, exclude=["2.0"], filter_fn=layers.by_type(nn.Conv2d))
    assert list(pointwise.pointwise_layers(c)) == ["1"]


def test_occasional_regularizer_filter_fn():
    reg = OccasionalRegularizer(net(), magnitude_prune(0.5), period=2, filter_fn=layers.by_type(nn.Linear))
    assert reg.names == ["4.weight"]
    with pytest.raises(ValueError, match="modules= or filter_fn=, not both"):
        OccasionalRegularizer(net(), magnitude_prune(0.5), period=2, modules=["4"], filter_fn=layers.by_type(nn.Linear))
    with pytest.raises(ValueError, match="weight that filter_fn picks"):
        OccasionalRegularizer(net(), magnitude_prune(0.5), period=2, filter_fn=lambda m, fqn: False)


def test_bad_filters_fail_with_the_parameter_named():
    with pytest.raises(TypeError, match="filter_fn must be callable"):
        freqlib.frequency_regularize(net(), keep=0.5, filter_fn="conv")
    with pytest.raises(TypeError, match=r"filter_fn\(Conv2d, '0'\) returned str, not bool"):
        freqlib.frequency_regularize(net(), keep=0.5, filter_fn=lambda m, fqn: "yes")
    with pytest.raises(TypeError, match="that filter_fn picks"):
        freqlib.frequency_regularize(net(), keep=0.5, filter_fn=lambda m, fqn: False)
    with pytest.raises(TypeError, match="include: glob patterns must be strings"):
        layers.by_name(include=[3])
    with pytest.raises(TypeError, match="by_type: expected nn.Module classes"):
        layers.by_type(int)
