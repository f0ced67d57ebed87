"""ImageNet training data (docs/training.md §5, §7): torchvision's RandomResizedCrop rule in numpy and
TensorFlow, the tf.data file pipeline and the PyDataset batches, on a tiny ImageFolder tree."""
import numpy as np
import pytest
from PIL import Image

from snn_data.augment import epoch_order
from snn_data.batches import ImageFolderBatches
from snn_data.rate_transforms import (ATTEMPTS, CROP, TRAIN_DRAWS, eval_transform, image_files, random_resized_box,
                                      train_transform)
from snn_data.readers import check_imagenet_folders, imagenet_files
from snn_data.sources import DataError

SIZES = [(60, 40), (40, 70), (90, 90), (30, 50), (120, 45)]  # (width, height); 120 x 45 is wider than 4/3


def smooth_image(width, height, phase):
    """Colour ramps (no high frequencies), so two bilinear resizers agree to a few levels."""
    rows, cols = np.mgrid[0:height, 0:width]
    pixels = np.stack([255 * cols / width, 255 * rows / height, 127 + 100 * np.sin(cols / 9 + rows / 13 + phase)], -1)
    return Image.fromarray(pixels.astype(np.uint8))


def write_tree(root, train_sizes=SIZES, val_sizes=SIZES[:2]):
    """<root>/{train,val}/<wnid>/*.JPEG, alternating two classes; returns root."""
    for split, sizes in (("train", train_sizes), ("val", val_sizes)):
        for i, (width, height) in enumerate(sizes):
            folder = root / split / f"n0{i % 2}"
            folder.mkdir(parents=True, exist_ok=True)
            smooth_image(width, height, i).save(folder / f"img_{i}.JPEG", quality=95)
    return root


@pytest.fixture
def tree(tmp_path):
    return write_tree(tmp_path / "imagenet")


def test_the_crop_rule_is_torchvisions_and_the_same_in_tensorflow():
    import tensorflow as tf

    from snn_data.pipelines import random_resized_box as tf_box

    rng = np.random.default_rng(1)
    for _ in range(300):
        height, width = (int(v) for v in rng.integers(1, 400, 2))
        draws = rng.random(TRAIN_DRAWS)
        top, left, h, w = random_resized_box(height, width, draws)
        assert 0 <= top <= height - h and 0 <= left <= width - w and 1 <= h <= height and 1 <= w <= width
        got = tf_box(tf.constant(height), tf.constant(width), tf.constant(draws))
        assert tuple(int(v) for v in got) == (top, left, h, w), (height, width)
    # A 10 x 200 strip fits no candidate (a box of >= 8 % of its area is wider than 10): torchvision's
    # fallback, the centred 10 x round(10 / (3/4)) box.
    draws = rng.random(TRAIN_DRAWS)
    assert random_resized_box(200, 10, draws) == (93, 0, 13, 10)
    assert tuple(int(v) for v in tf_box(tf.constant(200), tf.constant(10), tf.constant(draws))) == (93, 0, 13, 10)
    # The first attempt that fits wins: a full-area square box at attempt 0.
    draws = np.full(TRAIN_DRAWS, 0.5)
    draws[0], draws[ATTEMPTS] = 1 - 1e-12, 0.5
    assert random_resized_box(100, 100, draws) == (0, 0, 100, 100)


def test_train_transform_crops_resizes_and_flips_with_the_seeds_draws():
    image = smooth_image(80, 60, 0)
    seed = np.array([3, 4])
    out = train_transform(image, seed)
    assert out.shape == (CROP, CROP, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, train_transform(image, seed))
    draws = np.random.default_rng(seed).random(TRAIN_DRAWS)
    top, left, h, w = random_resized_box(60, 80, draws)
    expected = np.asarray(image.crop((left, top, left + w, top + h)).resize((CROP, CROP), Image.BILINEAR))
    np.testing.assert_array_equal(out, expected[:, ::-1] if draws[-1] < 0.5 else expected)
    flips = {bool(np.random.default_rng([0, s]).random(TRAIN_DRAWS)[-1] < 0.5) for s in range(10)}
    assert flips == {True, False}


