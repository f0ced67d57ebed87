"""Hardware limits as data: a frozen description of a core and a chip (docs/hardware.md §1-4).

`paicore()` reads every PAICORE number from `paicorelib` (the chip vendor's own constants);
`load_spec(path)` reads another chip from a YAML file with the same fields, `dump_spec` writes
one back (round trip). Nothing here knows about networks: the partitioner and the validator
ask the spec questions (`neurons_per_core(lcn, width)`, `weight_range(width)`, ...).
"""
import math
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

import yaml

from cli_utils import load_yaml
from hardware.addressing import morton

CORES_DIR = Path(__file__).resolve().parent / "cores"


class HardwareError(ValueError):
    """A user-fixable hardware problem (the network does not fit, a bad core file); one line."""


@dataclass(frozen=True)
class CoreSpec:
    """One neuromorphic core with a binary-input crossbar.

    `axons` is the fan-in of one dendrite at LCN 1X; `dendrites` the neurons of a core with
    1-bit weights at LCN 1X. When `combine_dendrites` is true (PAICORE), wider weights and
    fan-in extension (LCN) are built by combining dendrites, so a core holds
    `dendrites >> (lcn + width_code)` neurons of fan-in `axons << lcn`, where width_code is the
    index of the weight width in `weight_widths` (1, 2, 4, 8 bit -> 0, 1, 2, 3).
    """

    axons: int
    dendrites: int
    weight_widths: tuple = (1, 2, 4, 8)
    combine_dendrites: bool = True
    unsigned_1bit: bool = True  # 1-bit weights are {0, 1}; wider ones two's complement
    max_lcn: int = 6  # fan-in extension up to 2^max_lcn X
    membrane_bits: int = 30  # signed
    threshold_bits: int = 29  # unsigned positive threshold
    leak_bits: int = 30  # signed leak / bias register
    reset_modes: tuple = ("normal", "linear", "nonreset")
    timeslots: int = 256
    tick_wait_bits: int = 15  # the core's tick_wait_start / tick_wait_end registers (unsigned)

    def __post_init__(self):
        for name in ("axons", "dendrites", "membrane_bits", "threshold_bits", "leak_bits"):
            if int(getattr(self, name)) < 1:
                raise HardwareError(f"core spec: {name} must be >= 1, got {getattr(self, name)!r}")
        if not self.weight_widths or list(self.weight_widths) != sorted(set(self.weight_widths)):
            raise HardwareError(f"core spec: weight_widths must be increasing, got {self.weight_widths!r}")
        if self.max_lcn < 0:
            raise HardwareError(f"core spec: max_lcn must be >= 0, got {self.max_lcn!r}")

    def width_code(self, width):
        return self.weight_widths.index(width)

    def fan_in(self, lcn):
        return self.axons << lcn

    def neurons_per_core(self, lcn, width):
        if not self.combine_dendrites:
            return self.dendrites
        return self.dendrites >> (lcn + self.width_code(width))

    def lcn_for(self, n_axons):
        """Smallest LCN whose fan-in holds n_axons (may exceed max_lcn: the validator says so)."""
        return max(0, (int(n_axons) - 1) // self.axons).bit_length()

    def weight_range(self, width):
        if width == 1 and self.unsigned_1bit:
            return 0, 1
        return -(1 << (width - 1)), (1 << (width - 1)) - 1

    def narrowest_width(self, lo, hi):
        """The narrowest supported width holding [lo, hi], or None."""
        for width in self.weight_widths:
            wlo, whi = self.weight_range(width)
            if wlo <= lo and hi <= whi:
                return width
        return None

    @property
    def membrane_max(self):
        return (1 << (self.membrane_bits - 1)) - 1

    @property
    def threshold_max(self):
        return (1 << self.threshold_bits) - 1

    @property
    def tick_wait_max(self):
        """(largest tick_wait_start, largest tick_wait_end)."""
        return (1 << self.tick_wait_bits) - 1, (1 << self.tick_wait_bits) - 1

    @property
    def leak_range(self):
        return -(1 << (self.leak_bits - 1)), (1 << (self.leak_bits - 1)) - 1


@dataclass(frozen=True)
class ChipSpec:
    """A chip: a grid of cores (x, y), some reserved (e.g. PAICORE's online learning cores)."""

    grid: tuple = (32, 32)  # (x size, y size)
    reserved: tuple = ()  # ((x0, x1), (y0, y1)) inclusive rectangles not usable for inference
    max_chips: int = 1024
    routing_levels: int = 5
    routing_children: int = 4
    multicast: bool = True  # replication bits: base address XOR any subset of the set bits
    delay_ticks: int = 1  # a spike fired at tick t is integrated at t + delay

    def __post_init__(self):
        if len(self.grid) != 2 or min(self.grid) < 1:
            raise HardwareError(f"chip spec: grid must be two positive sizes, got {self.grid!r}")
        if self.max_chips < 1 or self.delay_ticks < 0:
            raise HardwareError(f"chip spec: max_chips must be >= 1 and delay_ticks >= 0, got "
                                f"{self.max_chips!r} and {self.delay_ticks!r}")

    def usable_coords(self):
        """Usable (x, y) core coordinates in placement order (Morton order keeps blocks compact)."""
        coords = [(x, y) for x in range(self.grid[0]) for y in range(self.grid[1]) if not self._reserved(x, y)]
        return sorted(coords, key=lambda c: morton(*c))

    def _reserved(self, x, y):
        return any(x0 <= x <= x1 and y0 <= y <= y1 for (x0, x1), (y0, y1) in self.reserved)

    @property
    def cores_per_chip(self):
        return len(self.usable_coords())


@dataclass(frozen=True)
class HardwareSpec:
    name: str
    core: CoreSpec
    chip: ChipSpec
    energy_per_sop_pj: float = None  # model-based estimate only
    energy_source: str = ""
    source: str = ""  # where the numbers come from


# ------------------------------------------------------------------------------------ PAICORE

PAICORE_SOP_ENERGY_PJ = 1e12 / 5.181e12  # 5.181 TSOPS/W -> 0.193 pJ per SOP
PAICORE_SOP_SOURCE = ("PAICORE 2.0 published efficiency 5.181 TSOPS/W (Peking University news, 2025-06-06; "
                      "docs/hardware.md §1): 1 / 5.181e12 J = 0.193 pJ per SOP")


def paicore():
    """PAICORE 2.0 offline cores in SNN/BANN mode, every number from paicorelib."""
    from paicorelib import LCN_EX, RM, HwConfig, OffCoreCfg, OffRAMDefs, WeightWidth
    from paicorelib.reg_defs import RegDefs

    widths = tuple(1 << int(w) for w in sorted(WeightWidth))
    core = CoreSpec(
        axons=OffCoreCfg.N_FANIN_PER_DENDRITE_SNN,
        dendrites=OffCoreCfg.N_DENDRITE_MAX_SNN,
        weight_widths=widths,
        combine_dendrites=True,
        unsigned_1bit=True,
        max_lcn=int(max(LCN_EX)),
        membrane_bits=OffRAMDefs.VOLTAGE_BIT_MAX,
        threshold_bits=OffRAMDefs.POS_THRES_BIT_MAX,
        leak_bits=OffRAMDefs.LEAK_V_BIT_MAX,
        reset_modes=tuple(m.name.removeprefix("MODE_").lower() for m in RM),
        timeslots=OffCoreCfg.N_TIMESLOT_MAX,
        tick_wait_bits=RegDefs.TICK_WAIT_START_BIT_MAX,
    )
    chip = ChipSpec(
        grid=(HwConfig.CORE_X_MAX + 1, HwConfig.CORE_Y_MAX + 1),
        reserved=(((HwConfig.CORE_X_ONLINE_MIN, HwConfig.CORE_X_ONLINE_MAX),
                   (HwConfig.CORE_Y_ONLINE_MIN, HwConfig.CORE_Y_ONLINE_MAX)),),
        max_chips=HwConfig.N_CHIP_MAX,
        routing_levels=HwConfig.N_ROUTING_PATH_LENGTH_MAX,
        routing_children=HwConfig.N_SUB_ROUTING_NODE,
        multicast=True,
        delay_ticks=1,
    )
    import paicorelib

    return HardwareSpec("paicore", core, chip, PAICORE_SOP_ENERGY_PJ, PAICORE_SOP_SOURCE,
                        f"paicorelib {paicorelib.__version__}")


# --------------------------------------------------------------------------------------- YAML


def spec_to_dict(spec):
    out = asdict(spec)
    # YAML-friendly: tuples become lists.
    return yaml.safe_load(yaml.safe_dump(_lists(out)))


def _lists(obj):
    if isinstance(obj, dict):
        return {k: _lists(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_lists(v) for v in obj]
    return obj


# Fields whose value is not of their default's kind; the others are checked against the default.
_FIELD_KINDS = {"name": str, "axons": int, "dendrites": int, "energy_per_sop_pj": float, "reserved": "rectangles"}


def _build(cls, data, where):
    if not isinstance(data, dict):
        raise HardwareError(f"{where}: expected a mapping, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise HardwareError(f"{where}: unknown field(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
    values = {name: _typed(known[name], value, where) for name, value in data.items() if name in known}
    try:
        return cls(**values)
    except TypeError as exc:
        raise HardwareError(f"{where}: {exc}") from None


def _typed(field, value, where):
    """A YAML value as the field's kind (int, bool, float, str, a list of them), or a one-line
    HardwareError naming the field: a mistyped value must not reach the dataclass as a string."""
    kind = _FIELD_KINDS.get(field.name)
    if kind is None:
        default = None if field.default is MISSING else field.default
        kind = type(default) if default is not None else None
    if value is None or kind is None or field.name in ("core", "chip"):
        return value
    name = f"{where}: {field.name}"
    if kind == "rectangles":
        return _rectangles(value, name)
    if kind is tuple:
        if not isinstance(value, (list, tuple)):
            raise HardwareError(f"{name}: expected a list, got {value!r}")
        inner = type(field.default[0]) if field.default else int
        return tuple(_scalar(inner, v, name) for v in value)
    return _scalar(kind, value, name)


def _scalar(kind, value, name):
    if kind is bool:
        if not isinstance(value, bool):
            raise HardwareError(f"{name}: expected true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value != int(value):
            raise HardwareError(f"{name}: expected an integer, got {value!r}")
        return int(value)  # 2.56e2 is 256
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise HardwareError(f"{name}: expected a finite number >= 0, got {value!r}")
        return float(value)
    if kind is str:
        if not isinstance(value, str):
            raise HardwareError(f"{name}: expected text, got {value!r}")
        return value
    return value


def _rectangles(value, name):
    """reserved: a list of [[x0, x1], [y0, y1]] inclusive rectangles of integers."""
    shape = f"{name}: expected a list of [[x0, x1], [y0, y1]] rectangles, got {value!r}"
    if not isinstance(value, (list, tuple)):
        raise HardwareError(shape)
    rectangles = []
    for rect in value:
        if not isinstance(rect, (list, tuple)) or len(rect) != 2 or \
                not all(isinstance(pair, (list, tuple)) and len(pair) == 2 for pair in rect):
            raise HardwareError(shape)
        rectangles.append(tuple(tuple(_scalar(int, v, name) for v in pair) for pair in rect))
    return tuple(rectangles)


def spec_from_dict(data, where="spec"):
    if not isinstance(data, dict) or "core" not in data or "chip" not in data or "name" not in data:
        raise HardwareError(f"{where}: needs 'name', 'core' and 'chip' sections")
    extra = {k: v for k, v in data.items() if k not in ("core", "chip")}
    spec = _build(HardwareSpec, {**extra, "core": None, "chip": None}, where)
    core = _build(CoreSpec, data["core"], f"{where}: core")
    chip = _build(ChipSpec, data["chip"], f"{where}: chip")
    return HardwareSpec(spec.name, core, chip, spec.energy_per_sop_pj, spec.energy_source, spec.source)


def load_spec(path):
    path = Path(path)
    try:
        data = load_yaml(path.read_text())  # YAML 1.2 numbers: 1e-3 is a number
    except OSError as exc:
        raise HardwareError(f"cannot read core file {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise HardwareError(f"core file {path} is not valid YAML: {str(exc).splitlines()[0]}") from None
    return spec_from_dict(data, where=str(path))


def dump_spec(spec, path):
    Path(path).write_text(yaml.safe_dump(spec_to_dict(spec), sort_keys=False))


def resolve_spec(core):
    """'paicore', a shipped core name (hardware/cores/<name>.yaml), a YAML path, or a HardwareSpec."""
    if isinstance(core, HardwareSpec):
        return core
    if core in (None, "paicore"):
        return paicore()
    shipped = CORES_DIR / f"{core}.yaml"
    if shipped.is_file():
        return load_spec(shipped)
    if Path(core).is_file():
        return load_spec(core)
    names = sorted(p.stem for p in CORES_DIR.glob("*.yaml"))
    raise HardwareError(f"unknown core {core!r}: give 'paicore', one of {names} or a YAML file path")


def tiny_spec(axons=16, dendrites=8, grid=(4, 4), **core):
    """A tiny core for tests and examples (forces multi-core splits on small nets)."""
    return HardwareSpec("tiny", CoreSpec(axons=axons, dendrites=dendrites, **core), ChipSpec(grid=grid, max_chips=64))


__all__ = ["CoreSpec", "ChipSpec", "HardwareSpec", "HardwareError", "paicore", "load_spec", "dump_spec",
           "resolve_spec", "spec_to_dict", "spec_from_dict", "tiny_spec"]
