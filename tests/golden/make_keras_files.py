"""Write tests/golden/keras_files/: model files written by Keras 3 itself, with Keras'
predictions on fixed inputs, that tests/test_keras_files.py loads into fastnn.

Run by hand, where Keras 3 (3.15) with the JAX backend and h5py are installed. From the
repository root:

    KERAS_BACKEND=jax /tmp/kenv/bin/python tests/golden/make_keras_files.py

What is written (float32 models, each trained a little so that no weight is at its
initial value):
  mlp_dropout.keras     Sequential: Input(6) -> Dense(16, relu, L2 kernel regularizer,
                        MaxNorm kernel constraint) -> Dropout(0.3) -> Dense(8, tanh,
                        use_bias=False) -> Dense(3, softmax); Adam, sparse categorical
                        crossentropy, metrics accuracy; 3 epochs
  bn.keras              Sequential: Input(5) -> Dense(8) -> BatchNormalization(momentum=0.8)
                        -> LeakyReLU(0.1) -> Dense(8) -> LayerNormalization -> PReLU
                        -> ReLU -> Dense(2) -> ELU; RMSprop(momentum=0.5, centered), mse
  normalization.keras   Sequential: Input(4) -> Normalization (adapted) -> Rescaling(0.5, 0.25)
                        -> GaussianNoise -> Dense(3, sigmoid); not compiled
  functional.keras      Model of inputs a (4,) and b (2, 3): b -> Flatten -> Reshape((6,))
                        -> GaussianDropout -> AlphaDropout; a -> Dense(6, selu); Add and
                        Concatenate of both branches -> Activation(gelu) -> Dense(3)
                        -> Softmax; SGD(momentum=0.9, nesterov), categorical crossentropy
  resume.keras          Sequential: Input(3) -> Dense(4, relu) -> Dense(1); Adam(0.01), mse,
                        3 training steps; predictions.npz holds the kernels after one more
                        train_on_batch step on resume/x, resume/y
  mlp.weights.h5        model.save_weights of Input(3) -> Dense(4, relu) -> Dense(2)
  custom_loss.keras     Input(2) -> Dense(1), compiled with a registered loss class
                        "fastnn_tests>ScaledMSE" (a plain Keras Loss subclass)
  lambda.keras          Input(2) -> Lambda(lambda x: x * 2) -> Dense(1) (serialized code)
  conv.keras            Input(8, 1) -> Conv1D(2, 3) -> Flatten -> Dense(1): a layer fastnn
                        does not have
  predictions.npz       <name>/x (inputs; functional/a and functional/b) and <name>/y
                        (Keras' predict) for mlp_dropout, bn, normalization, functional,
                        mlp (the weights file); resume/x, resume/y, resume/kernel0,
                        resume/kernel1 (after the extra step)
"""
import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers as L  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "keras_files")
rng = np.random.default_rng(20240607)
keras.utils.set_random_seed(7)
preds = {}


def data(n, *shape):
    return rng.standard_normal((n,) + shape).astype("float32")


def save(model, name, x):
    model.save(os.path.join(OUT, f"{name}.keras"))
    if x is not None:
        xs = x if isinstance(x, list) else [x]
        for key, value in zip(("a", "b") if len(xs) == 2 else ("x",), xs):
            preds[f"{name}/{key}"] = value
        preds[f"{name}/y"] = model.predict(x, verbose=0)


