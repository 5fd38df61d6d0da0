"""Silent wrong results of the Module API become errors or right results (issue 9, item 1,
bullets 1-4): label bindings survive predict/score, foreign shapes are refused, integer data is
cast, and a module bound without labels never trains against an unset label buffer."""
import warnings

import numpy as np
import pytest

import mxteach as mx
from mxteach.base import MXNetError, ShapeError


def make_net(num_hidden=2):
    data = mx.sym.Variable("data")
    fc = mx.sym.FullyConnected(data, num_hidden=num_hidden, name="fc")
    return mx.sym.SoftmaxOutput(fc, name="softmax")


def separable(n, features=4, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.uniform(-1, 1, (n, features)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.float32)
    return X, y


def batches(X, y, size):
    for start in range(0, len(X), size):
        yield mx.io.DataBatch([mx.nd.array(X[start:start + size])],
                              [mx.nd.array(y[start:start + size])])


def accuracy(mod, X, y):
    pred = mod.predict(mx.io.NDArrayIter(X, batch_size=10)).asnumpy()
    return float((pred.argmax(axis=1) == y).mean())


# -- bullet 1: predict/score with another batch size keeps the label binding -------------------
def test_training_after_unlabelled_predict_of_another_size_uses_labels():
    X, y = separable(40)
    mod = mx.mod.Module(make_net())
    mod.bind(data_shapes=[("data", (10, 4))], label_shapes=[("softmax_label", (10,))])
    mod.init_params(initializer=mx.init.Zero())
    mod.init_optimizer(optimizer_params=(("learning_rate", 1.0),))
    # unlabelled data, another batch size: the module reshapes to (7, 4)
    mod.predict(mx.io.NDArrayIter(X[:21], batch_size=7))
    assert mod.label_shapes is not None and mod.label_shapes[0].shape == (7,)
    mod.score(mx.io.NDArrayIter(X[:21], y[:21], batch_size=7), "acc")
    for _ in range(20):
        for batch in batches(X, y, 10):
            mod.forward_backward(batch)
            mod.update()
    assert mod.label_shapes[0].shape == (10,)
    assert accuracy(mod, X, y) == 1.0


# -- bullet 2: non-batch dimensions that differ are refused ------------------------------------
def bound_four_feature_module():
    mod = mx.mod.Module(make_net())
    mod.bind(data_shapes=[("data", (10, 4))], label_shapes=[("softmax_label", (10,))])
    mod.init_params()
    return mod


@pytest.mark.parametrize("route", ["forward", "predict", "score", "eval_data"])
def test_five_features_into_four_feature_model_is_an_error(route):
    mod = bound_four_feature_module()
    before = mod.get_params()[0]["fc_weight"].asnumpy()
    X5, y5 = separable(10, features=5)
    with pytest.raises(ShapeError) as info:
        if route == "forward":
            mod.forward(mx.io.DataBatch([mx.nd.array(X5)], [mx.nd.array(y5)]))
        elif route == "predict":
            mod.predict(mx.io.NDArrayIter(X5, batch_size=10))
        elif route == "score":
            mod.score(mx.io.NDArrayIter(X5, y5, batch_size=10), "acc")
        else:
            X4, y4 = separable(10)
            mod.fit(mx.io.NDArrayIter(X4, y4, batch_size=10),
                    eval_data=mx.io.NDArrayIter(X5, y5, batch_size=10), num_epoch=1)
    message = str(info.value)
    assert "'data'" in message and "(10, 5)" in message and "(10, 4)" in message
    assert "fc_weight" in message
    # nothing changed: same shapes bound, same weights
    assert mod.data_shapes[0].shape == (10, 4)
    assert mod.exec_group.execs[0].arg_dict["fc_weight"].shape == (2, 4)
    if route != "eval_data":
        np.testing.assert_array_equal(mod.get_params()[0]["fc_weight"].asnumpy(), before)
    # the batch axis still reshapes automatically
    X, y = separable(3)
    mod.forward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]), is_train=False)
    assert mod.get_outputs()[0].shape == (3, 2)
    if route == "forward":
        # a convolution keeps its weights for another image size: that reshape stays automatic
        conv = mx.sym.Convolution(mx.sym.Variable("data"), kernel=(3, 3), num_filter=2,
                                  name="conv")
        cmod = mx.mod.Module(mx.sym.sum(conv, axis=(2, 3)), label_names=None)
        cmod.bind(data_shapes=[("data", (2, 1, 5, 5))], for_training=False)
        cmod.init_params(initializer=mx.init.One())
        cmod.forward(mx.io.DataBatch([mx.nd.ones((2, 1, 7, 7))]), is_train=False)
        # 25 output pixels of 9 ones each; biases start at 0
        np.testing.assert_allclose(cmod.get_outputs()[0].asnumpy(), np.full((2, 2), 225.0))


