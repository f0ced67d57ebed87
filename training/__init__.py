"""The library behind train.py: configuration, training/inference runs, SavedModel export."""
