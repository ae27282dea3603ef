"""Tests of `pybuild bake`."""
