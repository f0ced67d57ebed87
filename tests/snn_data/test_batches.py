"""The TensorFlow-free input pipeline: same order and MNIST shifts as tf.data, CIFAR augmentation,
shares of a global batch, padded evaluation batches."""
import numpy as np
import pytest

from snn_data import load_arrays
from snn_data.augment import cifar_augment, cifar_parameters, epoch_order, seed_style_parameters
from snn_data.batches import EvalBatches, TrainBatches, global_batch_sizes
from tests.conftest import write_cifar100


def _mnist(data_dir, count=300):
    x, y = load_arrays("mnist", "test", data_dir)
    return x[:count], y[:count]


def test_mnist_batches_equal_the_tf_data_pipeline(data_dir):
    from snn_data.pipelines import train_dataset

    x, y = _mnist(data_dir)
    ours = TrainBatches(x, y, 128, "mnist", seed=5, epoch=3)
    theirs = [(a.numpy(), b.numpy()) for a, b in train_dataset(x, y, 128, "mnist", seed=5, epoch=3)]
    assert len(ours) == len(theirs) == 3  # 128 + 128 + 44
    for i, (images, labels) in enumerate(theirs):
        np.testing.assert_array_equal(ours[i][0], images)
        np.testing.assert_array_equal(ours[i][1], labels)
        assert ours[i][0].dtype == np.float32
    assert not np.array_equal(ours[0][0], np.asarray(x[:128], np.float32))  # shuffled and shifted


def test_epochs_are_deterministic_per_seed_and_epoch(data_dir):
    x, y = _mnist(data_dir)
    a = TrainBatches(x, y, 64, "mnist", seed=1, epoch=2)[0][0]
    b = TrainBatches(x, y, 64, "mnist", seed=1, epoch=2)[0][0]
    c = TrainBatches(x, y, 64, "mnist", seed=1, epoch=3)[0][0]
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_process_shares_put_together_are_the_one_process_batch(data_dir):
    x, y = _mnist(data_dir, 250)
    whole = TrainBatches(x, y, 100, "mnist", seed=0, epoch=0, multiple=4)
    shares = [TrainBatches(x, y, 100, "mnist", seed=0, epoch=0, multiple=4, shard=(i, 2)) for i in range(2)]
    assert len(whole) == 3 and len(whole[2][1]) == 48  # the 50 left over, cut to a multiple of 4
    for step in range(len(whole)):
        np.testing.assert_array_equal(np.concatenate([s[step][0] for s in shares]), whole[step][0])
        np.testing.assert_array_equal(np.concatenate([s[step][1] for s in shares]), whole[step][1])


def test_global_batch_sizes():
    assert global_batch_sizes(250, 100) == [100, 100, 50]
    assert global_batch_sizes(250, 100, multiple=8) == [100, 100, 48]
    assert global_batch_sizes(203, 100, multiple=4) == [100, 100]
    with pytest.raises(ValueError, match="does not split"):
        TrainBatches(np.zeros((10, 28, 28, 1), np.uint8), np.zeros(10, np.int64), 10, "mnist", 0, 0, multiple=4)


def test_cifar_augmentation_crops_flips_and_shifts_values(cifar10_files):
    x, y = load_arrays("cifar10", "train", cifar10_files[0], verify_md5=False)
    images, labels = TrainBatches(x, y, 8, "cifar10", seed=3, epoch=0)[0]
    assert images.shape == (8, 24, 24, 3) and images.dtype == np.float32 and labels.dtype == np.int64
    assert not np.allclose(images, np.round(images))  # brightness/contrast leave the byte grid
    plain, _ = TrainBatches(x, y, 8, "cifar10", seed=3, epoch=0, augment=False)[0]
    order, _ = epoch_order(len(x), 3, 0)
    np.testing.assert_array_equal(plain, x[order[:8], 4:28, 4:28].astype(np.float32))  # central crops


def test_cifar_augmentation_follows_tf_image_formulas():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 32, 32, 3)).astype(np.uint8)
    params = {"corner": np.array([[0, 8], [3, 1]]), "flip": np.array([False, True]),
              "brightness": np.array([10.0, -5.0], np.float32), "contrast": np.array([1.0, 0.5], np.float32)}
    out = cifar_augment(images, params)
    np.testing.assert_allclose(out[0], images[0, 0:24, 8:32].astype(np.float32) + 10.0)
    crop = images[1, 3:27, 1:25, :][:, ::-1].astype(np.float32) - 5.0
    mean = crop.mean(axis=(0, 1), keepdims=True)
    np.testing.assert_allclose(out[1], (crop - mean) * 0.5 + mean, rtol=1e-5, atol=1e-4)


def test_cifar_parameters_cover_their_ranges():
    p = cifar_parameters(4000, seed=0, epoch=0)
    assert p["corner"].min() == 0 and p["corner"].max() == 8
    assert 0.45 < p["flip"].mean() < 0.55
    assert -63 <= p["brightness"].min() < -60 and 60 < p["brightness"].max() <= 63
    assert 0.2 <= p["contrast"].min() < 0.25 and 1.75 < p["contrast"].max() <= 1.8


def test_eval_batches_pad_to_the_device_count():
    images = np.arange(7 * 4, dtype=np.uint8).reshape(7, 2, 2, 1)
    batches = EvalBatches(images, 4, multiple=4)
    assert batches.real == 7 and len(batches) == 2
    last = batches[1][0]
    assert last.shape == (4, 2, 2, 1)
    np.testing.assert_array_equal(last[-1], images[-1])  # the padding repeats the last image


def _seed_crop_flip(image, top, left, flip, padding=4):
    """One image the way torchvision's RandomCrop(32, padding=4) + RandomHorizontalFlip make it."""
    padded = np.pad(image, ((padding, padding), (padding, padding), (0, 0)))
    crop = padded[top : top + image.shape[0], left : left + image.shape[1]]
    return crop[:, ::-1] if flip else crop


