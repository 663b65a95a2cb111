"""fastnn.backend: small calls on one Numba thread, the same bits whatever the threshold picks."""

import numba
import numpy as np
import pytest

import fastnn as fn
from fastnn import backend

THREADS = numba.get_num_threads()


def test_a_small_block_runs_on_one_thread_and_the_count_comes_back():
    with backend.threads_for(backend.SMALL_CALL_FLOPS - 1):
        assert numba.get_num_threads() == 1
    assert numba.get_num_threads() == THREADS
    with backend.threads_for(backend.SMALL_CALL_FLOPS):
        assert numba.get_num_threads() == THREADS
    with pytest.raises(RuntimeError), backend.threads_for(0):
        raise RuntimeError
    assert numba.get_num_threads() == THREADS


def test_the_reference_backend_is_left_alone(monkeypatch):
    monkeypatch.setattr(numba, "set_num_threads", lambda n: pytest.fail("set_num_threads"))
    with fn.use_backend("reference"), backend.threads_for(0):
        pass


def test_predict_runs_a_small_batch_on_one_thread(monkeypatch):
    model = fn.models.mnist_cnn(0)
    x = np.random.default_rng(0).random((64, 1, 28, 28), dtype=np.float32)
    seen = []
    forward = model.forward
    monkeypatch.setattr(model, "forward", lambda x: seen.append(numba.get_num_threads())
                        or forward(x))
    model.predict(x[:1])  # 1.7 MFLOP
    model.predict(x)  # 64 images: 111 MFLOP
    assert seen == [1, THREADS]
    assert model.forward_flops(x.shape) == 64 * model.forward_flops(x[:1].shape) > 0


@pytest.mark.parametrize("build,sample", [
    (lambda: fn.models.mnist_cnn(0), (1, 28, 28)),
    (lambda: fn.models.cifar_cnn(0), (3, 32, 32)),  # Winograd and gemm layers
    (lambda: fn.models.simple_vgg(3, (3, 16, 16)), (3, 16, 16))])
def test_the_threshold_changes_the_time_not_the_bits(monkeypatch, build, sample):
    model = build()
    x = np.random.default_rng(1).random((5, *sample), dtype=np.float32)
    monkeypatch.setattr(backend, "SMALL_CALL_FLOPS", 0)  # every call on all threads
    parallel = [model.predict(x[:n]) for n in (1, 2, 5)]
    monkeypatch.setattr(backend, "SMALL_CALL_FLOPS", float("inf"))  # every call on one thread
    for n, expected in zip((1, 2, 5), parallel):
        np.testing.assert_array_equal(model.predict(x[:n]), expected)


def test_forward_flops_reads_its_own_shape_not_the_last_one_checked(monkeypatch):
    """Another thread may check another shape in between (a streaming fit checks its batches
    outside the lock)."""
    model = fn.models.mnist_cnn(0)
    check = model.check_shape

    def and_another_thread(shape):
        out = check(shape)
        model.input_shape = (1, 8, 8)  # what another thread's check would leave
        return out

    monkeypatch.setattr(model, "check_shape", and_another_thread)
    assert model.forward_flops((2, 1, 28, 28)) == 2 * 1728896
