#!/usr/bin/env python
"""Train or evaluate a quantized CNN (median-quantized activations, ternary weights).

    python train.py --k 0 --B 1                      # LeNet on MNIST, k=0, B=1
    python train.py --config configs/mnist_lenet_k1B2.yaml
    python train.py --mode inference                 # evaluate the run's (or shipped) model
    python train.py --backend jax --distribute data-parallel   # JAX, every local device

Run `python train.py --help` for every option.
"""
import sys

from cli_utils import run_cli


def main(argv=None):
    from training.backend import select_backend
    from training.config import parse_config
    from training.runfolder import plan_training, check_data_files

    def parse():
        options = parse_config(argv)
        options["backend"] = select_backend(options["backend"])  # before anything imports keras
        if options["mode"] == "training":  # fail before TensorFlow loads, and before any write
            plan_training(options)
            check_data_files(options)
        return options

    def work(options):
        from training.run import run

        run(options)

    return run_cli("train.py", parse, work, "; continue with --resume True once an epoch has completed")


if __name__ == "__main__":
    sys.exit(main())