def test_seed_style_cifar100_batches_crop_the_padded_image_and_flip(tmp_path):
    """vgg15ab's CIFAR-100 augmentation on the numpy pipeline (docs/training.md §5, §7)."""
    write_cifar100(tmp_path, count=64)
    x, y = load_arrays("cifar100", "train", tmp_path, verify_md5=False)
    batches = TrainBatches(x, y, 32, "cifar100", seed=3, epoch=1, seed_style=True)
    order, _ = epoch_order(len(x), 3, 1)
    params = seed_style_parameters(len(x), 3, 1)
    assert len(batches) == 2 and params["flip"][:32].any() and not params["flip"][:32].all()
    for step in range(2):
        images, labels = batches[step]
        assert images.shape == (32, 32, 32, 3) and images.dtype == np.float32
        for i, position in enumerate(range(32 * step, 32 * (step + 1))):
            top, left = params["corner"][position]
            expected = _seed_crop_flip(x[order[position]], top, left, params["flip"][position])
            np.testing.assert_array_equal(images[i], expected.astype(np.float32))
        np.testing.assert_array_equal(labels, y[order[32 * step : 32 * (step + 1)]])

    np.testing.assert_array_equal(TrainBatches(x, y, 32, "cifar100", seed=3, epoch=1, seed_style=True)[0][0],
                                  batches[0][0])
    assert not np.array_equal(TrainBatches(x, y, 32, "cifar100", seed=3, epoch=2, seed_style=True)[0][0],
                              batches[0][0])
    shares = [TrainBatches(x, y, 32, "cifar100", seed=3, epoch=1, seed_style=True, multiple=2, shard=(i, 2))
              for i in range(2)]
    np.testing.assert_array_equal(np.concatenate([s[1][0] for s in shares]), batches[1][0])
    plain, _ = TrainBatches(x, y, 32, "cifar100", seed=3, epoch=1, augment=False, seed_style=True)[0]
    np.testing.assert_array_equal(plain, x[order[:32]].astype(np.float32))  # whole 32 x 32 images


def test_seed_style_parameters_reach_all_81_corners():
    p = seed_style_parameters(4000, seed=0, epoch=0)
    assert len({(top, left) for top, left in p["corner"].tolist()}) == 81  # offsets 0..8 each way
    assert p["corner"].min() == 0 and p["corner"].max() == 8
    assert 0.45 < p["flip"].mean() < 0.55
    assert not np.array_equal(seed_style_parameters(100, 0, 1)["corner"], p["corner"][:100])


def test_jax_inputs_train_the_rate_presets_on_cifar_with_the_seed_augmentation(tmp_path):
    """The numpy pipeline used to refuse vgg15ab on CIFAR-100; it now serves the seed's crop-and-flip."""
    from types import SimpleNamespace

    from training.inputs import NumpyInputs

    write_cifar100(tmp_path, count=16)
    x, y = load_arrays("cifar100", "train", tmp_path, verify_md5=False)
    options = {"model": "vgg15ab", "dataset": "cifar100", "batch_size": 8, "seed": 0, "augment": True}
    inputs = NumpyInputs(SimpleNamespace(devices=1, shard=(0, 1)))
    images, _ = inputs.train(x, y, options, epoch=0)[1]
    np.testing.assert_array_equal(images, TrainBatches(x, y, 8, "cifar100", 0, 0, seed_style=True)[1][0])
    lenet_style, _ = inputs.train(x, y, {**options, "model": "vgg"}, epoch=0)[1]
    assert lenet_style.shape == (8, 24, 24, 3)  # the other CIFAR presets keep §1's augmentation


def _tiny_jpeg_tree(root):
    """train/<wnid>/*.JPEG: 5 small images of different sizes and colours in 2 classes."""
    from PIL import Image

    rng = np.random.default_rng(0)
    for i, (wnid, size) in enumerate([("n01", (40, 30)), ("n01", (30, 50)), ("n02", (64, 64)), ("n02", (20, 36)),
                                      ("n02", (50, 40))]):
        (root / "train" / wnid).mkdir(parents=True, exist_ok=True)
        pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "train" / wnid / f"{wnid}_{i}.JPEG", quality=90)
    return root


def test_image_folder_batches_decode_in_threads_what_the_folder_reader_reads(tmp_path):
    import keras

    from snn_data.batches import ImageFolderBatches
    from snn_data.rate_transforms import image_files, read_image_folder

    root = _tiny_jpeg_tree(tmp_path / "imagenet")
    expected, labels = read_image_folder(root, "train")
    batches = ImageFolderBatches(image_files(root, "train"), 2, workers=3)
    assert len(batches) == 3 and batches.classes == ["n01", "n02"]
    images = np.concatenate([batches[i][0] for i in range(3)])
    assert images.dtype == np.float32 and images.shape == (5, 224, 224, 3)
    np.testing.assert_array_equal(images, expected.astype(np.float32))
    np.testing.assert_array_equal(np.concatenate([batches[i][1] for i in range(3)]), labels)

    # Through Keras' own prefetching (3 threads), batches come back in order.
    model = keras.Sequential([keras.Input((224, 224, 3)), keras.layers.GlobalAveragePooling2D()])
    means = model.predict(batches, verbose=0)
    np.testing.assert_allclose(means, expected.astype(np.float32).mean(axis=(1, 2)), rtol=1e-5)

    reordered = ImageFolderBatches(image_files(root, "train"), 4, order=[4, 0])
    np.testing.assert_array_equal(reordered[0][1], labels[[4, 0]])
    with pytest.raises(IndexError):
        reordered[1]
