"""``mx.rnn``: symbolic RNN cells, bucketed sentence iterators and RNN checkpoints.

The MXNet 1.x way to build a recurrent network for ``Module``/``BucketingModule``: a cell
(``LSTMCell``, ``GRUCell``, ``RNNCell``) describes one time step; ``cell.unroll(T, inputs)``
repeats it ``T`` times with shared weights; ``BucketSentenceIter`` groups sentences by length
so one unrolled graph per bucket is enough. ``FusedRNNCell`` runs a whole stack of layers as one
``RNN`` operator (and ``unfuse()`` gives the equivalent cells); ``ConvRNNCell``,
``ConvLSTMCell`` and ``ConvGRUCell`` replace the matrix products by convolutions over images.
See notebook 08.
"""
from .rnn_cell import RNNParams, BaseRNNCell, RNNCell, LSTMCell, GRUCell
from .container_cell import SequentialRNNCell, BidirectionalCell
from .modifier_cell import DropoutCell, ModifierCell, ZoneoutCell, ResidualCell
from .fused_cell import FusedRNNCell
from .conv_cell import BaseConvRNNCell, ConvRNNCell, ConvLSTMCell, ConvGRUCell
from .io import encode_sentences, BucketSentenceIter
from .rnn import save_rnn_checkpoint, load_rnn_checkpoint, do_rnn_checkpoint

__all__ = ["RNNParams", "BaseRNNCell", "RNNCell", "LSTMCell", "GRUCell", "SequentialRNNCell",
           "DropoutCell", "ModifierCell", "ZoneoutCell", "ResidualCell", "BidirectionalCell",
           "FusedRNNCell", "BaseConvRNNCell", "ConvRNNCell", "ConvLSTMCell", "ConvGRUCell",
           "encode_sentences", "BucketSentenceIter", "save_rnn_checkpoint",
           "load_rnn_checkpoint", "do_rnn_checkpoint"]
