"""The coach: the range test and the guided routines, measured by the sensor (docs/coach.md).

Pure state machines on per-sample (t, sagittal, frontal), time as an argument, like the nudge
policy: ``angles`` (what is measured), ``strokes`` (one movement away from rest and back),
``repetitions`` (counting one exercise), ``range_test``, ``routine``; ``session`` feeds them
from the live pipeline and ``events`` turns their results into recorded events.
"""
