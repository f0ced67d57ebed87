"""Map the scatter-and-gather spiking Keras model onto neuromorphic cores (PAICORE by default).

    summary = run_hardware(snn, images, labels, core="paicore", out_dir="figs/run")

Phases, one module each: partition (core-sized groups) -> place (chip grid) -> route (axon
sources, multicast) -> simulate (integer tick simulator, bit-exact with the Keras SNN) ->
export (PAIBox). Limits are data (spec.py), checked by validate.py before anything runs.
"""
import hardware.temporal  # noqa: F401  (registers the temporal mapping)
from hardware.network import MAPPINGS, CoreLayer, CoreNetwork, NeuronModel, extract
from hardware.partition import partition, plan_layer
from hardware.place import place
from hardware.route import route
from hardware.run import map_network, run_hardware, simulate_and_compare
from hardware.simulate import CoreSimulator
from hardware.spec import (ChipSpec, CoreSpec, HardwareError, HardwareSpec, dump_spec, load_spec, paicore,
                           resolve_spec, tiny_spec)
from hardware.validate import check, validate

__all__ = ["MAPPINGS", "CoreLayer", "CoreNetwork", "NeuronModel", "ChipSpec", "CoreSimulator", "CoreSpec", "HardwareError", "HardwareSpec", "check", "dump_spec",
           "extract", "load_spec", "map_network", "paicore", "partition", "place", "plan_layer",
           "resolve_spec", "route", "run_hardware", "simulate_and_compare", "tiny_spec", "validate"]
