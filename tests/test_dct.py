import numpy as np
import pytest
import scipy.fft
import torch

from freqlib import dct_matrix, dctn, idctn, idctn_box
from freqlib.dct import _cheapest_order, dctn_fft

from .conftest import DEVICES

SHAPES = [(7,), (4, 9), (3, 5, 6), (2, 3, 4, 5), (2, 3, 2, 4, 3)]


@pytest.mark.parametrize("shape", SHAPES)
def test_dctn_matches_scipy_float64(shape):
    x = torch.randn(shape, dtype=torch.float64)
    np.testing.assert_allclose(dctn(x).numpy(), scipy.fft.dctn(x.numpy(), norm="ortho"), rtol=0, atol=1e-10)
    np.testing.assert_allclose(idctn(x).numpy(), scipy.fft.idctn(x.numpy(), norm="ortho"), rtol=0, atol=1e-10)


@pytest.mark.parametrize("dims", [(0,), (1, 2), (-1,), (0, 2), 1])
def test_dctn_over_selected_dims(dims):
    x = torch.randn(4, 5, 6, dtype=torch.float64)
    axes = (dims,) if isinstance(dims, int) else dims
    ref = scipy.fft.dctn(x.numpy(), axes=axes, norm="ortho")
    np.testing.assert_allclose(dctn(x, dims).numpy(), ref, atol=1e-10)
    np.testing.assert_allclose(idctn(dctn(x, dims), dims).numpy(), x.numpy(), atol=1e-10)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5), (torch.bfloat16, 3e-2), (torch.float16, 3e-3)]
)
@pytest.mark.parametrize("shape", SHAPES)
def test_round_trip_all_dtypes(shape, dtype, tol, device):
    x = torch.randn(shape, device=device).to(dtype)
    X = dctn(x)
    assert X.dtype == dtype and X.shape == x.shape and X.device == x.device
    y = idctn(X)
    assert torch.allclose(y.double(), x.double(), atol=tol * 4, rtol=tol)
    ref = scipy.fft.dctn(x.double().cpu().numpy(), norm="ortho")
    np.testing.assert_allclose(X.double().cpu().numpy(), ref, atol=tol * 8, rtol=tol * 4)


def test_dct_matrix_is_orthonormal_and_cached():
    c = dct_matrix(11)
    torch.testing.assert_close(c @ c.T, torch.eye(11, dtype=torch.float64))
    assert dct_matrix(11) is c


@pytest.mark.parametrize(
    "shape,box", [((9, 13), (3, 5)), ((6, 5, 3, 3), (2, 4, 3, 1)), ((2, 3, 4, 5, 6), (1, 2, 2, 5, 3))]
)
def test_truncated_inverse_equals_full_inverse(shape, box):
    X = torch.zeros(shape, dtype=torch.float64)
    sl = tuple(slice(0, b) for b in box)
    X[sl] = torch.randn(box, dtype=torch.float64)
    torch.testing.assert_close(idctn_box(X[sl], shape), idctn(X), atol=1e-12, rtol=0)


def test_cheapest_order_beats_or_ties_natural_order():
    # expanding the small-growth dim first is cheaper
    assert _cheapest_order((100, 10), (200, 1000)) == (0, 1)
    assert _cheapest_order((10, 100), (1000, 200)) == (1, 0)


def test_gradcheck():
    x = torch.randn(3, 4, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(dctn, (x,))
    assert torch.autograd.gradcheck(idctn, (x,))
    box = torch.randn(2, 3, 2, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda b: idctn_box(b, (3, 5, 4)), (box,))


def test_bad_input():
    with pytest.raises(TypeError, match="dtype torch.int64"):
        dctn(torch.arange(4))
    with pytest.raises(ValueError, match="dim 3 is out of range"):
        dctn(torch.randn(2, 2), dims=(3,))
    with pytest.raises(ValueError, match="repeated dims"):
        idctn(torch.randn(2, 2), dims=(0, -2))
    with pytest.raises(TypeError, match="torch.Tensor"):
        dctn(np.zeros(3))
    with pytest.raises(ValueError, match="does not fit"):
        idctn_box(torch.randn(4, 4), (3, 8))


@pytest.mark.parametrize(
    "shape,box",
    [
        ((130, 70), (20, 9)),
        ((65, 67), (65, 67)),
        ((200, 3, 3), (5, 2, 3)),
        ((7, 100), (3, 33)),
        ((99, 4, 101), (50, 2, 7)),
    ],
)
def test_symmetric_expansion_matches_full_inverse(shape, box):
    X = torch.zeros(shape, dtype=torch.float64)
    sl = tuple(slice(0, b) for b in box)
    X[sl] = torch.randn(box, dtype=torch.float64)
    np.testing.assert_allclose(
        idctn_box(X[sl], shape).numpy(), scipy.fft.idctn(X.numpy(), norm="ortho"), atol=1e-12, rtol=0
    )


@pytest.mark.parametrize("n", [64, 67])
@pytest.mark.parametrize("last", [False, True])
def test_symmetric_expansion_gradcheck(n, last):
    from freqlib.dct import _SymmetricExpand

    x = torch.randn(9, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: _SymmetricExpand.apply(t, n, last), (x,))


def test_dctn_fft_matches_matrix_dct():
    for shape in [(7,), (4, 9), (5, 6, 3, 3), (2, 1, 4, 4)]:
        x = torch.randn(shape, dtype=torch.float64)
        torch.testing.assert_close(dctn_fft(x), dctn(x), rtol=0, atol=1e-12)
    x = torch.randn(33, 64)
    assert dctn_fft(x).dtype == torch.float32
    torch.testing.assert_close(dctn_fft(x), dctn(x), rtol=0, atol=1e-5)


def test_large_weights_convert_with_the_fft_form():
    import freqlib

    lin = torch.nn.Linear(300, 256).double()  # 76,800 weights: above FFT_CONVERSION_MIN
    w = lin.weight.detach().clone()
    freqlib.frequency_regularize(lin, 1.0)
    torch.testing.assert_close(lin.parametrizations.weight.original, dctn(w), rtol=0, atol=1e-12)
    torch.testing.assert_close(lin.weight, w, rtol=0, atol=1e-12)
