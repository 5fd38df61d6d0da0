"""Exercise checks of notebook 16 (distributed training over MPI).

The checks run in the notebook's own process (no MPI needed): the truth comes from a
single-process store with one value per "worker" (it sums exactly as the distributed stores
do), from ``mxteach.gradient_compression`` (MXNet's 2-bit algorithm) and from the network's
shapes. See notebook 16.
"""
from __future__ import annotations

import numpy as np

from .checking import Wrong, close, exercise, returned

__all__ = ["net", "check_pulled_value", "check_one_process_order", "check_two_bit",
           "check_bytes_per_step"]


def net():
    """The notebook's network: data(·, 5) → fc1(4) → tanh → fc2(3) → softmax."""
    from .. import symbol as sym
    x = sym.FullyConnected(sym.Variable("data"), num_hidden=4, name="fc1")
    x = sym.Activation(x, act_type="tanh", name="tanh1")
    x = sym.FullyConnected(x, num_hidden=3, name="fc2")
    return sym.SoftmaxOutput(x, name="softmax")


@exercise("16.1", "predict what a pull returns after both workers pushed")
def check_pulled_value(answer):
    """Store initialised to 5 by rank 0 (rank 1 passed 6); worker r pushes ``r + 1`` then
    pulls. ``answer``: the value every worker reads."""
    from .. import kvstore, nd
    try:
        got = float(answer)
    except (TypeError, ValueError):
        raise Wrong(f"answer with one number, got {answer!r}") from None
    # two workers' pushes are summed like two devices' values in one process
    kv = kvstore.create("local")
    kv.init("a", nd.ones((2,)) * 5)
    kv.push("a", [nd.ones((2,)) * (r + 1) for r in range(2)])
    out = nd.zeros((2,))
    kv.pull("a", out=out)
    want = float(out.asnumpy()[0])
    if got == want:
        return "without an optimizer, a pull returns the sum of the pushes; the initial 5 is gone."
    if got == want / 2:
        raise Wrong(f"{got} is the mean: a kvstore sums the workers' gradients, it does not "
                    "average them (the optimizer's rescale_grad = 1/global batch does that).")
    if got in (5.0, 6.0) or got == want + 5:
        raise Wrong(f"{got}: without an optimizer a push replaces the stored value by the sum "
                    "of the pushes; the initial value (rank 0's 5) is not added to it.")
    raise Wrong(f"{got} is not what the workers read: each worker pushes rank + 1 and the "
                "store combines the two pushes.")


@exercise("16.2", "order one process's data so that it equals two workers")
def check_one_process_order(fn):
    """``fn(rows_per_worker, batch, num_workers)`` -> the row order of one process with batch
    ``batch * num_workers`` whose batches are the workers' batches put together."""
    for rows, batch, workers in [(16, 4, 2), (12, 3, 2), (12, 2, 3)]:
        got = np.asarray(returned(fn, rows, batch, workers, what="your order function"))
        # worker r owns rows [r*rows, (r+1)*rows); its b-th batch is the b-th run of `batch`
        want = np.concatenate([np.arange(r * rows + b * batch, r * rows + (b + 1) * batch)
                               for b in range(rows // batch) for r in range(workers)])
        if got.shape != want.shape:
            raise Wrong(f"for {workers} workers of {rows} rows the order must list every row "
                        f"once: {want.size} indices, you gave {got.size}")
        if np.array_equal(got, np.arange(want.size)):
            raise Wrong("that is the plain order 0, 1, 2, ...: the one-process batch b must "
                        "hold worker 0's batch b, then worker 1's batch b (each worker reads its "
                        "own contiguous part of the data).")
        if not np.array_equal(got, want):
            k = int(np.argmax(got != want))
            raise Wrong(f"for rows={rows}, batch={batch}, workers={workers}: position {k} "
                        f"holds row {got[k]}, expected row {want[k]} (batch {k // (batch * workers)} "
                        f"of the one process is the workers' batches {k // (batch * workers)} "
                        "in rank order)")
    return "one process over these batches computes the same summed gradient as the workers."


@exercise("16.3", "write MXNet's 2-bit quantizer with error feedback")
def check_two_bit(fn):
    """``fn(grad, residual, threshold)`` -> ``(sent, new_residual)``: the values the receiver
    decodes and the residual kept for the next step."""
    from ..gradient_compression import dequantize_2bit, quantize_2bit
    rng = np.random.RandomState(7)
    residual_ref = np.zeros(37, np.float32)
    residual = np.zeros(37, np.float32)
    for step in range(4):
        grad = (rng.randn(37) * 0.6).astype(np.float32)
        packed = quantize_2bit(grad, residual_ref, 0.5)
        want = dequantize_2bit(packed, 37, 0.5)
        out = returned(fn, grad.copy(), residual.copy(), 0.5, what="your quantizer")
        if not (isinstance(out, tuple) and len(out) == 2):
            raise Wrong("return a pair (sent, new_residual)")
        sent, residual = np.asarray(out[0], np.float32), np.asarray(out[1], np.float32)
        if step > 0 and np.allclose(residual, 0) and not np.allclose(residual_ref, 0):
            raise Wrong("your residual stays zero: error feedback keeps what was not sent "
                        "(residual + grad - sent) and adds it to the next gradient.")
        close(sent, want, f"the values sent at step {step}")
        close(residual, residual_ref, f"the residual after step {step}",
              atol=1e-6, rtol=1e-6)
    return "sent values are 0 or ±threshold; the rest waits in the residual."


def _param_sizes():
    shapes, _, _ = net().infer_shape(data=(8, 5), softmax_label=(8,))
    names = net().list_arguments()
    return [int(np.prod(s)) for n, s in zip(names, shapes) if n.endswith(("_weight", "_bias"))]


@exercise("16.4", "predict the bytes a worker pushes per step, with and without 2-bit")
def check_bytes_per_step(answer):
    """``answer = {"fp32": bytes, "2bit": bytes}`` pushed by one worker per step for
    :func:`net`."""
    from ..gradient_compression import compressed_size
    if not isinstance(answer, dict) or any(answer.get(k) in (None, ...) for k in ("fp32", "2bit")):
        raise Wrong('answer with a dict {"fp32": bytes, "2bit": bytes}')
    sizes = _param_sizes()
    fp32 = sum(4 * n for n in sizes)
    two = sum(4 * compressed_size(n) for n in sizes)   # each key packs into whole words
    got_fp, got_two = float(answer["fp32"]), float(answer["2bit"])
    if got_fp != fp32:
        raise Wrong(f"fp32: {got_fp:g} bytes is not it. Count the parameters of fc1 (4×5 + 4) "
                    "and fc2 (3×4 + 3): every one sends a float32 gradient of 4 bytes.")
    if got_two == fp32 / 8:
        raise Wrong("2 bits per value is 1/16 of 32 bits, not 1/8.")
    if got_two == fp32 / 16:
        raise Wrong("close: 2 bits per value, but each key is packed separately into whole "
                    "float32 words of 16 codes (ceil(n / 16) words per key).")
    if got_two != two:
        raise Wrong(f"2bit: {got_two:g} bytes is not it: each key of n values travels as "
                    "ceil(n / 16) float32 words.")
    return f"{fp32} B of float32 gradients become {two} B of 2-bit codes per step."
