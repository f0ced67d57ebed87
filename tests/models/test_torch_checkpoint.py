"""PyTorch checkpoints of the binary-SNN seed read without torch (docs/rate.md §6), on fixtures that
real PyTorch 2.13 wrote (tests/fixtures/torch/make_checkpoints.py) in the zip and legacy formats."""
import io
import os
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from models.torch_checkpoint import (CheckpointError, LEGACY_MAGIC, import_vgg15ab, is_binarized, model_from_tensors,
                                     normalize_keys, read_torch_checkpoint)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "torch"
FILES = ["cifar100_zip.pth.tar", "cifar100_legacy.pth.tar", "bin_cifar100_legacy.pth.tar", "imagenet_zip.pth.tar"]


@pytest.fixture(scope="module")
def known():
    return dict(np.load(FIXTURES / "known.npz"))


@pytest.mark.parametrize("name", FILES)
def test_round_trip_is_exact(name, known):
    tensors = read_torch_checkpoint(FIXTURES / name)
    assert len(tensors) == 15 and all(key.startswith(("features.module.", "classifier.")) for key in tensors)
    for key, value in tensors.items():
        expected = known[f"{name}:{key}"]
        assert value.dtype == expected.dtype and value.shape == expected.shape
        np.testing.assert_array_equal(value, expected)


@pytest.mark.parametrize("name, dataset", [("cifar100_zip.pth.tar", "cifar100"), ("imagenet_zip.pth.tar", "imagenet")])
def test_keras_model_computes_the_torch_logits(name, dataset, known):
    # OIHW -> HWIO, (out, in) -> (in, out), and for ImageNet the C,H,W order of FC1's 32*7*7 inputs
    model, facts = import_vgg15ab(FIXTURES / name, dataset, binary=False)
    logits = model.predict(known[f"{name}:pixels"].astype(np.float32), verbose=0)
    expected = known[f"{name}:logits"]  # float32 sums in another order: tolerance relative to the scale
    np.testing.assert_allclose(logits, expected, rtol=0, atol=1e-4 * np.abs(expected).max())
    assert facts["widths"][0] == 4 and facts["fc_units"] == 64


def test_binarized_checkpoints_are_detected(known):
    _, binary = import_vgg15ab(FIXTURES / "bin_cifar100_legacy.pth.tar", "cifar100")
    assert binary["binarized_layers"] == 13 and not binary["xnor_applied"]
    model, latent = import_vgg15ab(FIXTURES / "cifar100_zip.pth.tar", "cifar100", binarize=True)
    assert latent["binarized_layers"] == 0 and latent["xnor_applied"]
    assert model.get_layer("conv5").kernel_quantizer == "xnor_net"
    assert is_binarized(np.array([[0.5, -0.5, 0.0], [2.0, 2.0, -2.0]])) and not is_binarized(np.array([[1.0, 0.5]]))


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo owned",))


def test_a_pickle_that_calls_a_function_is_refused(tmp_path):
    legacy = tmp_path / "evil_legacy.pth"
    with open(legacy, "wb") as handle:
        for obj in (LEGACY_MAGIC, 1001, {}, {"state_dict": _Evil()}):
            pickle.dump(obj, handle, protocol=2)
    zipped = tmp_path / "evil_zip.pth"
    with zipfile.ZipFile(zipped, "w") as archive:
        archive.writestr("evil/data.pkl", pickle.dumps({"w": _Evil()}, protocol=2))
    for path in (legacy, zipped):
        with pytest.raises(CheckpointError, match=r"refused to load (posix|os)\.system") as err:
            read_torch_checkpoint(path)
        assert "\n" not in str(err.value)


def test_not_a_checkpoint_is_one_line(tmp_path):
    path = tmp_path / "junk.pth.tar"
    path.write_bytes(b"\x80\x02hello")
    with pytest.raises(CheckpointError):
        read_torch_checkpoint(path)
    buffer = io.BytesIO()
    pickle.dump(12345, buffer, protocol=2)
    path.write_bytes(buffer.getvalue())
    with pytest.raises(CheckpointError, match="magic"):
        read_torch_checkpoint(path)


def test_keys_and_shapes_that_do_not_fit_name_the_first_misfit():
    tensors = normalize_keys(read_torch_checkpoint(FIXTURES / "cifar100_legacy.pth.tar"))
    assert "features.0.weight" in tensors and "classifier.4.weight" in tensors
    extra = {**tensors, "features.1.bias": np.zeros(4, np.float32)}
    with pytest.raises(CheckpointError, match="unexpected key features.1.bias"):
        model_from_tensors(extra)
    missing = {k: v for k, v in tensors.items() if k != "features.9.weight"}
    with pytest.raises(CheckpointError, match="missing key features.9.weight"):
        model_from_tensors(missing)
    wrong = {**tensors, "features.6.weight": np.zeros((8, 5, 3, 3), np.float32)}  # in-channels 5, not 4
    with pytest.raises(CheckpointError, match=r"features.6.weight has shape \(8, 5, 3, 3\)"):
        model_from_tensors(wrong)
    with pytest.raises(CheckpointError, match="classifier.1.weight"):  # 32 inputs, ImageNet needs 32*7*7
        model_from_tensors(tensors, "imagenet")
