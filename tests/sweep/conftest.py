"""The sweep tests' fixtures: the tiny .mat data and spec of tests/sweep_data.py."""

import pytest
from sweep_data import tiny_spec, write_mat


@pytest.fixture
def mat(tmp_path):
    return write_mat(tmp_path / "tiny.mat")


@pytest.fixture
def spec(mat):
    return tiny_spec(mat)
