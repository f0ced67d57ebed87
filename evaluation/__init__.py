"""The library behind evaluate_snn.py: conversion, evaluation, counting, noise and run outputs."""
