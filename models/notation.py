"""Parser for the papers' architecture notation, e.g. "16C5-P2-32C5-P2-256".

Tokens, separated by "-":
  NCk      convolution with N filters and a k x k kernel, stride 1; a trailing "s" or "v" picks
           SAME or VALID padding (otherwise the parser's default padding)
  P2       the learned 2x2 stride-2 convolution the original code uses in place of pooling; it
           keeps the channel count of the layer before it
  N        fully connected layer with N units (the input is flattened first)
  Ak       k x k average pooling, stride k, after a convolution; the rate-coded presets put it
           between the convolution and its ReLU (docs/rate.md §1)
  Dr       dropout with rate r (0 <= r < 1), e.g. "D0.1"; identity at inference
  X*n      any of the above repeated n times, e.g. "64C3*2"
The first token must be a convolution: it is the float encoding layer. The classifier is not
written in the notation; the model builder appends it.
"""
import re
from dataclasses import dataclass

_CONV = re.compile(r"^(\d+)C(\d+)([sv]?)$")
_POOL = re.compile(r"^P(\d+)$")
_DENSE = re.compile(r"^(\d+)$")
_AVG = re.compile(r"^A(\d+)$")
_DROP = re.compile(r"^D(\d*\.?\d+)$")
_REPEAT = re.compile(r"^(.+)\*(\d+)$")

GRAMMAR_HELP = (
    "valid tokens: NCk (conv, N filters, k x k; suffix s/v for SAME/VALID padding), "
    "P2 (learned 2x2 stride-2 pooling conv), N (fully connected), A2 (2x2 average pooling), "
    "D0.1 (dropout), X*n (repeat)"
)


class NotationError(ValueError):
    """An architecture string that does not parse."""


@dataclass(frozen=True)
class LayerSpec:
    """One hidden layer of a parsed architecture."""

    kind: str  # "conv", "pool", "dense", "avgpool" or "dropout"
    units: int  # filters or units
    kernel: int = 1
    stride: int = 1
    padding: str = "valid"
    rate: float = 0.0  # dropout rate


def parse_architecture(text, default_padding="valid"):
    """Parse notation into a list of LayerSpec; raises NotationError naming the bad token."""
    if not isinstance(text, str) or not text.strip():
        raise NotationError(f"empty architecture string; {GRAMMAR_HELP}")
    specs = []
    for raw in text.strip().split("-"):
        token, repeat = _split_repeat(raw.strip(), text)
        spec = _parse_token(token, specs, default_padding, text)
        specs.extend([spec] * repeat)
    if not specs or specs[0].kind != "conv":
        raise NotationError(f"{text!r}: the first layer must be a convolution (the encoding layer)")
    return specs


def _split_repeat(token, text):
    match = _REPEAT.match(token)
    if not match:
        return token, 1
    count = int(match.group(2))
    if count < 1:
        raise NotationError(f"{text!r}: repeat count must be >= 1 in {token!r}")
    return match.group(1), count


def _parse_token(token, previous, default_padding, text):
    if match := _CONV.match(token):
        filters, kernel, pad = int(match.group(1)), int(match.group(2)), match.group(3)
        padding = {"s": "same", "v": "valid"}.get(pad, default_padding)
        _check_positive(filters, kernel, token=token, text=text)
        return LayerSpec("conv", filters, kernel, 1, padding)
    if match := _POOL.match(token):
        size = int(match.group(1))
        _check_positive(size, token=token, text=text)
        if not previous or previous[-1].kind == "dense":
            raise NotationError(f"{text!r}: {token!r} must follow a convolution")
        return LayerSpec("pool", previous[-1].units, size, size, "valid")
    if match := _DENSE.match(token):
        units = int(match.group(1))
        _check_positive(units, token=token, text=text)
        return LayerSpec("dense", units)
    if match := _AVG.match(token):
        size = int(match.group(1))
        _check_positive(size, token=token, text=text)
        if not previous or previous[-1].kind != "conv":
            raise NotationError(f"{text!r}: {token!r} must follow a convolution")
        return LayerSpec("avgpool", previous[-1].units, size, size, "valid")
    if match := _DROP.match(token):
        rate = float(match.group(1))
        if not 0.0 <= rate < 1.0:
            raise NotationError(f"{text!r}: dropout rate must be in [0, 1) in {token!r}")
        if not previous:
            raise NotationError(f"{text!r}: {token!r} must follow a layer")
        return LayerSpec("dropout", previous[-1].units, rate=rate)
    raise NotationError(f"{text!r}: cannot parse {token!r}; {GRAMMAR_HELP}")


def _check_positive(*values, token, text):
    if any(v < 1 for v in values):
        raise NotationError(f"{text!r}: sizes must be positive in {token!r}")
