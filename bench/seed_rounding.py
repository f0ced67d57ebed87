"""The seeds' own rounding against ours on a quantized model: how many test predictions change.

The seeds' quantizer is `tf.round(2^k x + 1e-5) / 2^k` (round half to even, nudged up by 1e-5);
ours is exact round-half-up, which the converted SNN's `>=` comparisons reproduce bit for bit. The
two differ only where 2^k x lies in [n + 0.5 - 1e-5, n + 0.5). This runs the same weights both ways
on the MNIST test set:

    python bench/seed_rounding.py --checkpoint FILE.npz|FILE.keras [--model lenet --k 1 --B 2]
"""
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def seed_median_quantize(x, k, B):
    from keras import ops

    scale = float(2**k)
    return ops.round(ops.clip(x, 0.0, float(B)) * scale + 1e-5) / scale


def parse_args(argv=None):
    from cli_utils import OneLineParser, non_negative_int

    p = OneLineParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--model", default="lenet", help="the preset a .npz is assigned to (a .keras file holds its own)")
    p.add_argument("--k", type=non_negative_int, default=1)
    p.add_argument("--B", type=float, default=2)
    p.add_argument("--data-dir", default=None)
    args = p.parse_args(argv)
    from models.presets import PRESETS

    if args.model not in PRESETS:
        p.error(f"unknown model {args.model!r}; valid: {', '.join(PRESETS)}")
    return args


def work(args):
    import numpy as np

    import layers.quantized as quantized
    from snn_data import load_arrays
    from training.run import load_model_or_npz

    B = int(args.B) if float(args.B).is_integer() else args.B
    ours = load_model_or_npz(args.checkpoint, args.model, None, args.k, B)  # a bad checkpoint fails before the data load
    images, labels = load_arrays("mnist", "test", args.data_dir)
    images = images.astype(np.float32)
    ours_pred = ours.predict(images, batch_size=1000, verbose=0).argmax(1)
    quantized.median_quantize = seed_median_quantize  # QuantActivation looks it up at call time
    seeds = load_model_or_npz(args.checkpoint, args.model, None, args.k, B)
    seed_pred = seeds.predict(images, batch_size=1000, verbose=0).argmax(1)
    print(f"round half up (ours):        accuracy {np.mean(ours_pred == labels):.4f}")
    print(f"round(x + 1e-5) (the seeds): accuracy {np.mean(seed_pred == labels):.4f}")
    print(f"predictions that differ: {int(np.sum(ours_pred != seed_pred))} of {len(labels)}")


def main(argv=None):
    from cli_utils import run_cli

    return run_cli("seed_rounding.py", lambda: parse_args(argv), work)


if __name__ == "__main__":
    sys.exit(main())
