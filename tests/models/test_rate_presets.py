"""The rate-coded presets (docs/rate.md §1): vgg15ab as the seed's vgg.py, lenet_binary, notation."""
import keras
import pytest

from layers import QuantConv2D, QuantDense
from models import NotationError, build_model, build_preset, parse_architecture

# features indices of the seed's conv layers: 0, 3, 6, ..., 36; pools after convs 1, 3, 6, 9, 12
SEED_POOLED = {1, 3, 6, 9, 12}


def _synapses(model):
    return [l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Dense, QuantConv2D, QuantDense))]


def test_vgg15ab_cifar100_matches_the_seed():
    model = build_preset("vgg15ab")
    assert model.count_params() == 17_217_216
    assert model.input_shape == (None, 32, 32, 3) and model.output_shape == (None, 100)
    synapses = _synapses(model)
    assert len(synapses) == 15
    assert isinstance(synapses[0], keras.layers.Conv2D) and isinstance(synapses[-1], keras.layers.Dense)
    assert all(s.kernel_quantizer == "xnor_net" for s in synapses[1:-1])
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in model.layers)
    assert not any(getattr(l, "use_bias", False) for l in model.layers)
    names = [l.name for l in model.layers]
    for j in range(13):
        after = names[names.index(f"conv{j}") + 1]
        assert after == (f"pool{j}" if j in SEED_POOLED else f"act{j}")
    # dropout after every ReLU not right after a pool, and before both dense layers
    drops = {l.name for l in model.layers if isinstance(l, keras.layers.Dropout)}
    assert drops == {f"drop{j}" for j in (0, 2, 4, 5, 7, 8, 10, 11, 12, 13)}
    assert model.get_layer("fc13").input.shape[-1] == 512


def test_vgg15ab_fp_is_float():
    model = build_preset("vgg15ab_fp")
    assert model.count_params() == 17_217_216
    assert not any(isinstance(l, (QuantConv2D, QuantDense)) for l in model.layers)


@pytest.mark.slow
def test_vgg15ab_imagenet_matches_the_seed():
    model = build_preset("vgg15ab_imagenet")
    assert model.count_params() == 121_566_912
    assert model.input_shape == (None, 224, 224, 3) and model.output_shape == (None, 1000)
    assert model.get_layer("fc13").input.shape[-1] == 25088


def test_lenet_binary_style():
    model = build_preset("lenet_binary")
    synapses = _synapses(model)
    assert type(synapses[0]) is keras.layers.Conv2D and type(synapses[-1]) is keras.layers.Dense
    assert all(s.kernel_quantizer == "xnor_net" for s in synapses[1:-1])
    names = [l.name for l in model.layers]
    assert names[names.index("conv1") + 1:names.index("conv1") + 3] == ["pool1", "act1"]  # pool before ReLU
    twin = build_preset("lenet_avg_fp")
    assert [l.name for l in twin.layers] == names
    assert twin.count_params() == model.count_params()


def test_notation_average_pool_and_dropout_tokens():
    specs = parse_architecture("8C3s-D0.25-8C3-A2-16")
    assert [s.kind for s in specs] == ["conv", "dropout", "conv", "avgpool", "dense"]
    assert specs[1].rate == 0.25 and specs[3].kernel == 2 and specs[3].stride == 2
    for bad, message in (("8C3-D1.0", "dropout rate"), ("8C3-16-A2", "must follow a convolution"),
                         ("8C3-Dx", "cannot parse")):
        with pytest.raises(NotationError, match=message):
            parse_architecture(bad)


def test_batch_norm_builder_refuses_rate_tokens():
    with pytest.raises(ValueError, match="rate-coded"):
        build_model("8C3-A2-16", dataset="mnist")
