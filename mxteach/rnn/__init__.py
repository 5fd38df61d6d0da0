"""``mx.rnn``: symbolic RNN cells, bucketed sentence iterators and RNN checkpoints.

The MXNet 1.x way to build a recurrent network for ``Module``/``BucketingModule``: a cell
(``LSTMCell``, ``GRUCell``, ``RNNCell``) describes one time step; ``cell.unroll(T, inputs)``
repeats it ``T`` times with shared weights; ``BucketSentenceIter`` groups sentences by length
so one unrolled graph per bucket is enough. Not here: ``FusedRNNCell`` (it needs the fused
``RNN`` operator) and the convolutional cells. See notebook 06.
"""
from .rnn_cell import RNNParams, BaseRNNCell, RNNCell, LSTMCell, GRUCell
from .container_cell import SequentialRNNCell, BidirectionalCell
from .modifier_cell import DropoutCell, ModifierCell, ZoneoutCell, ResidualCell
from .io import encode_sentences, BucketSentenceIter
from .rnn import save_rnn_checkpoint, load_rnn_checkpoint, do_rnn_checkpoint

__all__ = ["RNNParams", "BaseRNNCell", "RNNCell", "LSTMCell", "GRUCell", "SequentialRNNCell",
           "DropoutCell", "ModifierCell", "ZoneoutCell", "ResidualCell", "BidirectionalCell",
           "encode_sentences", "BucketSentenceIter", "save_rnn_checkpoint",
           "load_rnn_checkpoint", "do_rnn_checkpoint"]
