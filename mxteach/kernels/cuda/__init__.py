"""CUDA kernels (Numba ``@cuda.jit``): the GPU twins of ``kernels/cpu``, tested against the same
numpy references. Each launcher below takes device arrays and has its CPU twin's signature:

============  =========================================================  =========================
file          launchers                                                  CPU twin / reference
============  =========================================================  =========================
nn.py         unary_forward, unary_backward; matmul (matmul_naive,       kernels/cpu/nn.py;
              matmul_tiled)                                              np.matmul
elemwise.py   binary_forward, binary_grad (+ - * / with broadcasting),   numpy ufuncs and
              col_sum, fill, copy                                        sums over axes
loss.py       softmax_forward, softmax_backward, softmax_output_grad,    kernels/cpu/loss.py
              valid_count
optim.py      sgd_step (the optimizer's step)                            optimizer.sgd.sgd_step
============  =========================================================  =========================

Files are named by operator family, as in ``kernels/cpu/`` and ``kernels/reference/``; two are
not families: ``launch.py`` (launch configurations and device checks) and ``optim.py`` (the
optimizer's step). The operators' GPU forward/backward that call these launchers live with each
operator (``Op.gpu_forward``/``gpu_backward`` in ``ops/nn.py``, ``ops/loss.py`` ...).

Nothing here is imported by ``import mxteach``: the first array on ``mx.gpu(i)`` loads it. Run
every kernel on the CPU with ``NUMBA_ENABLE_CUDASIM=1`` (numba-cuda's simulator).
(DESIGN.md, decision 6.)
"""
