"""The hand-written NumPy peer: a textbook MLP written the way a careful NumPy programmer
would for speed — every array preallocated per batch size, every ufunc with `out=`, the
dropout and ReLU masks folded into one multiply, Adam / RMSprop updated in place."""
import contextlib
import math
import time

import numpy

NAME = "numpy"


def unavailable():
    return None


def threads(n):
    return contextlib.nullcontext()  # the caller's threadpoolctl limit covers the BLAS


def forward(x, weights, activations, outs):
    """Inference: writes each layer's output into `outs` (one array per layer)."""
    a = x
    for i, act in enumerate(activations):
        z = outs[i]
        numpy.matmul(a, weights[2 * i], out=z)
        z += weights[2 * i + 1]
        _activate(z, act)
        a = z
    return a


def _activate(z, act):
    if act == "relu":
        numpy.maximum(z, 0, out=z)
    elif act == "softmax":
        z -= z.max(axis=1, keepdims=True)
        numpy.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
    elif act == "sigmoid":
        numpy.negative(z, out=z)
        numpy.exp(z, out=z)
        z += 1
        numpy.reciprocal(z, out=z)


class _Buffers:
    """Every per-step array for one batch size."""

    def __init__(self, rows, dims, dropout):
        f32 = numpy.float32
        self.x = numpy.empty((rows, dims[0]), f32)
        self.acts = [numpy.empty((rows, d), f32) for d in dims[1:]]
        self.grads = [numpy.empty((rows, d), f32) for d in dims[1:]]
        self.mask = [numpy.empty((rows, d), bool) for d in dims[1:]]
        self.noise = numpy.empty((rows, dims[1]), f32) if dropout else None
        self.rows = numpy.arange(rows)


class NumpyTrainer:
    def __init__(self, task, x, y, batch_size, seed=0):
        self.x, self.y, self.batch_size, self.task = x, y, batch_size, task
        self.rng = numpy.random.default_rng(seed)
        self.dims = [task.n_features] + [u for u, _ in task.layers]
        self.acts = [a for _, a in task.layers]
        self.params = []
        for k, n in zip(self.dims, self.dims[1:]):
            limit = math.sqrt(6.0 / (k + n))  # glorot uniform, as Keras' Dense
            self.params += [self.rng.uniform(-limit, limit, (k, n)).astype(numpy.float32),
                            numpy.zeros(n, numpy.float32)]
        self.pgrads = [numpy.empty_like(p) for p in self.params]
        self.slots = [(numpy.zeros_like(p), numpy.zeros_like(p)) for p in self.params]
        self.tmp = [numpy.empty_like(p) for p in self.params]
        self.buffers, self.t = {}, 0
        self.note = ""

    def epoch_times(self, n_epochs):
        times = []
        for _ in range(n_epochs):
            start = time.perf_counter()
            self.epoch()
            times.append(time.perf_counter() - start)
        return times

    def epoch(self):
        order = self.rng.permutation(len(self.x))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            buf = self.buffers.get(len(idx))
            if buf is None:
                buf = self.buffers[len(idx)] = _Buffers(len(idx), self.dims,
                                                        self.task.dropout)
            numpy.take(self.x, idx, axis=0, out=buf.x)
            self._step(buf, self.y[idx])

    def _step(self, buf, yb):
        p, rate = self.params, self.task.dropout
        a = buf.x
        for i, act in enumerate(self.acts):
            numpy.matmul(a, p[2 * i], out=buf.acts[i])
            buf.acts[i] += p[2 * i + 1]
            _activate(buf.acts[i], act)
            if i == 0 and rate:
                self.rng.random(dtype=numpy.float32, out=buf.noise)
                numpy.greater_equal(buf.noise, rate, out=buf.mask[0])
                buf.acts[0] *= buf.mask[0]
                buf.acts[0] *= 1.0 / (1.0 - rate)
            a = buf.acts[i]
        self._output_grad(buf, yb)
        self._backward(buf)
        self._update()

    def _output_grad(self, buf, yb):
        """Softmax / sigmoid cross-entropy: d(mean loss)/dz = (p - y) / rows."""
        g = buf.grads[-1]
        numpy.copyto(g, buf.acts[-1])
        if self.task.binary:
            g -= yb[:, None]
        else:
            g[buf.rows, yb] -= 1.0
        g *= 1.0 / len(g)

    def _backward(self, buf):
        p, rate = self.params, self.task.dropout
        for i in range(len(self.acts) - 1, -1, -1):
            g = buf.grads[i]
            a_in = buf.x if i == 0 else buf.acts[i - 1]
            numpy.matmul(a_in.T, g, out=self.pgrads[2 * i])
            numpy.sum(g, axis=0, out=self.pgrads[2 * i + 1])
            if i == 0:
                break
            g_in = buf.grads[i - 1]
            numpy.matmul(g, p[2 * i].T, out=g_in)
            # relu' and the dropout mask at once: the (dropped) output is > 0 exactly there
            numpy.greater(a_in, 0, out=buf.mask[i - 1])
            g_in *= buf.mask[i - 1]
            if i == 1 and rate:
                g_in *= 1.0 / (1.0 - rate)

    def _update(self, lr=1e-3, beta1=0.9, beta2=0.999, rho=0.9, eps=1e-7):
        self.t += 1
        adam = self.task.optimizer == "adam"
        if adam:
            lr = lr * math.sqrt(1 - beta2 ** self.t) / (1 - beta1 ** self.t)
        for param, grad, (m, v), tmp in zip(self.params, self.pgrads, self.slots, self.tmp):
            if adam:
                m *= beta1
                numpy.multiply(grad, 1 - beta1, out=tmp)
                m += tmp
            decay = beta2 if adam else rho
            v *= decay
            numpy.multiply(grad, grad, out=tmp)
            tmp *= 1 - decay
            v += tmp
            numpy.sqrt(v, out=tmp)
            tmp += eps
            if adam:
                numpy.divide(m, tmp, out=tmp)
            else:
                numpy.divide(grad, tmp, out=tmp)
            tmp *= lr
            param -= tmp

    def predict(self, x):
        outs = [numpy.empty((len(x), d), numpy.float32) for d in self.dims[1:]]
        return forward(numpy.ascontiguousarray(x, numpy.float32), self.params, self.acts,
                       outs)


def make_trainers(task, x, y, batch_size, seed=0):
    return {NAME: NumpyTrainer(task, x, y, batch_size, seed)}


def make_predictors(weights, task, n_threads):
    acts = [a for _, a in task.layers]
    cache = {}

    def predict(x):
        outs = cache.get(len(x))
        if outs is None:
            outs = cache[len(x)] = [numpy.empty((len(x), u), numpy.float32)
                                    for u, _ in task.layers]
        return forward(x, weights, acts, outs)
    return {NAME: predict}
