#!/usr/bin/env python
"""Convert a quantized CNN into a spiking network, evaluate it, count spikes and SOPs, add noise.

    python evaluate_snn.py                          # the shipped LeNet k=1 B=2 on the MNIST test set
    python evaluate_snn.py --noise_ratio 0.1 --seeds 5
    python evaluate_snn.py --verify                 # which layer diverges from the ANN, if any
    python evaluate_snn.py --checkpoint runs/lenet_mnist_k0B1 --noise-sweep 0,0.1,0.2,0.3 --seeds 5

Run `python evaluate_snn.py --help` for every option.
"""
import sys

from cli_utils import import_tensorflow_quietly


def main(argv=None):
    from evaluation.config import parse_args
    from training.config import UserError

    try:
        args = parse_args(argv)  # before TensorFlow loads: a bad flag fails at once
        import_tensorflow_quietly()
        from evaluation.run import run

        run(args)
    except UserError as err:
        sys.stderr.write(f"evaluate_snn.py: error: {err}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("evaluate_snn.py: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
