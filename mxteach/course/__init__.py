"""Course support for the notebooks: exercise checks and recorded outputs of real MXNet 1.9.1.

Each notebook ``NN`` has a module ``mxteach.course.nbNN`` with its ``check_…`` functions; a check
runs the student's answer, compares it with what mxteach (or the recorded MXNet) does, and returns
a :class:`~mxteach.course.checking.CheckResult` that says in plain words what is right or wrong.
``what_mxnet_does(key)`` shows a snippet and the output real MXNet 1.9.1 gave for it, recorded by
``scripts/record_mxnet_outputs.py`` so a notebook needs no MXNet. See notebook 01.
"""
from .checking import CheckResult, Wrong, exercise, registered_exercises
from .mxnet_says import what_mxnet_does

__all__ = ["CheckResult", "Wrong", "exercise", "registered_exercises", "what_mxnet_does"]
