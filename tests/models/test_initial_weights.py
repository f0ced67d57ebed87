"""Initial weights from numpy: the same network for one seed on every backend, from the layers'
own distributions."""
import json
import os
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np

from models import build_preset
from models.initial_weights import draw_initial_weights

REPO = Path(__file__).resolve().parents[2]


def _weights(model):
    return {v.path: np.asarray(v) for v in model.weights}


def test_every_random_weight_is_redrawn_from_the_seed():
    model = build_preset("lenet")
    before = _weights(model)
    replaced = draw_initial_weights(model, 3)
    after = _weights(model)
    kernels = [p for p in after if p.endswith("kernel")]
    gammas = [p for p in after if p.endswith("gamma")]
    assert replaced == len(kernels) + len(gammas) and kernels and gammas
    for path in kernels + gammas:
        assert not np.array_equal(before[path], after[path])
    for path in after:
        if path.endswith(("beta", "moving_mean", "moving_variance")):
            np.testing.assert_array_equal(before[path], after[path])
    conv0 = after[next(p for p in kernels if "conv0" in p)]
    h, w, cin, cout = conv0.shape
    limit = np.sqrt(6 / (h * w * (cin + cout)))  # Glorot: fans of an HWIO kernel
    assert np.abs(conv0).max() <= limit and np.abs(conv0).max() > 0.95 * limit
    gamma = np.concatenate([after[p] for p in gammas])
    assert abs(gamma.mean() - 1) < 1e-3 and 0.0015 < gamma.std() < 0.0025
    again = build_preset("lenet")
    draw_initial_weights(again, 3)
    for path, value in _weights(again).items():
        np.testing.assert_array_equal(value, after[path])


def test_jax_draws_the_same_initial_network():
    code = ("import numpy as np; from models import build_preset; "
            "from models.initial_weights import draw_initial_weights; m = build_preset('lenet'); "
            "draw_initial_weights(m, 3); print(float(sum(np.abs(np.asarray(v, np.float64)).sum() "
            "for v in m.weights)))")
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    model = build_preset("lenet")
    draw_initial_weights(model, 3)
    ours = float(sum(np.abs(np.asarray(v, np.float64)).sum() for v in model.weights))
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ours
