"""GPU == CPU for the operators of ops/sparse_nn.py on numba-cuda's simulator, bound with
dense gradients: the CUDA pair must give the dense form of the CPU backward (their row_sparse
gradients on a gpu: tests/test_cuda_sparse_training.py)."""
import numpy as np
import pytest

from cuda_compare import check, rnd

pytestmark = pytest.mark.cudasim


def test_sparse_embedding_forward_and_dense_weight_gradient():
    data = np.array([[0, 3, 3], [1, 0, 2]], np.float32)        # a repeated row adds up
    check("_contrib_SparseEmbedding", [data, rnd(4, 5, seed=1)],
          {"input_dim": 4, "output_dim": 5}, grads=[1])


@pytest.mark.parametrize("params", [{"axis": 0}, {"axis": 1, "keepdims": True}])
def test_square_sum(params):
    check("_square_sum", [rnd(3, 4, seed=2)], params)
