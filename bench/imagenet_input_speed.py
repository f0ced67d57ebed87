"""Images per second of train.py's two ImageNet training pipelines, side by side in one process: the
tf.data file pipeline (TensorFlow decodes and augments, num_parallel_calls=AUTOTUNE) and
ImageFolderBatches (PIL in PyDataset threads, what JAX trains from), both with RandomResizedCrop(224)
and flips, on a synthetic ImageFolder tree of JPEGs of ImageNet's typical size (500 x 375).

    python bench/imagenet_input_speed.py [--images 256] [--batch-size 32] [--rounds 3] [--folder DIR]

Each round reads one epoch through each pipeline in turn (so that other load on a shared CPU falls
on both alike); prints the best and median images/s of each and the ratio tf.data / PyDataset.
--folder reads an existing tree (e.g. real ImageNet: <dir>/train/<wnid>/*.JPEG) instead.
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cli_utils import OneLineParser, UserError, positive_int, run_cli  # noqa: E402


def write_jpegs(root, count, classes=4):
    """Smooth colour images (JPEG compresses them like photographs, not like noise)."""
    from PIL import Image

    rows, cols = np.mgrid[0:375, 0:500]
    for i in range(count):
        folder = root / "train" / f"n{i % classes:08d}"
        folder.mkdir(parents=True, exist_ok=True)
        pixels = np.stack([127 + 120 * np.sin(cols / (20 + i % 7) + rows / 31), 255 * rows / 375,
                           127 + 120 * np.cos(rows / (15 + i % 5) + i)], -1)
        Image.fromarray(pixels.astype(np.uint8)).save(folder / f"img_{i}.JPEG", quality=90)
    return root


def tf_epoch(files, batch_size, epoch):
    from snn_data.pipelines import image_train_dataset

    return sum(len(y) for _, y in image_train_dataset(files, batch_size, 0, epoch))


def pydataset_epoch(files, batch_size, epoch):
    """Through Keras' own prefetching threads, as model.fit reads it."""
    from keras.src.trainers.data_adapters.py_dataset_adapter import PyDatasetAdapter

    from snn_data.augment import epoch_order
    from snn_data.batches import ImageFolderBatches
    from snn_data.rate_transforms import train_transform
    from training.inputs import IMAGE_WORKERS

    order, seeds = epoch_order(len(files), 0, epoch)
    batches = ImageFolderBatches(files, batch_size, train_transform, order, seeds, workers=IMAGE_WORKERS)
    adapter = PyDatasetAdapter(batches, shuffle=False)
    count = sum(len(y) for _, y in adapter.get_numpy_iterator())
    adapter.on_epoch_end()
    return count


def parse_args(argv=None):
    parser = OneLineParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=positive_int, default=256)
    parser.add_argument("--batch-size", type=positive_int, default=32)
    parser.add_argument("--rounds", type=positive_int, default=3)
    parser.add_argument("--folder", help="an existing ImageFolder tree (with train/)")
    return parser.parse_args(argv)


def work(args):
    if args.folder and not Path(args.folder).is_dir():
        raise UserError(f"--folder {args.folder} does not exist")

    from snn_data.rate_transforms import image_files
    from training.inputs import IMAGE_WORKERS

    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.folder) if args.folder else write_jpegs(Path(scratch), args.images)
        files = image_files(root, "train")[: args.images]
        pipelines = {"tf.data": tf_epoch, "PyDataset": pydataset_epoch}
        for run in pipelines.values():  # warm-up: imports, tf.function tracing, thread pools
            run(files[: args.batch_size], args.batch_size, 0)
        rates = {name: [] for name in pipelines}
        for epoch in range(args.rounds):
            for name, run in pipelines.items():
                start = time.perf_counter()
                count = run(files, args.batch_size, epoch)
                rates[name].append(count / (time.perf_counter() - start))
    print(f"{len(files)} images, batch {args.batch_size}, {args.rounds} rounds, PyDataset threads {IMAGE_WORKERS}")
    for name, values in rates.items():
        print(f"  {name:<10} best {max(values):7.1f} images/s, median {statistics.median(values):7.1f}")
    print(f"  tf.data / PyDataset: best {max(rates['tf.data']) / max(rates['PyDataset']):.2f}, "
          f"median {statistics.median(rates['tf.data']) / statistics.median(rates['PyDataset']):.2f}")


def main(argv=None):
    return run_cli("imagenet_input_speed.py", lambda: parse_args(argv), work)


if __name__ == "__main__":
    sys.exit(main())
