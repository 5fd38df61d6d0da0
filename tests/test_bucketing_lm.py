"""The classic MXNet LSTM language model with bucketing, trained here and in MXNet 1.9.1.

The script below is MXNet's ``example/rnn/bucketing`` recipe in miniature and runs unchanged
in both frameworks: words are encoded with ``mx.rnn.encode_sentences``, batched by
``mx.rnn.BucketSentenceIter`` (its shuffles come from Python's ``random`` and numpy's global
generator, seeded identically on both sides, so the batch order is the same), and a
``BucketingModule`` unrolls a 2-layer ``LSTMCell`` stack per sentence length and trains with
SGD (momentum 0.9) from the same initial parameters (drawn here with numpy and passed to both fits).
"""
import numpy as np
import pytest

import mxteach as mx
from oracle import run_oracle

SYM_GEN = """
import random

def lm_sym_gen(vocab_size, num_embed, num_hidden, num_layers):
    stack = mx.rnn.SequentialRNNCell()
    for i in range(num_layers):
        stack.add(mx.rnn.LSTMCell(num_hidden=num_hidden, prefix='lstm_l%d_' % i))

    def sym_gen(seq_len):
        data = mx.sym.Variable('data')
        label = mx.sym.Variable('softmax_label')
        embed = mx.sym.Embedding(data=data, input_dim=vocab_size, output_dim=num_embed,
                                 name='embed')
        stack.reset()
        outputs, states = stack.unroll(seq_len, inputs=embed, merge_outputs=True)
        pred = mx.sym.Reshape(outputs, shape=(-1, num_hidden))
        pred = mx.sym.FullyConnected(data=pred, num_hidden=vocab_size, name='pred')
        label = mx.sym.Reshape(label, shape=(-1,))
        pred = mx.sym.SoftmaxOutput(data=pred, label=label, name='softmax', use_ignore=True,
                                    ignore_label=0)
        return pred, ('data',), ('softmax_label',)
    return sym_gen
"""

LM_SCRIPT = SYM_GEN + """
encoded, vocab = mx.rnn.encode_sentences(words, invalid_label=0, start_label=1)
random.seed(seed)
np.random.seed(seed)
train = mx.rnn.BucketSentenceIter(encoded, batch_size, buckets=list(buckets), invalid_label=0)
model = mx.mod.BucketingModule(lm_sym_gen(len(vocab), num_embed, num_hidden, num_layers),
                               default_bucket_key=train.default_bucket_key, context=mx.cpu())
metric = mx.metric.Perplexity(0)
history, keys = [], []
model.fit(train, eval_metric=metric, optimizer='sgd',
          optimizer_params={'learning_rate': lr, 'momentum': momentum, 'wd': 0.0},
          arg_params={k: mx.nd.array(v) for k, v in init_params.items()}, aux_params={},
          num_epoch=num_epoch,
          batch_end_callback=lambda p: keys.append(model._curr_bucket_key),
          epoch_end_callback=lambda epoch, sym, arg, aux: history.append(metric.get()[1]))
out['perplexity'] = history
out['bucket_keys'] = keys
out['vocab_size'] = len(vocab)
out['params'] = {k: v.asnumpy() for k, v in model.get_params()[0].items()}
"""

SETTINGS = dict(seed=7, batch_size=16, buckets=[5, 10, 15], num_embed=8, num_hidden=16,
                num_layers=2, lr=0.3, momentum=0.9, num_epoch=3)


def _corpus(n=200, vocab=29, common=10, seed=0):
    """Sentences of 2..15 words: mostly a walk round a cycle of ``common`` words, sometimes a
    random word from the whole vocabulary (so frequencies are skewed and successors learnable).
    """
    rng = np.random.RandomState(seed)
    sentences = []
    for _ in range(n):
        w = rng.randint(common)
        sent = []
        for _ in range(rng.randint(2, 16)):
            sent.append(f"w{w}")
            w = (w + 1) % common if rng.uniform() < 0.85 else rng.randint(vocab)
        sentences.append(sent)
    return sentences


def _initial_params(words):
    """Xavier-style uniform weights and LSTM biases (forget gate 1), shaped from the graph."""
    scope = {"mx": mx, "np": np}
    exec(SYM_GEN, scope)
    _, vocab = mx.rnn.encode_sentences(words, invalid_label=0, start_label=1)
    sym_gen = scope["lm_sym_gen"](len(vocab), SETTINGS["num_embed"], SETTINGS["num_hidden"],
                                  SETTINGS["num_layers"])
    sym, _, _ = sym_gen(max(SETTINGS["buckets"]))
    batch_shape = (SETTINGS["batch_size"], max(SETTINGS["buckets"]))
    arg_shapes = sym.infer_shape(data=batch_shape, softmax_label=batch_shape)[0]
    shapes = dict(zip(sym.list_arguments(), arg_shapes))
    rng = np.random.RandomState(123)
    params = {}
    for name, shape in shapes.items():
        if name in ("data", "softmax_label"):
            continue
        if name.endswith("weight"):
            bound = np.sqrt(6.0 / (shape[-1] + shape[0]))
            params[name] = rng.uniform(-bound, bound, shape).astype(np.float32)
        else:
            params[name] = np.zeros(shape, np.float32)
            if name.endswith("i2h_bias"):
                params[name][shape[0] // 4:shape[0] // 2] = 1.0
    return params


@pytest.fixture(scope="module")
def lm_run():
    words = _corpus()
    init = _initial_params(words)
    scope = {"mx": mx, "np": np, "words": words, "out": {}, "init_params": init, **SETTINGS}
    exec(LM_SCRIPT, scope)
    return words, init, scope["out"]


def test_lm_perplexity_falls_over_three_epochs(lm_run):
    _, init, ours = lm_run
    ppl = ours["perplexity"]
    assert ours["vocab_size"] == 30 and len(ppl) == 3
    assert ppl[0] < 25                         # uniform guessing would give 30
    assert ppl[0] > ppl[1] > ppl[2]
    assert ppl[2] < 0.8 * ppl[0]
    assert set(ours["bucket_keys"]) == {5, 10, 15}
    assert set(ours["params"]) == set(init)
    moved = np.abs(ours["params"]["lstm_l0_h2h_weight"] - init["lstm_l0_h2h_weight"]).max()
    assert moved > 1e-3


@pytest.mark.oracle
def test_lm_training_matches_mxnet(lm_run):
    words, init, ours = lm_run
    ref = run_oracle(LM_SCRIPT, words=words, init_params=init, **SETTINGS)
    print("perplexity per epoch  mxteach:", ours["perplexity"], " MXNet:", ref["perplexity"])
    assert ours["bucket_keys"] == ref["bucket_keys"]
    np.testing.assert_allclose(ours["perplexity"], ref["perplexity"], rtol=1e-4)
    for name, value in ref["params"].items():
        np.testing.assert_allclose(ours["params"][name], value, rtol=1e-3, atol=1e-4,
                                   err_msg=name)
