"""Spec files: what a good one gives, and the one-line error of each bad one (unknown
parameter, empty range, wrong type, unknown metric, not TOML...), also for random specs."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sweep_data import tiny_spec, write_mat

from fastnn.sweep import spec as sweep_spec
from fastnn.sweep.spec import Range, SpecError


@pytest.fixture
def mat(tmp_path):
    return write_mat(tmp_path / "tiny.mat")


@pytest.fixture
def spec(mat):
    return tiny_spec(mat)


def test_the_repository_spec_is_a_six_point_grid():
    s = sweep_spec.load(sweep_spec.Path(__file__).parents[2] / "sweeps" / "mnist-lr.toml")
    assert s.method == "grid" and s.total() == 6 and s.metric == "val_accuracy"
    assert s.grid()[:2] == [{"lr": 1e-3, "batch_size": 32}, {"lr": 1e-3, "batch_size": 128}]
    options = s.options(s.grid()[0])
    assert options["monitor"] == "val_accuracy" and options["hidden"] == [128]
    args = sweep_spec.parse_options(options)
    assert (args.model, args.hidden, args.lr, args.batch_size, args.epochs) == (
        "mlp", "128", 1e-3, "32", 2)


def test_ranges_and_directions(spec):
    spec["search"] = {"method": "random", "trials": 5, "metric": "val_loss"}
    spec["space"] = {"lr": {"low": 1e-4, "high": 1e-1, "log": True},
                     "l2": {"low": 0, "high": 3}, "dropout": [0.0, 0.5]}
    s = sweep_spec.check(spec)
    assert s.direction == "minimize" and s.total() == 5
    assert s.space["lr"] == Range(1e-4, 1e-1, True) and s.space["l2"].integer


BAD = [  # (change to the tiny spec, the error's words)
    ({"space": {"learning_rate": [0.1]}}, "unknown parameter 'learning_rate'"),
    ({"train": {"widths": 3}}, "[train]: unknown parameter 'widths'"),
    ({"space": {"lr": []}}, "[space] lr is an empty list of choices"),
    ({"space": {"lr": {"low": 0.1, "high": 0.1}}}, "empty range, low 0.1 is not below high"),
    ({"space": {"lr": {"low": 0.0, "high": 0.1, "log": True}}}, "a log range needs low > 0"),
    ({"space": {"lr": {"low": "a", "high": 0.1}}}, "low and high must be numbers"),
    ({"space": {"lr": {"low": 1e-3}}}, "a range is {low = A, high = B"),
    ({"space": {"lr": ["fast"]}}, "lr = 'fast': argument --lr: must be a number"),
    ({"space": {"lr": [-1]}}, "argument --lr: must be a number in (0, inf), got -1"),
    ({"space": {"patience": [1.5]}}, "argument --patience: must be an integer >= 0"),
    ({"train": {"epochs": "two"}}, "argument --epochs: must be an integer >= 1, got 'two'"),
    ({"train": {"augment": 3}}, "augment = 3: a switch, give true or false"),
    ({"train": {"epochs": True}}, "epochs = true: --epochs takes a value"),
    ({"train": {"optimizer": "rmsprop"}}, "argument --optimizer: invalid choice: 'rmsprop'"),
    ({"train": {"momentum": 0.9}}, "--momentum applies to optimizer sgd, not to optimizer adam"),
    ({"train": {"dataset": "cifar"}}, "argument dataset: invalid choice: 'cifar'"),
    ({"space": {"l2": [0], "lr": {"low": 0.1, "high": 0.2}}}, "a grid needs lists of choices"),
    ({"space": {"hidden": [[4]]}}, "hidden is both fixed in [train] and searched in [space]"),
    ({"space": {}}, "[space] is empty"),
    ({"search": {"metric": "f1"}}, "unknown metric 'f1': give one of val_accuracy"),
    ({"search": {"method": "bayes"}}, "method 'bayes': give one of grid, random, tpe"),
    ({"search": {"method": "tpe"}}, "method 'tpe' needs trials = N"),
    ({"search": {"trials": 0}}, "trials must be an integer >= 1, got 0"),
    ({"search": {"direction": "up"}}, "direction 'up': maximize or minimize"),
    ({"search": {"budget": 3}}, "[search] has unknown key(s) budget"),
    ({"sweep": {}}, "unknown table(s) sweep"),
    ({"space": 3}, "[space] must be a table"),
]


@pytest.mark.parametrize("change, words", BAD, ids=[w[:30] for _, w in BAD])
def test_a_bad_spec_is_a_one_line_error(spec, change, words):
    for table, value in change.items():
        spec[table] = value if not isinstance(value, dict) or table == "space" or not value \
            else spec.get(table, {}) | value
    with pytest.raises(SpecError) as e:
        sweep_spec.check(spec, "my.toml")
    message = str(e.value)
    assert message.startswith("my.toml: ") and words in message and "\n" not in message


def test_a_file_that_is_not_toml_or_not_there(tmp_path):
    bad = tmp_path / "spec.toml"
    bad.write_text("[train\nmodel = mlp\n")
    with pytest.raises(SpecError, match=rf"^{bad}: not a TOML file \(") as e:
        sweep_spec.load(bad)
    assert "\n" not in str(e.value)
    bad.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(SpecError, match="cannot read the spec"):
        sweep_spec.load(bad)
    with pytest.raises(SpecError, match="cannot read the spec"):
        sweep_spec.load(tmp_path / "missing.toml")


values = st.recursive(st.none() | st.booleans() | st.integers(-3, 10**6) | st.floats()
                      | st.text(max_size=8),
                      lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(["low", "high", "log", "x"]), inner,
                                        max_size=3), max_leaves=6)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(train=st.dictionaries(st.sampled_from(["epochs", "lr", "hidden", "batch_size", "size",
                                              "augment", "model", "seed"]), values,
                             max_size=3),
       space=st.dictionaries(st.sampled_from(["lr", "dropout", "epochs", "l2", "foo"]), values,
                             min_size=1, max_size=2),
       search=st.dictionaries(st.sampled_from(["method", "trials", "metric", "seed"]), values,
                              max_size=2))
def test_any_spec_is_checked_or_a_one_line_error(train, space, search):
    """Random values anywhere: a Spec, or a SpecError in one line; never another exception."""
    raw = {"train": {"dataset": "mnist"} | train, "space": space, "search": search}
    try:
        s = sweep_spec.check(raw, "r.toml")
    except SpecError as e:
        assert "\n" not in str(e) and str(e).startswith("r.toml: ")
        return
    for point in (s.grid()[:3] if s.method == "grid" else []):
        sweep_spec.parse_options(s.options(point))
