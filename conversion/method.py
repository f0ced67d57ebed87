"""Conversion methods as plugins: one registered `Method` object per method.

A method supplies only what differs between methods; the conversion chain (conversion.chain), the
spiking vocabulary (layers.base) and the evaluation pipeline (evaluation.run) are shared.

    register_method(Method(name="toy", convert=..., counter=..., ...))
    get_method("sg").convert(ann, calibrate=True, return_report=True)

Hooks take plain values (an `options` dict with the CLI's option names, numpy arrays, models),
never an argparse namespace, so that they can be called from Python and tested alone.

A method's module registers without importing Keras: its Keras hooks are `lazy("module:name")`
(or import inside the hook), so that `evaluate_snn.py` builds its parser, and refuses a bad flag,
before TensorFlow's import (seconds) starts.
"""
import importlib
from dataclasses import dataclass

from cli_utils import UserError


def _nothing(*args, **kwargs):
    return None


def _no_options(options, load_data):
    return {}


def _resolve(target):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def lazy(target):
    """The function `module:name`, imported at its first call (see the module's docstring)."""
    def hook(*args, **kwargs):
        return _resolve(target)(*args, **kwargs)

    hook.__name__ = hook.__qualname__ = target.partition(":")[2]
    hook.__doc__ = f"{target}, imported when first called"
    return hook


@dataclass(frozen=True)
class Method:
    name: str
    help: str  # one line for `evaluate_snn.py --help`
    # --- conversion
    convert: callable  # (ann, **convert_options, return_report=bool) -> snn, or (snn, report dict)
    converters: object  # {source layer type: chain.Converter}, beside chain.STRUCTURAL, or the
    #                     "module:NAME" of that dict (loaded by converter_table())
    convert_options: callable = _no_options  # (options, load_data) -> convert kwargs; load_data(split)
    #                                          -> (images, labels), for methods that calibrate on data
    # --- which model, which folder
    default_model: str = "lenet"  # preset of the default checkpoint
    default_k: int = 1
    model_facts: callable = _nothing  # (ann, path, options) -> dict (k, B, ...); raises UserError
    load_model: callable = None  # (path, options) -> ANN, or None for the usual .keras / .npz loading
    run_dir: callable = None  # (facts, options) -> folder name under figs/ (noise suffix added by the caller)
    describe: callable = None  # (facts, options) -> what the run line prints after the checkpoint
    # --- evaluation
    counter: callable = None  # (snn, dataset) -> object with probe_model, update(outputs, labels), report
    summarize: callable = None  # (facts, options, runs, ann_pred, labels, conversion_report) -> dict
    seed_files: callable = None  # (run) -> {file name: text}, the seed-compatible files
    table: callable = None  # (report, summary) -> the printed per-layer table
    verify: callable = None  # (ann, snn, images) -> dict for summary["verify"]; None: no --verify
    plot: callable = None  # (summary, out_dir) -> None, figures of one run
    noise_models: tuple = ()  # the first is the default
    mappings: tuple = ()  # hardware mappings (hardware.MAPPINGS) that accept this method's SNNs
    # --- command line
    add_arguments: callable = _nothing  # (argparse group): the method's own flags
    selected_by: tuple = ()  # option names that pick this method when --method is not given (a seed's CLI)
    check_options: callable = _nothing  # (options dict) -> None; fills method defaults, raises UserError

    @property
    def default_noise_model(self):
        return self.noise_models[0] if self.noise_models else None

    def converter_table(self):
        """The converters dict (imports its module when given as "module:NAME")."""
        return _resolve(self.converters) if isinstance(self.converters, str) else self.converters


METHODS = {}


def register_method(method):
    """Add `method` to the registry (replacing one of the same name) and return it."""
    METHODS[method.name] = method
    return method


def get_method(name):
    if name not in METHODS:
        raise ValueError(f"unknown conversion method {name!r}; valid: {', '.join(METHODS)}")
    return METHODS[name]


def noise_suffix(options):
    """What a noisy run appends to its folder name."""
    return f"_noise{options['noise_ratio']:g}" if options.get("noise_ratio", 0) > 0 else ""


def check_noise_model(method, options):
    """--noise-model defaults to the method's first; one it does not define is a user error."""
    if options.get("noise_model") is None:
        options["noise_model"] = method.default_noise_model
    elif options["noise_model"] not in method.noise_models:
        raise UserError(f"noise model {options['noise_model']} is not defined for --method {method.name} "
                        f"(use {' or '.join(method.noise_models)})")


def accuracy_line(summary):
    """The last line every method prints: ANN and SNN accuracy, noise, agreement."""
    snn = f"{summary['snn_accuracy']:.4f}"
    if summary["noise_ratio"] > 0:
        snn += (f" +- {summary['snn_accuracy_std']:.4f} over {len(summary['snn_accuracies'])} seeds "
                f"({summary['noise_model']} noise {summary['noise_ratio']:g})")
    return (f"ANN accuracy {summary['ann_accuracy']:.4f}, SNN accuracy {snn}; agreement "
            f"{summary['agreement']}/{summary['num_images']} images with identical ANN and SNN predictions")
