"""Keras and PyTorch habits, written as their users write them: strings for optimizers and
losses, inferred sizes, one-hot labels, metrics, verbose, get/set_weights, train()/eval(),
channels-last images, compile()."""

import numpy as np
import pytest
from conftest import blobs

import fastnn as fn
from fastnn import backend
from fastnn.layers import NotBuiltError


def images(n=24, channels_last=False, seed=0):
    """Two classes of 8x8 RGB images (bright top or bright bottom)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.random((n, 3, 8, 8)).astype(np.float32) * 0.3
    x[y == 0, :, :4] += 0.6
    x[y == 1, :, 4:] += 0.6
    return (x.transpose(0, 2, 3, 1).copy() if channels_last else x), y


def test_optimizer_strings_and_learning_rate():
    x, y = blobs(64)
    for name in ("adam", "sgd", "Adam", "SGD"):
        model = fn.Sequential([fn.Dense(4, 8), fn.ReLU(), fn.Dense(8, 3)])
        model.fit(x, y, optimizer=name, epochs=1, verbose=0)
    assert fn.SGD(learning_rate=0.05).lr == 0.05 and fn.Adam(learning_rate=3e-4).lr == 3e-4
    opt = fn.Adam()
    opt.learning_rate = 0.01
    assert opt.lr == 0.01 and opt.learning_rate == 0.01
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        fn.Sequential([fn.Dense(4, 3)]).fit(x, y, optimizer="rmsprop", verbose=0)
    with pytest.raises(TypeError, match="lr or learning_rate"):
        fn.SGD(0.1, learning_rate=0.2)
    with pytest.raises(ValueError, match="learning rate must be a finite number > 0"):
        fn.Adam(learning_rate=-1)


def test_inferred_sizes_equal_the_written_out_ones():
    x, y = images()
    written = fn.Sequential([fn.Conv2D(3, 4, 3, padding="same"), fn.ReLU(), fn.BatchNorm2D(4),
                             fn.MaxPool2D(2), fn.Flatten(), fn.Dense(64, 16), fn.ReLU(),
                             fn.BatchNorm1D(16), fn.Dense(16, 2)], seed=3)
    inferred = fn.Sequential([fn.Conv2D(4, (3, 3), padding="same"), fn.ReLU(),
                              fn.BatchNorm2D(axis=1), fn.MaxPool2D(pool_size=(2, 2)),
                              fn.Flatten(), fn.Dense(16), fn.ReLU(), fn.BatchNorm1D(),
                              fn.Dense(2)], seed=3)
    assert not inferred.built
    with pytest.raises(NotBuiltError, match="not built yet"):
        inferred.save("never-written.npz")
    with pytest.raises(NotBuiltError, match="give summary\\(input_shape\\)"):
        inferred.summary()
    np.testing.assert_array_equal(inferred.predict(x), written.predict(x))  # built here
    assert inferred.built and repr(inferred) == repr(written)
    assert inferred.summary() == written.summary((3, 8, 8))


def test_keras_sequential_with_add_and_input_shape(tmp_path):
    x, y = images()
    model = fn.Sequential()
    model.add(fn.Conv2D(8, 3, padding="same", input_shape=(3, 8, 8)))
    model.add(fn.Activation("relu"))
    model.add(fn.MaxPool2D(pool_size=2))
    model.add(fn.Flatten())
    model.add(fn.Dense(2))
    assert model.built  # from input_shape, before any data
    assert "(N, 2)" in model.summary()
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
    assert history.history["loss"] == history["loss"] and len(history["accuracy"]) == 3
    loaded = fn.load(model.save(tmp_path / "m.npz"))
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    with pytest.raises(TypeError, match="fastnn has no run_eagerly"):
        model.compile(run_eagerly=True)


def test_activation_arguments_and_the_softmax_output():
    x, y = blobs(64)
    keras = fn.Sequential([fn.Dense(16, activation="relu", input_shape=(4,)),
                           fn.Dense(3, activation="softmax")], seed=4)
    plain = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 3)], seed=4)
    assert repr(keras) == repr(plain) and keras.output_softmax
    np.testing.assert_array_equal(keras.predict(x), plain.predict(x))  # probabilities
    np.testing.assert_allclose(keras.predict(x).sum(axis=1), 1, rtol=1e-5)
    added = fn.Sequential([fn.Conv2D(4, kernel_size=3, activation="tanh"), fn.Flatten(),
                           fn.Dense(2), fn.Activation("softmax")])
    assert [type(layer).__name__ for layer in added.layers] == ["Conv2D", "Tanh", "Flatten",
                                                                "Dense"]
    with pytest.raises(ValueError, match="softmax output .* must be the model's last layer"):
        fn.Sequential([fn.Dense(4, 8), fn.Activation("softmax"), fn.Dense(8, 3)])
    with pytest.raises(ValueError, match="softmax output .* must be the model's last layer"):
        added.add(fn.Dense(2))
    with pytest.raises(ValueError, match="ends in a softmax, which only the cross-entropy"):
        keras.fit(x, y, loss="binary_crossentropy", verbose=0)
    with pytest.raises(ValueError, match="Activation\\('linear'\\) does nothing"):
        fn.Activation("linear")
    with pytest.raises(ValueError, match="Dense activation 'gelu': unknown"):
        fn.Dense(3, activation="gelu")


def test_a_wrong_first_batch_names_the_layer_and_leaves_it_unbuilt():
    model = fn.Sequential([fn.Dense(8), fn.ReLU(), fn.Dense(3)])
    with pytest.raises(fn.ShapeError, match="layer 0 Dense.*add fn.Flatten\\(\\) before it"):
        model.predict(np.zeros((2, 3, 4, 4), np.float32))
    assert not model.built
    assert model.predict(np.zeros((2, 5), np.float32)).shape == (2, 3)
    assert model.layers[0].in_features == 5
    with pytest.raises(ValueError, match="input_shape must be one sample's shape"):
        fn.Dense(3, input_shape=(0, 2))
    with pytest.raises(ValueError, match="fastnn takes square sizes"):
        fn.Conv2D(8, (3, 5))


@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_keras_loss_names_take_one_hot_labels(loss):
    x, y = blobs(64)
    one_hot = np.eye(3, dtype=np.float32)[y]
    a = fn.Sequential([fn.Dense(4, 8), fn.ReLU(), fn.Dense(8, 3)], seed=1)
    b = fn.Sequential([fn.Dense(4, 8), fn.ReLU(), fn.Dense(8, 3)], seed=1)
    ha = a.fit(x, one_hot, loss=loss, optimizer=fn.SGD(0.1), epochs=2, verbose=0,
               validation_data=(x, one_hot))
    hb = b.fit(x, y, optimizer=fn.SGD(0.1), epochs=2, verbose=0, validation_data=(x, y))
    assert ha == hb or ha["loss"] == hb["loss"]
    assert a.evaluate(x, one_hot) == b.evaluate(x, y)
    assert a.loss.name == "cross_entropy"  # saved under fastnn's name
    soft = one_hot * 0.9 + 0.1 / 3
    with pytest.raises(ValueError, match="one-hot rows .* not train on soft labels"):
        a.fit(x, soft, verbose=0)


def test_metrics_show_in_fit_and_history(capsys):
    x, y = blobs(90, k=6)
    model = fn.Sequential([fn.Dense(4, 16), fn.ReLU(), fn.Dense(16, 6)])
    history = model.fit(x, y, optimizer="adam", epochs=2, verbose=2, validation_split=0.2,
                        metrics=["accuracy", "top_k", "top_2"])
    assert list(history) == ["loss", "accuracy", "top_5_accuracy", "top_2_accuracy",
                             "val_loss", "val_accuracy", "val_top_5_accuracy",
                             "val_top_2_accuracy", "lr", "seconds", "first_batch_seconds"]
    for a, t2, t5 in zip(history["val_accuracy"], history["val_top_2_accuracy"],
                         history["val_top_5_accuracy"]):
        assert a <= t2 <= t5 <= 1
    logits = model(x[72:])
    top2 = np.argsort(-logits, axis=1)[:, :2]
    assert history["val_top_2_accuracy"][-1] == pytest.approx(
        np.mean(np.any(top2 == y[72:, None], axis=1)))
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("epoch 1/2: loss ") and "top_2_acc " in lines[0]
    assert "val_top_5_acc " in lines[1]
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        model.fit(x, y, metrics=["f1"], verbose=0)


@pytest.mark.parametrize("verbose, lines", [(0, 0), (2, 3), ("auto", 3)])
def test_verbose_prints_one_line_per_epoch_off_a_terminal(capsys, verbose, lines):
    x, y = blobs(32)
    model = fn.Sequential([fn.Dense(4, 3)])
    model.fit(x, y, epochs=3, verbose=verbose)  # pytest's stderr is no terminal
    captured = capsys.readouterr()
    assert len(captured.out.splitlines()) == lines and captured.err == ""
    with pytest.raises(ValueError, match="verbose must be 0"):
        model.fit(x, y, verbose=3)


def test_verbose_1_draws_the_bar_anywhere(capsys):
    x, y = blobs(32)
    fn.Sequential([fn.Dense(4, 3)]).fit(x, y, epochs=2, verbose=1)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "img" in err


def test_get_and_set_weights():
    x, y = images()
    a = fn.Sequential([fn.Conv2D(3, 4, 3), fn.BatchNorm2D(4), fn.Flatten(), fn.Dense(144, 2)])
    a.fit(x, y, epochs=1, verbose=0)
    weights = a.get_weights()
    assert [w.shape for w in weights] == [(4, 3, 3, 3), (4,), (4,), (4,), (4,), (4,),
                                          (2, 144), (2,)]  # running statistics included
    b = fn.Sequential([fn.Conv2D(3, 4, 3), fn.BatchNorm2D(4), fn.Flatten(), fn.Dense(144, 2)],
                      seed=9)
    b.set_weights(weights)
    np.testing.assert_array_equal(b.predict(x), a.predict(x))
    weights[0][...] = 0  # copies: the model is not changed
    assert np.any(a.get_weights()[0] != 0)
    before = b.get_weights()
    with pytest.raises(ValueError, match="set_weights got 7 arrays; the model has 8"):
        b.set_weights(before[:-1])
    with pytest.raises(ValueError, match="layer3.w is \\(2, 144\\), got an array of"):
        b.set_weights(before[:-2] + [np.zeros((144, 2)), before[-1]])
    for old, new in zip(before, b.get_weights()):
        np.testing.assert_array_equal(old, new)


def test_train_and_eval_modes_as_in_pytorch():
    x = np.ones((4, 10), np.float32)
    model = fn.Sequential([fn.Dense(10, 10), fn.Dropout(0.5)])
    reference = model(x)
    assert model.train() is model and model.training
    dropped = model(x)
    assert np.any(dropped == 0) and not np.array_equal(dropped, reference)
    assert not model.eval().training
    np.testing.assert_array_equal(model(x), reference)
    model.train()
    np.testing.assert_array_equal(model.predict(x), fn.Sequential(
        [fn.Dense(10, 10), fn.Dropout(0.5)]).predict(x))  # predict is always evaluation


def test_channels_last_images(capsys):
    x_first, y = images()
    x_last = x_first.transpose(0, 2, 3, 1).copy()
    layers = lambda: [fn.Conv2D(4, 3), fn.ReLU(), fn.Flatten(), fn.Dense(2)]  # noqa: E731
    first = fn.Sequential(layers(), seed=2)
    last = fn.Sequential(layers(), seed=2, data_format="channels_last")
    np.testing.assert_array_equal(last.predict(x_last), first.predict(x_first))
    assert capsys.readouterr().err == ""  # said so: no note
    guessed = fn.Sequential(layers(), seed=2)
    np.testing.assert_array_equal(guessed.predict(x_last), first.predict(x_first))
    guessed.fit(x_last, y, epochs=1, verbose=0, validation_data=(x_last, y))
    err = capsys.readouterr().err
    assert err.count("channels-last (N, H, W, C) = (N, 8, 8, 3)") == 1
    keras_shape = fn.Sequential([fn.Conv2D(4, 3, input_shape=(8, 8, 3)), fn.Flatten(),
                                 fn.Dense(2)], data_format="channels_last")
    assert keras_shape.layers[0].in_channels == 3
    assert backend.image_data_format() == "channels_first"
    with pytest.raises(ValueError, match='data_format must be "channels_first" or'):
        fn.Sequential([], data_format="NHWC")


def test_keras_tutorial_vgg_in_its_own_words():
    """The Keras tutorial's SmallVGGNet, built as there (with fastnn's layer names), trains on
    channels-last images with one-hot labels and compile()."""
    x, y = images(32, channels_last=True)
    y_one_hot = np.eye(2)[y]
    K = backend
    width, height, depth, classes = 8, 8, 3, 2
    input_shape, chan_dim = (height, width, depth), -1
    if K.image_data_format() == "channels_first":
        input_shape, chan_dim = (depth, height, width), 1
    model = fn.Sequential()
    model.add(fn.Conv2D(8, (3, 3), padding="same", input_shape=input_shape))
    model.add(fn.Activation("relu"))
    model.add(fn.BatchNorm2D(axis=chan_dim))
    model.add(fn.MaxPool2D(pool_size=(2, 2)))
    model.add(fn.Dropout(0.25))
    model.add(fn.Flatten())
    model.add(fn.Dense(16))
    model.add(fn.Activation("relu"))
    model.add(fn.BatchNorm1D())
    model.add(fn.Dropout(0.5))
    model.add(fn.Dense(classes))
    model.add(fn.Activation("softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=fn.SGD(learning_rate=0.05),
                  metrics=["accuracy"])
    H = model.fit(x, y_one_hot, validation_data=(x, y_one_hot), epochs=4, batch_size=8,
                  verbose=0)
    assert set(H.history) >= {"loss", "val_loss", "accuracy", "val_accuracy"}
    predictions = model.predict(x, batch_size=8)
    assert predictions.shape == (32, 2)
    assert np.mean(predictions.argmax(axis=1) == y_one_hot.argmax(axis=1)) > 0.8
