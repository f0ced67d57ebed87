"""Optimizers and learning-rate schedules of train.py (docs/training.md §7).

Two recipes: the project's own (Adam, one epoch of linear warm-up, cosine decay to 0; the default)
and the step recipes of the binary-SNN seed (SGD with momentum or Adam with chosen betas, the rate
multiplied by `lr_decay` at given epochs, and an L2 weight decay that stops after a given epoch).

Weight decay here is PyTorch's *coupled* L2: `weight_decay * w` is added to each gradient before
the optimizer sees it, as torch.optim.SGD/Adam(weight_decay=...) do, so with Adam it passes through
the moment estimates. Keras' own `weight_decay` argument is the *decoupled* form
(`w -= lr * weight_decay * w` after the update, AdamW-style); it is not used.
"""
import keras
from keras import ops

from training.config import OPTIMIZERS, SCHEDULES  # noqa: F401  (the choices, checked there)


def decay_epochs(options):
    """The epochs (0-based indices) from which the rate is multiplied by lr_decay once more:
    `lr_milestones` as given, or every `lr_step_every` epochs."""
    if options["lr_milestones"] is not None:
        return sorted(options["lr_milestones"])
    every = options["lr_step_every"]
    return list(range(every, options["epochs"], every)) if every else []


def learning_rate_at(options, epoch):
    """The step schedule's rate during 0-based `epoch` (torch's MultiStepLR/StepLR stepped once per
    epoch: milestone m means the epochs after the first m use the decayed rate)."""
    passed = sum(1 for m in decay_epochs(options) if epoch >= m)
    return options["learning_rate"] * options["lr_decay"] ** passed


def make_schedule(options, steps_per_epoch):
    if options["lr_schedule"] == "step":
        return _step_schedule(options, steps_per_epoch)
    return _cosine_schedule(options, steps_per_epoch)


def _step_schedule(options, steps_per_epoch):
    milestones = decay_epochs(options)
    if not milestones:
        return options["learning_rate"]
    # PiecewiseConstantDecay takes value i while boundary[i-1] < step <= boundary[i]; the optimizer's
    # step counter is 0 on the first batch, so epoch m starts at step m * steps_per_epoch.
    boundaries = [m * steps_per_epoch - 1 for m in milestones]
    values = [learning_rate_at(options, 0)] + [learning_rate_at(options, m) for m in milestones]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


def _cosine_schedule(options, steps_per_epoch):
    """Linear warm-up to the peak rate, then cosine decay to zero. The warm-up is one epoch, but at
    most a tenth of the training, so a short smoke run spends most of its steps at a useful rate."""
    total = options["epochs"] * steps_per_epoch
    warmup = warmup_steps(options["epochs"], steps_per_epoch)
    return keras.optimizers.schedules.CosineDecay(
        0.0, decay_steps=total - warmup, warmup_target=options["learning_rate"], warmup_steps=warmup
    )


def warmup_steps(epochs, steps_per_epoch):
    return min(steps_per_epoch, epochs * steps_per_epoch // 10)


def make_optimizer(options, steps_per_epoch):
    schedule = make_schedule(options, steps_per_epoch)
    until = options["weight_decay_until"]
    if options["optimizer"] == "sgd":
        plain, coupled, kwargs = keras.optimizers.SGD, CoupledL2SGD, {"momentum": options["momentum"]}
    else:
        plain, coupled = keras.optimizers.Adam, CoupledL2Adam
        kwargs = {"beta_1": options["beta_1"], "beta_2": options["beta_2"]}
    if not options["weight_decay"]:  # Keras' own class: checkpoints as before this option existed
        return plain(learning_rate=schedule, **kwargs)
    return coupled(learning_rate=schedule, l2=options["weight_decay"],
                   l2_until_step=-1 if until is None else until * steps_per_epoch, **kwargs)


class _CoupledL2:
    """Adds `l2 * w` to every gradient while the step counter is below `l2_until_step` (-1: always).

    A mix-in before a Keras optimizer: `apply` is where model.fit's gradients arrive on every
    backend (TensorFlow through apply_gradients, JAX through stateless_apply), and the step counter (`iterations`) is the optimizer's own, so a resumed run stops the
    decay at the same step as an uninterrupted one.
    """

    def __init__(self, l2=0.0, l2_until_step=-1, **kwargs):
        super().__init__(**kwargs)
        self.l2 = float(l2)
        self.l2_until_step = int(l2_until_step)

    def apply(self, grads, trainable_variables=None):
        if self.l2:
            # JAX's trainer calls apply(grads) alone, inside a stateless scope that maps the built
            # variables to their current values; TensorFlow's passes the variables
            weights = self._trainable_variables if trainable_variables is None else list(trainable_variables)
            factor = self._l2_factor()
            grads = [g if g is None else g + ops.cast(factor, g.dtype) * v for g, v in zip(grads, weights)]
        return super().apply(grads, trainable_variables)

    def _l2_factor(self):
        if self.l2_until_step < 0:
            return ops.convert_to_tensor(self.l2)
        active = ops.less(self.iterations, self.l2_until_step)
        return ops.where(active, self.l2, 0.0)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2, "l2_until_step": self.l2_until_step}


@keras.saving.register_keras_serializable(package="qsnn")
class CoupledL2Adam(_CoupledL2, keras.optimizers.Adam):
    """Adam with PyTorch's weight_decay (coupled L2) that can stop after a given step."""


@keras.saving.register_keras_serializable(package="qsnn")
class CoupledL2SGD(_CoupledL2, keras.optimizers.SGD):
    """SGD with PyTorch's weight_decay (coupled L2) that can stop after a given step."""
