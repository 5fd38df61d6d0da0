"""Kernels, in three columns with the same family file names (``nn.py``, ``loss.py`` ...):
``cpu/`` holds Numba @njit functions, ``cuda/`` their @cuda.jit twins with the same signatures,
``reference/`` the numpy functions both are tested against. Kernels import only each other and
the bottom layer (``base.py``, ``config.py``), never the operators that call them."""
