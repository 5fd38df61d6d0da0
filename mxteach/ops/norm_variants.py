"""Three variants of BatchNorm that MXNet 1.9.1 keeps under other names, computed by the
registered ``BatchNorm`` (``ops/nn_norm.py``, found through the registry at run time, so this
family imports no other) and its kernels:

* ``BatchNorm_v1``, the old operator: BatchNorm without ``axis`` (channels on axis 1) whose
  ``output_mean_var`` outputs are the mean and the **variance** used (batch statistics while
  training, the moving ones otherwise), where BatchNorm outputs the inverse std;
* ``contrib.SyncBatchNorm``: BatchNorm whose statistics MXNet shares over ``ndev`` devices by
  ``key`` (its executors wait for each other at a barrier). With ``ndev=1`` it is exactly
  BatchNorm. mxteach runs a module's devices one after another, so it cannot wait for the
  others: with ``ndev > 1`` each device still uses its own batch statistics, and a warning says
  so. Its ``var`` output is the batch variance, as ``BatchNorm_v1``'s (MXNet writes ``mean`` /
  ``var`` only with batch statistics; here they are the statistics used);
* ``contrib.BatchNormWithReLU``: ``relu(BatchNorm(x))``; backward masks the head gradient by
  ``output > 0`` and runs BatchNorm's backward (the moving statistics are updated there, as
  BatchNorm's). MXNet 1.9.1 runs it only through MKL-DNN (4-D float32 data, axis 1, else
  "only supports MKL-DNN Backend"); here it runs wherever BatchNorm runs.

See notebook 05.
"""
from __future__ import annotations

import warnings

import numpy as np

from .registry import Op, Param, register, get
from .common import gpu_flat
from ..base import ShapeError
from ..kernels.cpu import nn as KN

__all__ = ["NORM_VARIANT_OPS"]

NORM_VARIANT_OPS = ("BatchNorm_v1", "_contrib_SyncBatchNorm", "_contrib_BatchNormWithReLU")

_COMMON = {"eps": Param("float", 1e-3, doc="added to the variance"),
           "momentum": Param("float", 0.9, doc="of the moving averages"),
           "fix_gamma": Param("bool", True, doc="use gamma = 1 (and write 1 into gamma)"),
           "use_global_stats": Param("bool", False,
                                     doc="normalise with the moving statistics in training too"),
           "output_mean_var": Param("bool", False, doc="also output the mean and variance")}
_BN_EXTRA = {"axis": Param("int", 1, doc="the channel axis"),
             "cudnn_off": Param("bool", False, doc="accepted, no effect"),
             "min_calib_range": Param("float", None, optional=True, doc="quantisation; unused"),
             "max_calib_range": Param("float", None, optional=True, doc="quantisation; unused")}


def _bn_params(p):
    """BatchNorm's parsed parameters for a variant's."""
    q = {k: p[k] for k in _COMMON}
    q.update({k: p.get(k, spec.default) for k, spec in _BN_EXTRA.items()})
    return q


def _outputs(p):
    return ["output", "mean", "var"] if p["output_mean_var"] else ["output"]


def _warn_unsynced(p, state):
    """SyncBatchNorm with ndev > 1: say once per node that the statistics stay per device."""
    if p.get("ndev", 1) > 1 and not state.get("warned"):
        state["warned"] = True
        warnings.warn(f"SyncBatchNorm (key '{p['key']}'): ndev = {p['ndev']}, but mxteach runs "
                      f"devices one after another and cannot share batch statistics between "
                      f"them; each device normalises with its own (as ndev = 1)", stacklevel=2)


def _variant(name, params, relu, var_output, hint, doc):
    bn = get("BatchNorm")

    def infer_shape(p, in_shapes):
        try:
            return bn.infer_shape(_bn_params(p), in_shapes)
        except ShapeError as err:     # name the operator the user called
            raise ShapeError(str(err).replace("BatchNorm:", f"{name}:", 1)) from None

    def forward(p, ins, outs, is_train, state):
        _warn_unsynced(p, state)
        bn.forward(_bn_params(p), ins, outs, is_train, state)
        if relu:
            np.maximum(outs[0], 0, out=outs[0])
        if var_output and p["output_mean_var"]:
            outs[2][...] = state["var"]        # the variance itself, not BatchNorm's 1/std

    def backward(p, ograds, ins, outs, igrads, reqs, state):
        if relu:                               # relu's gradient: pass where output > 0
            ograds = [ograds[0] * (outs[0] > 0)] + list(ograds[1:])
        bn.backward(_bn_params(p), ograds, ins, outs, igrads, reqs, state)

    def gpu_forward(p, ins, outs, is_train, state):
        from ..kernels.cuda import elemwise, nn
        _warn_unsynced(p, state)
        bn.gpu_forward(_bn_params(p), ins, outs, is_train, state)
        if relu:
            flat = gpu_flat(outs[0])
            nn.unary_forward(flat, flat, KN.ACT_CODES["relu"], 0.0)
        if var_output and p["output_mean_var"]:
            elemwise.copy(state["var"], outs[2])

    def gpu_backward(p, ograds, ins, outs, igrads, reqs, state):
        from numba import cuda
        from ..kernels.cuda import nn
        if relu:
            y = gpu_flat(outs[0])
            masked = cuda.device_array(y.shape, y.dtype)
            nn.unary_backward(y, y, gpu_flat(ograds[0]), masked, KN.ACT_CODES["relu"], 0.0,
                              False)
            ograds = [masked.reshape(outs[0].shape)] + list(ograds[1:])
        bn.gpu_backward(_bn_params(p), ograds, ins, outs, igrads, reqs, state)

    register(Op(
        name=name, params=params, arguments=["data", "gamma", "beta"],
        aux=["moving_mean", "moving_var"], outputs=_outputs, infer_shape=infer_shape,
        forward=forward, backward=backward, gpu_forward=gpu_forward, gpu_backward=gpu_backward,
        backward_uses=("ins", "outs") if relu else ("ins",), hint=hint,
        extra={"input_attrs": {"moving_mean": {"__init__": '["zero", {}]'},
                               "moving_var": {"__init__": '["one", {}]'}}},
        doc=doc + " See notebook 05."))


_variant("BatchNorm_v1", dict(_COMMON), relu=False, var_output=True, hint="batchnorm_v1",
         doc="The old BatchNorm: channels on axis 1; output_mean_var gives the mean and the "
             "variance used.")
_variant("_contrib_SyncBatchNorm",
         {**_COMMON, "ndev": Param("int", 1, doc="devices sharing the statistics"),
          "key": Param("str", doc="the synchronisation key of this layer")},
         relu=False, var_output=True, hint="syncbatchnorm",
         doc="BatchNorm with statistics synchronised over ndev devices by key; on one "
             "device, BatchNorm. output_mean_var gives the batch mean and variance.")
_variant("_contrib_BatchNormWithReLU", {**_COMMON, **_BN_EXTRA}, relu=True, var_output=False,
         hint="batchnormwithrelu",
         doc="relu(BatchNorm(data)), BatchNorm's parameters and outputs (mean and inverse "
             "std).")
