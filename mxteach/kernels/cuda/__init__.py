"""CUDA kernels (Numba ``@cuda.jit``): the GPU twins of ``kernels/cpu``, tested against the same
numpy references. Each launcher below takes device arrays and has its CPU twin's signature:

============  =========================================================  =========================
file          launchers                                                  CPU twin / reference
============  =========================================================  =========================
nn.py         unary_forward, unary_backward                              kernels/cpu/nn.py
elemwise.py   binary_forward, binary_grad (+ - * / with broadcasting),   numpy ufuncs and
              col_sum, fill, copy                                        sums over axes
blas.py       matmul (matmul_naive, matmul_tiled)                        np.matmul
loss.py       softmax_forward, softmax_backward, softmax_output_grad,    kernels/cpu/loss.py
              valid_count
optim.py      sgd_step                                                   optimizer.sgd.sgd_step
============  =========================================================  =========================

``launch.py`` holds the launch configurations and device checks; ``operators.py`` builds the
operators' GPU forward/backward from these kernels.

Nothing here is imported by ``import mxteach``: the first array on ``mx.gpu(i)`` loads it. Run
every kernel on the CPU with ``NUMBA_ENABLE_CUDASIM=1`` (numba-cuda's simulator).
(DESIGN.md, decision 6.)
"""