def mlp_dropout():
    model = keras.Sequential([
        keras.Input((6,)),
        L.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(1e-3),
                kernel_constraint=keras.constraints.MaxNorm(3.0)),
        L.Dropout(0.3), L.Dense(8, activation="tanh", use_bias=False),
        L.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.Adam(0.01),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    x = data(64, 6)
    model.fit(x, rng.integers(0, 3, 64), epochs=3, batch_size=16, verbose=0)
    save(model, "mlp_dropout", data(10, 6))


def bn():
    model = keras.Sequential([
        keras.Input((5,)), L.Dense(8), L.BatchNormalization(momentum=0.8),
        L.LeakyReLU(negative_slope=0.1), L.Dense(8), L.LayerNormalization(), L.PReLU(),
        L.ReLU(), L.Dense(2), L.ELU()])
    model.compile(optimizer=keras.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
                  loss="mse")
    model.fit(data(64, 5) * 3 + 1, data(64, 2), epochs=3, batch_size=16, verbose=0)
    save(model, "bn", data(10, 5) * 3 + 1)


def normalization():
    norm = L.Normalization()
    norm.adapt(data(50, 4) * 2 + 5)
    model = keras.Sequential([keras.Input((4,)), norm, L.Rescaling(0.5, offset=0.25),
                              L.GaussianNoise(0.1), L.Dense(3, activation="sigmoid")])
    save(model, "normalization", data(10, 4) * 2 + 5)


def functional():
    a, b = keras.Input((4,), name="a"), keras.Input((2, 3), name="b")
    y = L.AlphaDropout(0.1)(L.GaussianDropout(0.1)(L.Reshape((6,))(L.Flatten()(b))))
    x = L.Dense(6, activation="selu")(a)
    z = L.Concatenate()([L.Add()([x, y]), y])
    out = L.Softmax()(L.Dense(3)(L.Activation("gelu")(z)))
    model = keras.Model([a, b], out)
    model.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                  loss="categorical_crossentropy")
    ya = np.eye(3, dtype="float32")[rng.integers(0, 3, 32)]
    model.fit([data(32, 4), data(32, 2, 3)], ya, epochs=2, batch_size=8, verbose=0)
    save(model, "functional", [data(10, 4), data(10, 2, 3)])


def resume():
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu"), L.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
    x, y = data(8, 3), data(8, 1)
    for _ in range(3):
        model.train_on_batch(x, y)
    save(model, "resume", None)
    xb, yb = data(8, 3), data(8, 1)
    model.train_on_batch(xb, yb)
    preds.update({"resume/x": xb, "resume/y": yb,
                  "resume/kernel0": model.layers[0].kernel.numpy(),
                  "resume/kernel1": model.layers[1].kernel.numpy()})


def weights_only():
    model = keras.Sequential([keras.Input((3,)), L.Dense(4, activation="relu"), L.Dense(2)])
    model.save_weights(os.path.join(OUT, "mlp.weights.h5"))
    x = data(10, 3)
    preds.update({"mlp/x": x, "mlp/y": model.predict(x, verbose=0)})


@keras.saving.register_keras_serializable(package="fastnn_tests")
class ScaledMSE(keras.losses.Loss):
    def __init__(self, scale=2.0, name="scaled_mse", **kwargs):
        super().__init__(name=name, **kwargs)
        self.scale = scale

    def call(self, y_true, y_pred):
        return self.scale * keras.ops.mean((y_true - y_pred) ** 2, axis=-1)

    def get_config(self):
        return {"scale": self.scale, "name": self.name}


def unsupported():
    model = keras.Sequential([keras.Input((2,)), L.Dense(1)])
    model.compile(optimizer="sgd", loss=ScaledMSE(3.0))
    model.save(os.path.join(OUT, "custom_loss.keras"))
    model = keras.Sequential([keras.Input((2,)), L.Lambda(lambda t: t * 2), L.Dense(1)])
    model.save(os.path.join(OUT, "lambda.keras"))
    model = keras.Sequential([keras.Input((8, 1)), L.Conv1D(2, 3), L.Flatten(), L.Dense(1)])
    model.save(os.path.join(OUT, "conv.keras"))


if __name__ == "__main__":
    os.makedirs(OUT, exist_ok=True)
    for make in (mlp_dropout, bn, normalization, functional, resume, weights_only,
                 unsupported):
        make()
    np.savez(os.path.join(OUT, "predictions.npz"), **preds)
    print(f"wrote {sorted(os.listdir(OUT))} to {OUT}")
