#!/usr/bin/env python
"""Train or evaluate a quantized CNN (median-quantized activations, ternary weights).

    python train.py --k 0 --B 1                      # LeNet on MNIST, k=0, B=1
    python train.py --config configs/mnist_lenet_k1B2.yaml
    python train.py --mode inference                 # evaluate the run's (or shipped) model

Run `python train.py --help` for every option.
"""
import sys

from cli_utils import import_tensorflow_quietly


def main(argv=None):
    from training.config import UserError, parse_config

    try:
        options = parse_config(argv)  # before TensorFlow loads: a bad flag fails at once
        import_tensorflow_quietly()
        from snn_data import DataError
        from training.run import run

        try:
            run(options)
        except DataError as err:
            raise UserError(str(err)) from None
    except UserError as err:
        sys.stderr.write(f"train.py: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("train.py: interrupted; continue with --resume True\n")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
