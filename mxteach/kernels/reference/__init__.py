"""Numpy references of the kernels, one file per operator family with the family's name
(``nn.py``, ``loss.py`` ...): the same names and signatures as ``kernels/cpu/`` and
``kernels/cuda/``, written for clarity rather than speed. The tests hold both kernel columns to
these."""
