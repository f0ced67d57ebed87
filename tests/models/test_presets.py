import keras
import numpy as np
import pytest

from layers import QuantActivation, QuantConv2D, QuantDense
from models import PRESETS, build_model, build_preset, get_preset, hidden_macs, layer_macs


def test_lenet_is_the_seeds_code_network():
    # Quant_LeNet_MNIST.py: SAME 16C5 encoder, 16C5 VALID, P2, 32C5 VALID, P2, 256 as a 4x4 VALID conv
    model = build_preset("lenet")
    shapes = {layer.name: tuple(layer.output.shape[1:]) for layer in model.layers if layer.name.startswith("act")}
    assert shapes == {"act0": (28, 28, 16), "act1": (24, 24, 16), "act2": (12, 12, 16), "act3": (8, 8, 32),
                      "act4": (4, 4, 32), "act5": (1, 1, 256)}
    assert sum(int(np.prod(shape)) for shape in shapes.values()) == 26_880  # the seed's figs/sparsity.py
    assert [model.get_layer(f"conv{i}").padding for i in (0, 1, 3, 5)] == ["same", "valid", "valid", "valid"]
    assert model.get_layer("conv5").kernel_size == (4, 4)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in
                   model.layers[model.layers.index(model.get_layer("classifier")):])


def test_lenet_hidden_macs():
    # 24*24*16*16*25 + 12*12*16*16*4 + 8*8*32*16*25 + 4*4*32*32*4 + 32*16*256
    assert hidden_macs(build_preset("lenet")) == 4_849_664


def test_readme_formula_lenet_hidden_macs_match_the_paper():
    # docs/networks.md §1, the SG README's formula: 12*12*16*16*2*2 + 5*5*16*32*8*8 + 2*2*32*32*4*4 + 4*4*32*256
    assert hidden_macs(build_preset("lenet_readme")) == 1_163_264


def test_vgg_hidden_macs_match_the_paper():
    assert hidden_macs(build_preset("vgg")) == 126_222_336


def test_allint_presets_hidden_macs():
    # docs/networks.md §3, with the same convention.
    assert hidden_macs(build_preset("lenet_allint")) == 5_152_768
    assert hidden_macs(build_preset("cnn1")) == 399_179_776


def test_mac_roles_exclude_encoding_and_classifier():
    rows = layer_macs(build_preset("lenet_readme"))
    assert [r.role for r in rows] == ["encoding"] + ["hidden"] * 4 + ["classifier"]
    assert rows[0].macs == 24 * 24 * 16 * 25 and rows[-1].macs == 2560


def test_readme_lenet_structure():
    model = build_preset("lenet_readme", k=0, B=4)
    assert model.input_shape == (None, 28, 28, 1) and model.output_shape == (None, 10)
    assert type(model.get_layer("conv0")) is keras.layers.Conv2D  # float encoding layer
    assert isinstance(model.get_layer("pool1"), QuantConv2D)
    assert model.get_layer("pool1").strides == (2, 2)
    assert isinstance(model.get_layer("fc4"), QuantDense)
    acts = [layer for layer in model.layers if isinstance(layer, QuantActivation)]
    assert len(acts) == 5 and all((a.k, a.B, a.mode) == (0, 4, "median") for a in acts)
    assert not model.get_layer("classifier").use_bias
    bn = model.get_layer("bn0")
    assert bn.momentum == 0.9 and bn.epsilon == 1e-5


def test_allint_quantizers():
    model = build_preset("lenet_allint", k=0)
    assert (model.get_layer("act0").k, model.get_layer("act0").B) == (0, 4)
    assert model.get_layer("act1").mode == "unbounded"
    assert model.get_layer("fc4").units == 1000


def test_use_ternary_false_gives_float_hidden_weights():
    model = build_preset("lenet_allint", use_ternary=False)
    assert not any(isinstance(layer, (QuantConv2D, QuantDense)) for layer in model.layers)


def test_float_baseline_has_no_quantizers():
    model = build_preset("vgg_fp")
    assert not any(isinstance(l, (QuantActivation, QuantConv2D, QuantDense)) for l in model.layers)


def test_cifar_models_crop_to_24_and_take_any_size():
    model = build_preset("vgg", dataset="cifar100")
    assert model.input_shape == (None, None, None, 3) and model.output_shape == (None, 100)
    assert model.get_layer("conv0").output.shape[1:3] == (24, 24)


def test_every_preset_builds():
    from models import DATASETS

    for name, preset in PRESETS.items():
        if preset.dataset == "imagenet":  # 121 M parameters: tests/models/test_rate_presets.py (slow)
            continue
        assert build_preset(name).output_shape[-1] == DATASETS[preset.dataset][1]


def test_unknown_preset_lists_valid_names():
    with pytest.raises(ValueError, match="valid: lenet, lenet_fp"):
        get_preset("resnet")


def test_custom_notation_model():
    model = build_model("8C3-P2-32", dataset="mnist", k=1, B=1)
    assert [l.name for l in model.layers if "conv" in l.name or "pool" in l.name or "fc" in l.name] == [
        "conv0", "pool1", "fc2"]
