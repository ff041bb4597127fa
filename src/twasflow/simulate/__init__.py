"""Seeded simulators: the bundled example data set (:func:`make_example`)."""

from twasflow.simulate.example import ExampleParams, make_example

__all__ = ["ExampleParams", "make_example"]
