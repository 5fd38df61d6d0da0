"""CUDA kernels (Numba ``@cuda.jit``): the GPU twins of ``kernels/cpu``, tested against the same
numpy references. Each launcher below takes device arrays and has its CPU twin's signature:

============  =========================================================  =========================
file          launchers                                                  CPU twin / reference
============  =========================================================  =========================
nn.py         unary_forward, unary_backward; matmul (matmul_naive,       kernels/cpu/nn.py;
              matmul_tiled, matmul_blocked: launch.py's policy picks);   np.matmul
              prelu_*, slope_* (rrelu), random_fill
              (numba.cuda.random masks), embedding_* (atomic backward)
nn_norm.py    channel_reduce, bn_batch_stats, bn_global_stats,           kernels/cpu/nn.py (bn_*)
              bn_forward, bn_backward, bn_moving_update (a block per
              channel, tree sums in float64)
conv.py       im2col, col2im (per-pixel gather), conv_output,            kernels/cpu/conv.py
              conv_grad_rows, pool_forward (records argmax),
              pool_backward (gather)
rnn.py        cell_forward, cell_backward (one thread per unit; the      kernels/cpu/rnn.py
              GEMMs are nn.matmul)
elemwise.py   map_forward, map_grad (ONE generic kernel pair for every    numpy ufuncs and
              unary, binary, scalar op and clip, broadcasting by         sums over axes
              strides); strided_copy, permute, fill, copy; binary_*,
              col_sum
reduce.py     reduce, reduce_grad, sum_to (block-level tree reductions:  numpy reductions
              sum, mean, max, min, norms, argmax)
shape.py      take_indices, take_forward, take_backward (atomics),       kernels/cpu/shape.py
              one_hot, sequence_mask, where, where_grad
loss.py       softmax_forward, softmax_backward (a block per row, tree   kernels/cpu/loss.py
              max and sum), softmax_output_grad, regression_grad,
              valid_count, count_above
optim.py      sgd_step, nag_step, signum_step, sgld_step, dcasgd_step,  optimizer/steps.py
              test_step (the SGD family's update rules)
optim_        adam_step, adagrad_step, rmsprop(alex)_step, adadelta_step, optimizer/steps.py
adaptive.py   adamax_step, nadam_step, ftrl_step, ftml_step, lamb_step
============  =========================================================  =========================

Files are named by operator family, as in ``kernels/cpu/`` and ``kernels/reference/``; two are
not families: ``launch.py`` (launch configurations and device checks), ``optim.py`` and
``optim_adaptive.py`` (the optimizers' update rules). The operators' GPU forward/backward that call these launchers live with each
operator (``Op.gpu_forward``/``gpu_backward`` in ``ops/nn.py``, ``ops/loss.py`` ...).

Each module declares the argument types of its kernels in ``PTX_SIGNATURES`` (``{t}`` standing
for float32 and float64): ``tests/test_cuda_ptx.py`` compiles every kernel it finds here to PTX
for a real GPU with them, and fails on a kernel without any.

Nothing here is imported by ``import mxteach``: the first array on ``mx.gpu(i)`` loads it. Run
every kernel on the CPU with ``NUMBA_ENABLE_CUDASIM=1`` (numba-cuda's simulator).
(DESIGN.md, decision 6.)
"""
