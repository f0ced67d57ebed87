"""Quantized Keras layers: activation quantizer, and Conv2D / Dense with quantized kernels.

The conv and dense layers hold latent float kernels and use the quantized kernel in the forward
pass; they never have a bias (the following BatchNormalization provides the shift).
"""
import keras
from keras import ops

from layers.quantizers import (binarize, median_quantize, ternarize, unbounded_quantize, xnor_binarize,
                               xnor_net_binarize)

PACKAGE = "qsnn"

KERNEL_QUANTIZERS = ("ternary", "binary", "xnor", "xnor_net", None)
ACTIVATION_MODES = ("median", "unbounded")


def quantize_kernel(kernel, quantizer, reduce_axes):
    """The kernel the forward pass uses; `reduce_axes` = all axes but the output channel."""
    if quantizer is None:
        return kernel
    if quantizer == "ternary":
        return ternarize(kernel)
    if quantizer == "binary":
        return binarize(kernel)
    if quantizer == "xnor":
        return xnor_binarize(kernel, reduce_axes)
    if quantizer == "xnor_net":  # mean-centred over the inputs, clamped (the binary-SNN seed)
        return xnor_net_binarize(kernel, len(kernel.shape) - 2, reduce_axes)
    raise ValueError(f"unknown kernel quantizer {quantizer!r}; valid: {KERNEL_QUANTIZERS}")


def _check_kernel_quantizer(quantizer):
    if quantizer not in KERNEL_QUANTIZERS:
        raise ValueError(f"unknown kernel quantizer {quantizer!r}; valid: {KERNEL_QUANTIZERS}")


@keras.saving.register_keras_serializable(package=PACKAGE)
class QuantActivation(keras.layers.Layer):
    """Median activation quantizer: `mode="median"` (level k, bound B) or `"unbounded"` (level k).

    It includes the ReLU: negative inputs give 0. The spike count of a neuron is `2^k * output`.
    """

    def __init__(self, k, B=None, mode="median", **kwargs):
        super().__init__(**kwargs)
        if mode not in ACTIVATION_MODES:
            raise ValueError(f"unknown activation mode {mode!r}; valid: {ACTIVATION_MODES}")
        if int(k) != k or k < 0:
            raise ValueError(f"k must be a non-negative integer, got {k!r}")
        if mode == "median" and (B is None or B <= 0):
            raise ValueError(f"the median quantizer needs an upper bound B > 0, got {B!r}")
        self.k = int(k)
        self.B = None if mode == "unbounded" else B
        self.mode = mode

    @property
    def levels(self):
        """Number of non-zero levels L = 2^k * B (None when unbounded)."""
        return None if self.B is None else int(round(2**self.k * self.B))

    def call(self, inputs):
        if self.mode == "unbounded":
            return unbounded_quantize(inputs, self.k)
        return median_quantize(inputs, self.k, self.B)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "k": self.k, "B": self.B, "mode": self.mode}


@keras.saving.register_keras_serializable(package=PACKAGE)
class UnitClip(keras.constraints.Constraint):
    """Clip latent weights to [-1, 1]."""

    def __call__(self, w):
        return ops.clip(w, -1.0, 1.0)


class _QuantKernelLayer(keras.layers.Layer):
    """Shared kernel handling of the quantized conv and dense layers."""

    def __init__(self, kernel_quantizer="ternary", kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        _check_kernel_quantizer(kernel_quantizer)
        self.kernel_quantizer = kernel_quantizer
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def _add_kernel(self, shape):
        # Binary kernels starve without a clip to [-1, 1] (the latent weight drifts out of reach).
        constraint = None
        if self.kernel_quantizer in ("binary", "xnor", "xnor_net"):
            constraint = UnitClip()
        self.kernel = self.add_weight(
            name="kernel", shape=shape, initializer=self.kernel_initializer, constraint=constraint
        )

    def quantized_kernel(self):
        """The kernel as used in the forward pass (exact {-1, 0, 1} for ternary)."""
        reduce_axes = tuple(range(len(self.kernel.shape) - 1))
        return quantize_kernel(self.kernel, self.kernel_quantizer, reduce_axes)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_quantizer": self.kernel_quantizer,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class QuantConv2D(_QuantKernelLayer):
    """Bias-free 2-D convolution (NHWC, HWIO kernel) with a quantized kernel."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.kernel_size = pair(kernel_size)
        self.strides = pair(strides)
        padding = padding.lower()
        if padding not in ("valid", "same"):
            raise ValueError(f"padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding

    def build(self, input_shape):
        self._add_kernel((*self.kernel_size, input_shape[-1], self.filters))

    def call(self, inputs):
        return ops.conv(inputs, self.quantized_kernel(), strides=self.strides, padding=self.padding)

    def compute_output_shape(self, input_shape):
        batch, h, w, _ = input_shape
        return (batch, *conv_output_size((h, w), self.kernel_size, self.strides, self.padding), self.filters)

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "kernel_size": self.kernel_size,
            "strides": self.strides,
            "padding": self.padding,
        }


@keras.saving.register_keras_serializable(package=PACKAGE)
class QuantDense(_QuantKernelLayer):
    """Bias-free fully connected layer with a quantized kernel."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)

    def build(self, input_shape):
        self._add_kernel((input_shape[-1], self.units))

    def call(self, inputs):
        return ops.matmul(inputs, self.quantized_kernel())

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def pair(value):
    if isinstance(value, int):
        return (value, value)
    return tuple(int(v) for v in value)


def conv_output_size(size, kernel, strides, padding):
    out = []
    for n, kk, s in zip(size, kernel, strides):
        if n is None:
            out.append(None)
        elif padding == "same":
            out.append(-(-n // s))
        else:
            out.append((n - kk) // s + 1)
    return tuple(out)
