import numpy as np

from models import build_preset
from snn_data import load_arrays
from snn_data.pipelines import eval_dataset, random_shift, train_dataset



def _first_batch(ds):
    return [t.numpy() for t in next(iter(ds))]


def _cifar(files):
    tmp_path, _ = files
    return load_arrays("cifar10", "train", tmp_path, verify_md5=False)


def test_cifar_training_batches_are_augmented_24x24_crops(cifar10_files):
    x, y = _cifar(cifar10_files)
    images, labels = _first_batch(train_dataset(x, y, 8, "cifar10", seed=3, epoch=0))
    assert images.shape == (8, 24, 24, 3) and images.dtype == np.float32
    assert labels.dtype == np.int64
    # brightness/contrast move values off the integer grid of the raw bytes
    assert not np.allclose(images, np.round(images))


def test_training_epochs_are_deterministic_and_differ(cifar10_files):
    x, y = _cifar(cifar10_files)
    a = _first_batch(train_dataset(x, y, 8, "cifar10", seed=3, epoch=1))
    b = _first_batch(train_dataset(x, y, 8, "cifar10", seed=3, epoch=1))
    c = _first_batch(train_dataset(x, y, 8, "cifar10", seed=3, epoch=2))
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_cifar_test_images_are_cropped_and_standardized_by_the_model(cifar10_files):
    x, y = _cifar(cifar10_files)
    images, _ = _first_batch(eval_dataset(x, y, 4))
    assert images.shape == (4, 32, 32, 3)
    model = build_preset("vgg")
    crop = model.get_layer("standardize").output
    import keras
    standardized = keras.Model(model.input, crop)(images).numpy()
    assert standardized.shape == (4, 24, 24, 3)
    np.testing.assert_allclose(standardized.mean(axis=(1, 2, 3)), 0, atol=1e-4)


def test_mnist_shift_moves_content_within_two_pixels():
    image = np.zeros((1, 28, 28, 1), np.float32)
    image[0, 14, 14, 0] = 1
    for seed in range(25):
        out = random_shift(image, np.array([seed]), 2).numpy()
        (r,), (c,) = np.nonzero(out[0, :, :, 0])
        assert abs(r - 14) <= 2 and abs(c - 14) <= 2 and out.sum() == 1


def test_mnist_training_batches(data_dir):
    x, y = load_arrays("mnist", "test", data_dir)
    images, labels = _first_batch(train_dataset(x[:512], y[:512], 128, "mnist", seed=0, epoch=0))
    assert images.shape == (128, 28, 28, 1) and 0 <= images.min() and images.max() <= 255
    plain, _ = _first_batch(train_dataset(x[:512], y[:512], 128, "mnist", seed=0, epoch=0, augment=False))
    # same order, same digits: most MNIST digits keep a 4-pixel margin, so a 2-pixel shift
    # loses nothing (a few touch the border and lose a little ink)
    same_ink = plain.sum(axis=(1, 2, 3)) == images.sum(axis=(1, 2, 3))
    assert same_ink.mean() > 0.9
    assert not np.array_equal(plain, images)
    assert labels.shape == (128,)
