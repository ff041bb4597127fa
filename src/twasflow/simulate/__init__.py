"""Seeded simulators: the bundled example data set (:func:`make_example`) and the TGVIS paper's simulation
design (:func:`tgvis_paper`)."""

from twasflow.simulate.example import ExampleParams, make_example
from twasflow.simulate.paper import tgvis_paper

__all__ = ["ExampleParams", "make_example", "tgvis_paper"]
