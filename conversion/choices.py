"""Names the command line offers before Keras loads (evaluation.config): the parser is built, and a
bad flag refused, without the seconds TensorFlow's import takes. The modules that act on these
names (conversion.noise, conversion.rate) take them from here."""

NOISE_MODELS = ("encoding", "all-layers", "input")  # conversion.noise, docs/noise.md
CALIBRATION_DROPOUT = ("off", "train")  # conversion.rate: the seed never calls eval(): dropout is active ("train")
