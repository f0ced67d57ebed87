import pytest

from models import LayerSpec, NotationError, parse_architecture


def test_lenet_notation():
    assert parse_architecture("16C5-P2-32C5-P2-256") == [
        LayerSpec("conv", 16, 5, 1, "valid"),
        LayerSpec("pool", 16, 2, 2, "valid"),
        LayerSpec("conv", 32, 5, 1, "valid"),
        LayerSpec("pool", 32, 2, 2, "valid"),
        LayerSpec("dense", 256),
    ]


def test_padding_suffix_repeat_and_default():
    specs = parse_architecture("64C3-128C3*2-P2-512C3v-10", default_padding="same")
    assert [s.padding for s in specs[:4]] == ["same", "same", "same", "valid"]
    assert specs[3] == LayerSpec("pool", 128, 2, 2, "valid")
    assert specs[4] == LayerSpec("conv", 512, 3, 1, "valid")
    assert specs[-1] == LayerSpec("dense", 10)
    assert parse_architecture("8C3s")[0].padding == "same"


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "empty"),
        ("16C5-X3-256", "'X3'"),
        ("256-16C5", "first layer must be a convolution"),
        ("P2-16C5", "must follow a convolution"),
        ("16C5-256-P2", "must follow a convolution"),
        ("0C5", "positive"),
        ("16C5*0", "repeat count"),
        ("16c5", "'16c5'"),
    ],
)
def test_bad_notation_names_the_token(text, fragment):
    with pytest.raises(NotationError, match="valid tokens|must|positive|repeat|empty") as info:
        parse_architecture(text)
    assert fragment in str(info.value)