def test_tensorflow_pipeline_streams_deterministic_epochs(tree):
    import tensorflow as tf

    from snn_data.pipelines import image_train_dataset

    files = image_files(tree, "train")
    batches = list(image_train_dataset(files, 2, seed=5, epoch=0).as_numpy_iterator())
    assert [len(x) for x, _ in batches] == [2, 2, 1]
    images = np.concatenate([x for x, _ in batches])
    assert images.dtype == np.float32 and images.shape == (5, CROP, CROP, 3)
    assert images.min() >= 0 and images.max() <= 255 and np.array_equal(images, np.round(images))
    order, seeds = epoch_order(5, 5, 0)
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), files.labels[order])
    again = np.concatenate([x for x, _ in image_train_dataset(files, 2, seed=5, epoch=0)])
    np.testing.assert_array_equal(images, again)
    other = np.concatenate([x for x, _ in image_train_dataset(files, 2, seed=5, epoch=1)])
    assert not np.array_equal(np.sort(images, axis=None), np.sort(other, axis=None))

    # Each image is the numpy rule's box of TensorFlow's draws, resized (to a few levels: PIL and
    # tf.image resize and decode slightly differently) and flipped.
    for position, index in enumerate(order):
        draws = tf.random.stateless_uniform([TRAIN_DRAWS], seed=seeds[position], dtype=tf.float64).numpy()
        with Image.open(files.paths[index]) as image:
            image = image.convert("RGB")
            top, left, h, w = random_resized_box(image.height, image.width, draws)
            expected = np.asarray(image.crop((left, top, left + w, top + h)).resize((CROP, CROP), Image.BILINEAR))
        expected = expected[:, ::-1] if draws[-1] < 0.5 else expected
        assert np.abs(images[position] - expected).mean() < 3, position

    # Without augmentation: the evaluation transform (256 x 256, centre 224), close to PIL's.
    plain = np.concatenate([x for x, _ in image_train_dataset(files, 5, seed=5, epoch=0, augment=False)])
    with Image.open(files.paths[order[0]]) as image:
        assert np.abs(plain[0] - eval_transform(image)).mean() < 3


def test_numpy_batches_stream_deterministic_epochs(tree):
    files = image_files(tree, "train")
    order, seeds = epoch_order(len(files), 5, 0)
    batches = ImageFolderBatches(files, 2, train_transform, order, seeds, workers=2)
    assert len(batches) == 3
    images = np.concatenate([batches[i][0] for i in range(3)])
    labels = np.concatenate([batches[i][1] for i in range(3)])
    assert images.dtype == np.float32 and images.shape == (5, CROP, CROP, 3) and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, files.labels[order])
    for position, index in enumerate(order):
        with Image.open(files.paths[index]) as image:
            np.testing.assert_array_equal(images[position], train_transform(image, seeds[position]))
    order1, seeds1 = epoch_order(len(files), 5, 1)
    other = ImageFolderBatches(files, 2, train_transform, order1, seeds1)
    assert not np.array_equal(other[0][0], batches[0][0])

    # Two devices: the last global batch is cut to an even size in training, padded in evaluation.
    assert len(ImageFolderBatches(files, 2, train_transform, order, seeds, multiple=2)) == 2
    padded = ImageFolderBatches(image_files(tree, "train"), 4, eval_transform, multiple=2, pad=True)
    assert padded.real == 5 and [len(padded[i][1]) for i in range(len(padded))] == [4, 2]
    np.testing.assert_array_equal(padded[1][0][0], padded[1][0][1])  # the last image, repeated


def test_train_py_inputs_serve_imagenet_files_on_both_backends(tree):
    """training/inputs.py: ImageFiles go to the file pipelines, batches of the options' size."""
    from training import distribute
    from training.inputs import NumpyInputs, TfInputs

    files = image_files(tree, "train")
    options = {"batch_size": 2, "seed": 0, "augment": True, "dataset": "imagenet", "model": "vgg15ab_imagenet"}
    tf_x, tf_y = next(iter(TfInputs().train(files, files.labels, options, epoch=0)))
    np_x, np_y = NumpyInputs(distribute.Placement("jax")).train(files, files.labels, options, epoch=0)[0]
    assert tuple(tf_x.shape) == np_x.shape == (2, CROP, CROP, 3)
    np.testing.assert_array_equal(np.asarray(tf_y), np_y)  # the same order on both backends


def test_bad_trees_are_one_line_errors(tmp_path, tree):
    check_imagenet_folders(tree.parent)  # <dir>/imagenet/{train,val}
    check_imagenet_folders(tree)  # or <dir>/{train,val}
    with pytest.raises(DataError, match="missing ImageNet folder"):
        check_imagenet_folders(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    (empty / "train" / "n01").mkdir(parents=True)
    (empty / "train" / "n01" / "readme.txt").write_text("no images")
    (empty / "val" / "n01").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no images"):
        check_imagenet_folders(empty)
    with pytest.raises(DataError, match="holds no images"):
        imagenet_files("train", empty)
    archives = tmp_path / "archives"
    archives.mkdir()
    (archives / "ILSVRC2012_img_val.tar").write_bytes(b"")
    with pytest.raises(DataError, match="streams ImageNet from an ImageFolder"):
        check_imagenet_folders(archives)
    assert imagenet_files("test", tree).split == "val" and len(imagenet_files("test", tree)[:1]) == 1
