"""Operators of ops/norm_variants.py (issue 17): BatchNorm_v1, contrib.SyncBatchNorm and
contrib.BatchNormWithReLU. numpy reference, finite differences, grad_req add, MXNet parity of
forward, backward and the moving statistics, CPU vs GPU (cudasim)."""
from __future__ import annotations

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError
from mxteach.test_utils import run_op, run_op_backward, check_op_gradient
from oracle import run_oracle

VARIANTS = {"BatchNorm_v1": {}, "_contrib_SyncBatchNorm": {"key": "k", "ndev": 1},
            "_contrib_BatchNormWithReLU": {}}
GAMMA = np.array([0.5, 1.5, -2.0])
BETA = np.array([0.1, 0.2, -0.3])
MOVING = (np.array([0.1, 0.2, 0.3]), np.array([1.5, 0.5, 2.0]))


def _inputs(dtype=np.float64, shape=(2, 3, 2, 2), seed=0):
    x = np.random.RandomState(seed).randn(*shape)
    return [a.astype(dtype) for a in (x, GAMMA, BETA) + MOVING]


def _numpy_bn(x, gamma, beta, mean, var, eps=1e-3):
    c = (1, -1) + (1,) * (x.ndim - 2)
    return (x - mean.reshape(c)) / np.sqrt(var.reshape(c) + eps) * gamma.reshape(c) + \
        beta.reshape(c)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("train", [True, False])
def test_forward_equals_numpy(name, train, dtype):
    ins = _inputs(dtype)
    (y, mean, var), _, _ = run_op(name, ins, is_train=train, fix_gamma=False,
                                  output_mean_var=True, **VARIANTS[name])
    x = ins[0].astype(np.float64)
    if train:
        m, v = x.mean(axis=(0, 2, 3)), x.var(axis=(0, 2, 3))
    else:
        m, v = MOVING
    want = _numpy_bn(x, GAMMA, BETA, m, v)
    relu = name.endswith("ReLU")
    if relu:
        want = np.maximum(want, 0)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(y, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(mean, m, rtol=tol)
    # the third output: BatchNorm's 1/sqrt(var + eps) for the ReLU variant, else the variance
    np.testing.assert_allclose(var, 1 / np.sqrt(v + 1e-3) if relu else v, rtol=tol)


@pytest.mark.parametrize("name", list(VARIANTS))
@pytest.mark.parametrize("fix_gamma", [True, False])
def test_finite_differences(name, fix_gamma):
    ins = _inputs(shape=(3, 3, 2))
    check_op_gradient(name, ins, dict(VARIANTS[name], fix_gamma=fix_gamma), wrt=[0, 1, 2],
                      rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", list(VARIANTS))
def test_grad_req_add_accumulates(name):
    ins = _inputs()
    p = dict(VARIANTS[name], fix_gamma=False, momentum=0.8)
    _, once = run_op_backward(name, ins, **p)
    init = [np.full_like(a, 0.5) for a in ins[:3]]
    _, added = run_op_backward(name, ins, reqs=["add"] * 3, init_grads=init, **p)
    for a, b in zip(added, once):
        np.testing.assert_allclose(a, b + 0.5, rtol=1e-12)


def test_relu_variant_masks_the_head_gradient():
    ins = _inputs()
    g = np.random.RandomState(3).randn(*ins[0].shape)
    (y,), grads = run_op_backward("_contrib_BatchNormWithReLU", ins, out_grads=[g],
                                  fix_gamma=False)
    _, want = run_op_backward("BatchNorm", _inputs(), out_grads=[g * (y > 0)], fix_gamma=False)
    for a, b in zip(grads, want):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14)


def test_parameters_and_names_follow_mxnet():
    x = mx.sym.Variable("x")
    s = mx.sym.contrib.SyncBatchNorm(x, key="layer1", ndev=2)
    assert s.list_arguments() == ["x", "syncbatchnorm0_gamma", "syncbatchnorm0_beta"]
    assert s.list_auxiliary_states() == ["syncbatchnorm0_moving_mean",
                                         "syncbatchnorm0_moving_var"]
    r = mx.sym.contrib.BatchNormWithReLU(x, output_mean_var=True)
    assert r.list_outputs() == ["batchnormwithrelu0_output", "batchnormwithrelu0_mean",
                                "batchnormwithrelu0_var"]
    v = mx.sym.BatchNorm_v1(x)
    assert v.list_arguments() == ["x", "batchnorm_v10_gamma", "batchnorm_v10_beta"]
    assert v.attr_dict()["batchnorm_v10_moving_var"]["__init__"] == '["one", {}]'
    with pytest.raises(MXNetError, match="key"):
        mx.sym.contrib.SyncBatchNorm(x)
    with pytest.raises(MXNetError, match="axis"):
        mx.sym.BatchNorm_v1(x, axis=1)
    with pytest.raises(MXNetError, match="SyncBatchNorm"):
        mx.sym.contrib.SyncBatchNorm(x, key="k").infer_shape(x=(2, 3), syncbatchnorm1_gamma=(4,))


# The same script runs in mxteach and in MXNet 1.9.1: a training step of each variant through
# an executor, for fix_gamma and use_global_stats both ways.
PARITY = """
res = {}
for opname in ('BatchNorm_v1', 'contrib.SyncBatchNorm', 'contrib.BatchNormWithReLU'):
    f = mx.sym
    for part in opname.split('.'):
        f = getattr(f, part)
    extra = {'key': 'k'} if 'Sync' in opname else {}
    for fix in (True, False):
        for ugs in (False, True):
            s = f(mx.sym.var('x'), name='bn', output_mean_var=True, fix_gamma=fix,
                  use_global_stats=ugs, momentum=0.8, **extra)
            ex = s.simple_bind(mx.cpu(), x=x.shape)
            ex.arg_dict['bn_gamma'][:] = gamma
            ex.arg_dict['bn_beta'][:] = beta
            ex.aux_dict['bn_moving_mean'][:] = mm
            ex.aux_dict['bn_moving_var'][:] = mv
            outs = [o.asnumpy() for o in ex.forward(is_train=True, x=x)]
            ex.backward([mx.nd.array(g), mx.nd.zeros(3), mx.nd.zeros(3)])
            infer = [o.asnumpy() for o in ex.forward(is_train=False, x=x)]
            res[(opname, fix, ugs)] = outs + infer + [
                ex.grad_dict[k].asnumpy() for k in ('x', 'bn_gamma', 'bn_beta')] + [
                ex.aux_dict[k].asnumpy() for k in ('bn_moving_mean', 'bn_moving_var')] + [
                ex.arg_dict['bn_gamma'].asnumpy()]
"""


def _parity_arrays():
    ins = _inputs(np.float32)
    g = np.random.RandomState(9).randn(*ins[0].shape).astype(np.float32)
    return dict(x=ins[0], gamma=ins[1], beta=ins[2], mm=ins[3], mv=ins[4], g=g)


@pytest.mark.oracle
def test_mxnet_parity_training_step():
    arrays = _parity_arrays()
    theirs = run_oracle(PARITY + "\nout['res'] = res\n", **arrays)["res"]
    scope = dict(arrays, mx=mx)
    exec(PARITY, scope)
    ours = scope["res"]
    for key, want in theirs.items():
        for i, (a, b) in enumerate(zip(ours[key], want)):
            if "Sync" in key[0] and (i in (4, 5) or key[2] and i in (1, 2)):
                continue     # MXNet leaves mean/var unwritten without batch statistics
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=f"{key} #{i}")


