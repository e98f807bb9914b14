"""Keras 3's int8 quantization of a small Dense model, stored for tests/test_int8.py.

    KERAS_BACKEND=jax python tests/golden/make_keras_int8_golden.py

Writes tests/golden/int8.npz: the float weights, the int8 kernels and their scales that
``model.quantize("int8")`` makes, and the quantized model's outputs on fixed inputs.
"""
import os

import keras
import numpy as np

rng = np.random.default_rng(8)
model = keras.Sequential([keras.Input((37,)), keras.layers.Dense(19, activation="relu"),
                          keras.layers.Dense(5)])
float_weights = [(1.5 * rng.standard_normal(w.shape)).astype(np.float32)
                 for w in model.get_weights()]
model.set_weights(float_weights)
x = (3 * rng.standard_normal((41, 37))).astype(np.float32)
x[3] = 0.0                       # a row of zeros: scale 127 / 1e-7
float_out = model.predict(x, verbose=0)
model.quantize("int8")
out = model.predict(x, verbose=0)
arrays = {f"float_{i}": w for i, w in enumerate(float_weights)}
for i, layer in enumerate(model.layers):
    arrays[f"kernel_{i}"] = np.asarray(layer._kernel)
    arrays[f"kernel_scale_{i}"] = np.asarray(layer.kernel_scale)
np.savez_compressed(os.path.join(os.path.dirname(__file__), "int8.npz"), x=x, out=out,
                    float_out=float_out, keras_version=keras.__version__, **arrays)
print("wrote int8.npz with Keras", keras.__version__)