# -- bullet 3: integer data is cast to the bound dtype -----------------------------------------
def test_integer_data_is_cast_never_makes_integer_parameters():
    X, _ = separable(10)
    Xi = np.round(X * 3).astype(np.int32)
    fc = mx.sym.FullyConnected(mx.sym.Variable("data"), num_hidden=2, name="fc")
    mod = mx.mod.Module(fc, label_names=None)
    mod.bind(data_shapes=[("data", (10, 4))], for_training=False)
    mod.init_params(initializer=mx.init.Uniform(0.5))
    as_float = mod.predict(mx.io.NDArrayIter(Xi.astype(np.float32), batch_size=10)).asnumpy()
    # integer batches, also of another batch size and with an integer DataDesc
    as_int = mod.predict(mx.io.NDArrayIter(mx.nd.array(Xi, dtype="int32"), batch_size=5))
    assert as_int.dtype == np.float32
    np.testing.assert_allclose(as_int.asnumpy(), as_float, rtol=1e-6)
    assert {v.dtype for v in mod.get_params()[0].values()} == {np.float32}
    assert mod.data_shapes[0].dtype == np.float32
    # binding the data itself as int32 would make int32 weights: refused, naming both
    other = mx.mod.Module(fc, label_names=None)
    with pytest.raises(mx.base.DTypeError, match=r"fc_weight.*int32.*'data'"):
        other.bind(data_shapes=[mx.io.DataDesc("data", (10, 4), dtype=np.int32)],
                   for_training=False)


# -- bullet 4: bound without label shapes -----------------------------------------------------
def test_module_bound_without_labels_takes_batch_labels_and_matches_labelled_binding():
    X, y = separable(12)
    arg = {"fc_weight": mx.nd.array(np.linspace(-1, 1, 8).reshape(2, 4)),
           "fc_bias": mx.nd.array([0.1, -0.1])}
    grads = []
    for label_shapes in ([("softmax_label", (6,))], None):
        mod = mx.mod.Module(make_net())
        mod.bind(data_shapes=[("data", (6, 4))], label_shapes=label_shapes)
        mod.init_params(arg_params=arg)
        # a labelled batch of another size: labels follow (reshaped to 12)
        mod.forward_backward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]))
        grads.append(mod.exec_group.execs[0].grad_dict["fc_weight"].asnumpy().copy())
    assert mod.label_shapes is None
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-6)
    assert np.abs(grads[1]).max() > 0


def test_training_step_without_labels_is_an_error_when_bound_without_labels():
    X, y = separable(6)
    mod = mx.mod.Module(make_net())
    mod.bind(data_shapes=[("data", (6, 4))])
    mod.init_params()
    mod.init_optimizer()
    with pytest.raises(MXNetError, match=r"softmax_label.*had none"):
        mod.forward_backward(mx.io.DataBatch([mx.nd.array(X)]))
    # inference needs no labels; a labelled step then trains
    mod.forward(mx.io.DataBatch([mx.nd.array(X)]), is_train=False)
    assert mod.get_outputs()[0].shape == (6, 2)
    mod.forward_backward(mx.io.DataBatch([mx.nd.array(X)], [mx.nd.array(y)]))
    mod.update()
    with pytest.raises(MXNetError, match="softmax_label"):
        mod.forward_backward(mx.io.DataBatch([mx.nd.array(X)]))


def test_fit_on_an_iterator_without_labels_is_an_error():
    X, _ = separable(12)
    mod = mx.mod.Module(make_net())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(MXNetError, match=r"backward: the loss needs labels "
                                              r"\['softmax_label'\]"):
            mod.fit(mx.io.NDArrayIter(X, batch_size=6), num_epoch=1)
    # bound (as MXNet binds it), the error comes at the first training step
    assert mod.binded and mod.label_shapes is None
