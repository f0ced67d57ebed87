#!/usr/bin/env python
"""Convert a quantized CNN into a spiking network, evaluate it, count spikes and SOPs, add noise.

    python evaluate_snn.py                          # the shipped LeNet k=1 B=2 on the MNIST test set
    python evaluate_snn.py --noise_ratio 0.1 --seeds 5
    python evaluate_snn.py --verify                 # which layer diverges from the ANN, if any
    python evaluate_snn.py --checkpoint runs/lenet_mnist_k0B1 --noise-sweep 0,0.1,0.2,0.3 --seeds 5
    python evaluate_snn.py --hardware paicore       # map onto PAICORE cores and simulate there
    python evaluate_snn.py --export-nir             # also write snn.nir (NIR, exact for scatter-and-gather)

Run `python evaluate_snn.py --help` for every option.
"""
import os
import sys

from cli_utils import import_tensorflow_quietly, run_cli


def main(argv=None):
    from evaluation.config import parse_args

    if "keras" not in sys.modules:  # conversion and SNN evaluation run on TensorFlow, whatever
        os.environ["KERAS_BACKEND"] = "tensorflow"  # backend trained the model

    def work(parsed):
        import_tensorflow_quietly()  # the parser loads no Keras (conversion.method): the run does
        from evaluation.run import run

        method, options = parsed
        run(method, **options)

    return run_cli("evaluate_snn.py", lambda: parse_args(argv), work)


if __name__ == "__main__":
    sys.exit(main())
