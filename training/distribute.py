"""Where training runs: one device, every local device (data-parallel), or several processes.

    jax         keras.distribution.DataParallel over all devices of all processes. The SPMD step
                sees the global batch, so BatchNormalization's statistics are those of the global
                batch (the one-device maths) and random layers draw over the global batch (every
                replica gets its own noise masks).
    tensorflow  tf.distribute.MirroredStrategy over the local devices, with synchronized BN
                (statistics of the global batch, as on one device).
    processes   (jax only) jax.distributed, each process feeding its share of every global batch;
                process 0 (the chief) writes the run folder, every process takes part in saving.

docs/training.md §6 describes the choices.
"""
import contextlib
import os
import sys
from dataclasses import dataclass, field

import keras

from cli_utils import UserError

# A process that stops answering is declared dead after this long; the survivors then stop.
HEARTBEAT_SECONDS = 20
INIT_SECONDS = 120
SHUTDOWN_SECONDS = 120  # how long the processes wait for each other at the end


@dataclass
class Placement:
    backend: str
    devices: int = 1  # devices of the whole job (a global batch is split across these)
    process_index: int = 0
    process_count: int = 1
    strategy: object = None  # tf.distribute strategy, or None
    notes: list = field(default_factory=list)

    @property
    def chief(self):
        return self.process_index == 0

    @property
    def shard(self):
        return (self.process_index, self.process_count)

    def scope(self):
        """Build, compile and load models inside this (MirroredStrategy needs it)."""
        return self.strategy.scope() if self.strategy is not None else contextlib.nullcontext()


def setup(options):
    """The Placement for `options`, with the distribution installed; call before building a model."""
    backend = keras.backend.backend()
    if options["distribute"] == "none":
        return Placement(backend)
    if backend == "jax":
        return _setup_jax(options)
    if backend == "tensorflow":
        return _setup_tensorflow(options)
    raise UserError(f"--distribute data-parallel is not supported on the {backend} backend")


def _setup_jax(options):
    import jax

    if options["num_processes"] > 1:
        _initialize_processes(jax, options)
    devices = keras.distribution.list_devices()
    if options["batch_size"] % len(devices):
        raise UserError(f"--batch-size {options['batch_size']} does not split evenly over the "
                        f"{len(devices)} devices; choose a multiple of {len(devices)}")
    mesh = keras.distribution.DeviceMesh((len(devices),), ["batch"], devices)
    # auto_shard_dataset=False: each process feeds its own share (snn_data.batches shard=).
    keras.distribution.set_distribution(keras.distribution.DataParallel(device_mesh=mesh, auto_shard_dataset=False))
    return Placement("jax", len(devices), jax.process_index(), jax.process_count(),
                     notes=[f"data-parallel over {len(devices)} devices in {jax.process_count()} processes"])


def _initialize_processes(jax, options):
    """jax.distributed.initialize (what keras.distribution.initialize calls), with short heartbeat
    and start-up timeouts, so that a dead process ends the job within a bounded time."""
    jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives; GPUs use NCCL
    try:
        jax.distributed.initialize(
            coordinator_address=options["coordinator"], num_processes=options["num_processes"],
            process_id=options["process_id"], initialization_timeout=INIT_SECONDS,
            heartbeat_timeout_seconds=HEARTBEAT_SECONDS, shutdown_timeout_seconds=SHUTDOWN_SECONDS,
        )
    except Exception as err:  # noqa: BLE001  (unreachable coordinator, port in use: many kinds)
        raise UserError(f"cannot join the job at {options['coordinator']} as process "
                        f"{options['process_id']} of {options['num_processes']}: {_first_line(err)}") from None


def _setup_tensorflow(options):
    import tensorflow as tf

    devices = _local_tf_devices(tf)
    strategy = tf.distribute.MirroredStrategy(devices)
    return Placement("tensorflow", strategy.num_replicas_in_sync, strategy=strategy,
                     notes=[f"MirroredStrategy over {strategy.num_replicas_in_sync} devices, synchronized BN"])


def _local_tf_devices(tf):
    """The GPUs, else the CPU split into $QSNN_TF_CPU_DEVICES logical devices (default 1; tests
    use 2 to mirror over two CPU replicas, as XLA_FLAGS does for JAX)."""
    # Physical devices first: listing logical ones initializes the runtime, after which the CPU
    # can no longer be split.
    if tf.config.list_physical_devices("GPU"):
        return [d.name for d in tf.config.list_logical_devices("GPU")]
    count = int(os.environ.get("QSNN_TF_CPU_DEVICES", "1"))
    cpu = tf.config.list_physical_devices("CPU")[0]
    if count > 1:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    return [d.name for d in tf.config.list_logical_devices("CPU")]


def leave_job(placement):
    """End a multi-process job together once the last collective is done (JAX's shutdown barrier;
    a process that lingers past it, e.g. the chief exporting, would time the others out)."""
    if placement.process_count > 1:
        import jax

        jax.distributed.shutdown()


def abandon_job(line):
    """Print `line` and end this process now: JAX's exit handlers would wait for the dead process
    at a shutdown barrier, so a normal exit is not bounded in time."""
    sys.stdout.flush()
    sys.stderr.write(line + "\n")
    sys.stderr.flush()
    os._exit(2)


def is_peer_failure(err):
    """Whether `err` is a collective failing because another process of the job stopped."""
    text = f"{type(err).__name__}: {err}"
    markers = ("Gloo", "Connection closed by peer", "heartbeat", "UNAVAILABLE", "Connection reset",
               "DEADLINE_EXCEEDED", "unhealthy", "coordination service")
    return any(marker.lower() in text.lower() for marker in markers)


def _first_line(err):
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__
