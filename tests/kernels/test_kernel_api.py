"""Both backends provide the same kernels with the same signatures; geometry is computed once."""

import inspect

import pytest

from fastnn.kernels import KERNELS, geometry
from fastnn.kernels import numba as nk
from fastnn.kernels import reference as rk


def test_backends_have_the_same_functions_and_signatures():
    assert len(KERNELS) == len(set(KERNELS)) > 30
    for name in KERNELS:
        assert inspect.signature(getattr(nk, name)) == inspect.signature(getattr(rk, name)), name


@pytest.mark.parametrize("size,k,stride,padding,want", [
    (28, 5, 1, 0, 24), (24, 2, 2, 0, 12), (7, 3, 2, 1, 4), (5, 5, 1, 2, 5), (2, 3, 1, 0, 0)])
def test_out_size(size, k, stride, padding, want):
    assert geometry.out_size(size, k, stride, padding) == want


@pytest.mark.parametrize("k", [1, 3, 5, 7])
def test_same_padding_keeps_the_size(k):
    assert geometry.out_size(17, k, 1, geometry.same_padding(k)) == 17


def test_same_padding_refuses_even_kernels():
    with pytest.raises(ValueError, match='padding="same" needs an odd kernel size, got 4'):
        geometry.same_padding(4)


def test_every_kernel_of_both_backends_is_on_the_backend_object():
    from dataclasses import fields

    from fastnn import backend

    shared = {name for name in dir(nk) if callable(getattr(nk, name)) and not name.startswith("_")
              and callable(getattr(rk, name, None))} | set(KERNELS)
    assert shared == {f.name for f in fields(backend.Kernels)}
    for name, module in (("numba", nk), ("reference", rk)):
        with backend.use_backend(name):
            for kernel in shared:
                assert getattr(backend.kernels(), kernel) is getattr(module, kernel), (name, kernel)