@pytest.mark.cudasim
@pytest.mark.parametrize("name", ["BatchNorm_v1", "contrib.SyncBatchNorm",
                                  "contrib.BatchNormWithReLU"])
def test_gpu_equals_cpu(name):
    arrays = _parity_arrays()
    f = mx.sym
    for part in name.split("."):
        f = getattr(f, part)
    extra = {"key": "k"} if "Sync" in name else {}
    res = []
    for ctx in (mx.cpu(), mx.gpu(0)):
        s = f(mx.sym.var("x"), name="bn", output_mean_var=True, fix_gamma=False, **extra)
        ex = s.simple_bind(ctx, x=arrays["x"].shape)
        ex.arg_dict["bn_gamma"][:] = arrays["gamma"]
        ex.arg_dict["bn_beta"][:] = arrays["beta"]
        outs = [o.asnumpy() for o in ex.forward(is_train=True, x=arrays["x"])]
        ex.backward([mx.nd.array(arrays["g"], ctx=ctx), mx.nd.zeros(3, ctx=ctx),
                     mx.nd.zeros(3, ctx=ctx)])
        res.append(outs + [ex.grad_dict[k].asnumpy() for k in ("x", "bn_gamma", "bn_beta")] +
                   [ex.aux_dict[k].asnumpy() for k in ("bn_moving_mean", "bn_moving_var")])
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)


# A two-device module (data split in halves): with ndev=1 every device normalises its own half,
# which is what MXNet computes; the per-device gradients and the averaged moving statistics.
MODULE = """
x = xs
s = mx.sym.contrib.SyncBatchNorm(mx.sym.var('data'), key='k1', ndev=1, name='bn',
                                 fix_gamma=False)
s = mx.sym.MakeLoss(mx.sym.sum(s * s * w))
mod = mx.mod.Module(s, data_names=['data'], label_names=None, context=[mx.cpu(0), mx.cpu(1)])
mod.bind(data_shapes=[('data', x.shape)])
mod.init_params(mx.init.Constant(0.7))
mod.init_optimizer(optimizer='sgd', optimizer_params={'learning_rate': 0.1})
mod.forward(mx.io.DataBatch([mx.nd.array(x)]), is_train=True)
mod.backward()
grads = [e.grad_dict['bn_gamma'].asnumpy() for e in mod._exec_group.execs]
mod.update()
args, aux = mod.get_params()
res = grads + [args['bn_gamma'].asnumpy(), args['bn_beta'].asnumpy(),
               aux['bn_moving_mean'].asnumpy(), aux['bn_moving_var'].asnumpy()]
"""


@pytest.mark.oracle
def test_mxnet_parity_sync_batchnorm_in_a_two_device_module():
    rs = np.random.RandomState(11)
    xs = rs.randn(4, 3, 2, 2).astype(np.float32)
    xs[2:] += 3.0                      # the halves differ: per-device statistics matter
    w = 0.5
    theirs = run_oracle(MODULE + "\nout['res'] = res\n", xs=xs, w=w)["res"]
    scope = dict(xs=xs, w=w, mx=mx)
    exec(MODULE, scope)
    assert len(scope["res"]) == len(theirs)
    for a, b in zip(scope["res"], theirs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_sync_batchnorm_with_several_devices_warns_and_keeps_per_device_statistics():
    ins = _inputs()
    with pytest.warns(UserWarning, match="cannot share batch statistics"):
        (y2,), _, _ = run_op("_contrib_SyncBatchNorm", ins, key="k", ndev=2, fix_gamma=False)
    (y1,), _, _ = run_op("_contrib_SyncBatchNorm", ins, key="k", ndev=1, fix_gamma=False)
    np.testing.assert_array_equal(y2, y1)
