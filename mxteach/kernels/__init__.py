"""Kernels: ``cpu/`` holds Numba @njit functions, ``cuda/`` their @cuda.jit twins with the same
signatures; ``reference.py`` holds the numpy references both are tested against."""
