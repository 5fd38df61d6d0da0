import numpy as np
class Softmax(mx.operator.CustomOp):
    def forward(self, is_train, req, in_data, out_data, aux):
        x = in_data[0].asnumpy()
        y = np.exp(x - x.max(axis=1).reshape((x.shape[0], 1)))
        y /= y.sum(axis=1).reshape((x.shape[0], 1))
        self.assign(out_data[0], req[0], mx.nd.array(y))
    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        l = in_data[1].asnumpy().ravel().astype(np.int64)
        y = out_data[0].asnumpy()
        y[np.arange(l.shape[0]), l] -= 1.0
        self.assign(in_grad[0], req[0], mx.nd.array(y))

@mx.operator.register("softmax")
class SoftmaxProp(mx.operator.CustomOpProp):
    def __init__(self):
        super(SoftmaxProp, self).__init__(need_top_grad=False)
    def list_arguments(self):
        return ['data', 'label']
    def list_outputs(self):
        return ['output']
    def infer_shape(self, in_shape):
        data_shape = in_shape[0]
        label_shape = (in_shape[0][0],)
        output_shape = in_shape[0]
        return [data_shape, label_shape], [output_shape], []
    def create_operator(self, ctx, shapes, dtypes):
        return Softmax()

data = mx.sym.Variable('data')
fc1 = mx.sym.FullyConnected(data=data, name='fc1', num_hidden=16)
act1 = mx.sym.Activation(data=fc1, name='relu1', act_type="relu")
fc2 = mx.sym.FullyConnected(data=act1, name='fc2', num_hidden=3)
net = mx.sym.Custom(fc2, name='softmax', op_type='softmax')
it = mx.io.NDArrayIter(X, Y, batch_size=10, shuffle=False, label_name='softmax_label')
mod = mx.mod.Module(net, label_names=['softmax_label'])
mod.bind(it.provide_data, it.provide_label)
mod.init_params(arg_params={'fc1_weight': mx.nd.array(W1), 'fc1_bias': mx.nd.zeros((16,)),
                            'fc2_weight': mx.nd.array(W2), 'fc2_bias': mx.nd.zeros((3,))})
mod.init_optimizer(optimizer='sgd', optimizer_params={'learning_rate': 0.1, 'momentum': 0.9})
metric = mx.metric.Accuracy()
for epoch in range(3):
    it.reset(); metric.reset()
    for b in it:
        mod.forward(b, is_train=True)
        mod.update_metric(metric, b.label)
        mod.backward()
        mod.update()
out['acc'] = metric.get()[1]
args, _ = mod.get_params()
out['w1'] = args['fc1_weight'].asnumpy(); out['w2'] = args['fc2_weight'].asnumpy()
out['pred'] = mod.predict(it).asnumpy()
out['nd'] = mx.nd.Custom(mx.nd.array(X[:4]), mx.nd.array(Y[:4]), op_type='softmax').asnumpy()
