"""The no-copy core bound: the resource floor core counts are compared against."""
import pytest

from conversion import convert
from hardware.bounds import no_copy_bound
from hardware.network import extract
from hardware.spec import resolve_spec, tiny_spec
from models import build_preset


@pytest.mark.parametrize("preset, per_layer", [
    ("lenet", [288, 36, 64, 8, 8]),  # the seeds' code network: 404
    ("lenet_readme", [36, 64, 8, 8]),  # the README's formula network: 116
])
def test_lenet_no_copy_bound_on_paicore(preset, per_layer):
    bounds, total = no_copy_bound(extract(convert(build_preset(preset, k=1, B=2), method="sg")),
                                  resolve_spec("paicore"))
    assert [b.cores for b in bounds] == per_layer and total == sum(per_layer)
    first = bounds[0]
    if preset == "lenet":  # act1: 24*24*16*4 neurons of fan-in 5*5*16*4 -> LCN 2X, 2-bit, 128 per core
        assert (first.neurons, first.fan_in, first.lcn, first.width, first.neurons_per_core) == \
            (36864, 1600, 1, 2, 128)


def test_bound_follows_the_core_size():
    net = extract(convert(build_preset("lenet_readme", k=0, B=1), method="sg"))
    small, _ = no_copy_bound(net, tiny_spec(axons=64, dendrites=64))
    large, _ = no_copy_bound(net, resolve_spec("paicore"))
    assert all(s.cores >= l.cores for s, l in zip(small, large)) and sum(s.cores for s in small) > \
        sum(l.cores for l in large)
