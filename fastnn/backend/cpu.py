"""The compiled CPU backend: every kernel of the reference, in Cython/C with OpenMP.

Nothing here falls back to NumPy math: if the extension module is missing the import
fails with an ImportError that says how to build them.
"""
import os
import threading

import numpy

from fastnn._codes import LOSSES
from fastnn._threads import get_num_threads, mark_forked_child
from fastnn._validation import (kernel_array as _array, kernel_indices as _indices,
                                kernel_out as _out_of, same_shape as _same_shape)
from fastnn.backend import cpu_quantized
from fastnn.backend.reference import CCE, SOFTMAX_CCE, ReferenceBackend

try:
    from fastnn._kernels import compiled as _k
except ImportError as exc:  # pragma: no cover - only in a broken install
    raise ImportError(
        "fastnn's compiled kernels are missing (" + str(exc) + "). Install fastnn with "
        "`pip install .` (or build in place with `python setup.py build_ext --inplace`); "
        "the 'reference' backend works without them.") from exc

# libgomp's worker threads do not survive fork(): a child process (multiprocessing's
# default start method on Linux) runs the kernels on one thread, unless the runtime could
# release its pool before the fork (OpenMP 5.0's omp_pause_resource_all; libgomp 12
# does not implement it, LLVM's libomp does).
_fork = {"paused": False}


def _before_fork():
    _fork["paused"] = _k.omp_pause()


def _after_fork_in_child():
    if not _fork["paused"]:
        mark_forked_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)

# Below this many elements an element-wise kernel runs on one thread (the same rule as
# PARALLEL_MIN in fastnn/_kernels/compiled.pyx). Measured with benchmarks/bench_threads.py
# on 2-vCPU Zen 4, 1 -> 2 threads, the kernels' threshold lowered for the run: at 4,096
# elements relu' 0.42-0.54x, tanh 0.78x, dropout 0.76x, Adam 0.88x; at 16,384 relu'
# 1.01-1.12x, tanh 1.46-1.65x, dropout 1.57x, Adam 1.44-1.48x (two runs). An earlier
# build measured 16,384 at relu' 0.82x, dropout 1.14x, Adam 1.00x and started at 32,768.
PARALLEL_MIN_ELEMENTS = 1 << 14

_SOFTMAX = {"softmax": False, "log_softmax": True}


def _threads_for(n_elements):
    return get_num_threads() if n_elements >= PARALLEL_MIN_ELEMENTS else 1


class CpuBackend(ReferenceBackend):
    """Compiled kernels (Cython + OpenMP, intrinsics GEMM), GIL released in every one."""

    name = "cpu"
    xp = numpy
    # a product of at most GEMM_FEW_ROWS rows sums in another order (the row kernel):
    # a process's shard of a data-parallel batch has more (fastnn/backend/sharded.py)
    shard_min_rows = _k.GEMM_FEW_ROWS + 1
    quantized_dense_forward = cpu_quantized.quantized_dense_forward

    def __init__(self):
        self._local = threading.local()

    def compile(self, program):
        """The executor of `program`: one fused compiled call per training step (and per
        chunk of rows in inference) where its ops allow it, else layer by layer on these
        kernels (fastnn.backend.compiled_executor)."""
        from fastnn.backend.compiled_executor import CompiledExecutor
        return CompiledExecutor(self, program)

    def param_group(self, params, grads, slots, l1, l2, clip, clip_value):
        """Every parameter's update (the optimizer's rule, each parameter's L1/L2 penalty,
        the clipping) in one GIL-free call: a ParamGroup over these arrays, with `slots`
        a list per slot name of one array per parameter; None where the arrays are not
        of one dtype and C-contiguous (parameters built by fastnn layers are), so each
        parameter is updated by its own call. Any other refusal is a fault and raised."""
        arrays = list(params) + list(grads)
        if not params or not all(a.dtype == arrays[0].dtype and a.flags.c_contiguous
                                 for a in arrays):
            return None
        return _k.ParamGroup(params, grads, *slots, l1=l1, l2=l2, clip=clip,
                             clip_value=clip_value)

    def _row_buffer(self, n):
        buf = getattr(self._local, "rows", None)
        if buf is None or buf.shape[0] < n:
            buf = self._local.rows = numpy.empty(max(n, 256), dtype=numpy.float64)
        return buf[:n]

    def matmul(self, a, b, out=None, transpose_a=False, transpose_b=False, alpha=1.0,
               beta=0.0):
        _array(a, "a", 2, contiguous=False)
        _array(b, "b", 2, a.dtype, contiguous=False)
        m, k = a.shape[::-1] if transpose_a else a.shape
        k2, n = b.shape[::-1] if transpose_b else b.shape
        if k != k2:
            raise ValueError(f"`a` and `b` must have matching inner dimensions; got op(a) "
                             f"of shape {(m, k)} and op(b) of shape {(k2, n)}")
        if out is None:
            out = numpy.empty((m, n), dtype=a.dtype)
        else:
            _out_of(out, "out", (m, n), a.dtype)
            if numpy.may_share_memory(out, a) or numpy.may_share_memory(out, b):
                # the kernel writes `out` while reading a and b: use a temporary
                tmp = out.copy() if beta else numpy.empty_like(out)
                _k.gemm(a, b, tmp, transpose_a, transpose_b, alpha, beta, get_num_threads())
                out[...] = tmp
                return out
        _k.gemm(a, b, out, transpose_a, transpose_b, alpha, beta, get_num_threads())
        return out

    def dense_forward(self, x, w, b, activation, out=None, preact=None):
        _array(x, "x", 2, contiguous=False)
        _array(w, "w", 2, x.dtype, (x.shape[1], None), contiguous=False)
        shape = (x.shape[0], w.shape[1])
        if b is not None:
            _array(b, "b", 1, x.dtype, (w.shape[1],))
        if preact is not None:
            _out_of(preact, "preact", shape, x.dtype)
        if out is None:
            out = numpy.empty(shape, dtype=x.dtype)
        else:
            _out_of(out, "out", shape, x.dtype)
        nt = get_num_threads()
        if activation.name in _SOFTMAX:
            _k.dense_forward(x, w, b, 0, 0.0, out, nt)
            if preact is not None:
                preact[...] = out
            _k.softmax_forward(out, out, _SOFTMAX[activation.name],
                                 _threads_for(out.size))
            return out
        if preact is None:
            _k.dense_forward(x, w, b, activation.code, activation.param, out, nt)
            return out
        _k.dense_forward(x, w, b, 0, 0.0, preact, nt)
        _k.activation_forward(preact, activation.code, activation.param, out,
                                _threads_for(out.size))
        return out

    def dense_backward_input(self, dz, w, activation, saved, out=None):
        _array(dz, "dz", 2, contiguous=False)
        _array(w, "w", 2, dz.dtype, (None, dz.shape[1]), contiguous=False)
        shape = (dz.shape[0], w.shape[0])
        if activation is not None and activation.name != "linear":
            _array(saved, "saved", 2, dz.dtype, shape, contiguous=False)
        if out is None:
            out = numpy.empty(shape, dtype=dz.dtype)
        else:
            _out_of(out, "out", shape, dz.dtype)
        nt = get_num_threads()
        if activation is None or activation.name == "linear":
            _k.dense_backward_input(dz, w, None, 0, 0.0, out, nt)
            return out
        if activation.name in _SOFTMAX:
            _k.dense_backward_input(dz, w, None, 0, 0.0, out, nt)
            return self.activation_backward(activation, out, saved, out=out)
        _k.dense_backward_input(dz, w, saved, activation.code, activation.param,
                                   out, nt)
        return out

    def bias_grad(self, dz, out=None):
        _array(dz, "dz", 2)
        if out is not None:
            _out_of(out, "out", (dz.shape[1],), dz.dtype)
        else:
            out = numpy.empty(dz.shape[1], dtype=dz.dtype)
        _k.bias_grad(dz, out, _threads_for(dz.size))
        return out

    def activation_forward(self, x, activation, out=None):
        _array(x, "x", 2)
        if out is None:
            out = numpy.empty_like(x)
        else:
            _out_of(out, "out", x.shape, x.dtype)
        nt = _threads_for(x.size)
        if activation.name in _SOFTMAX:
            _k.softmax_forward(x, out, _SOFTMAX[activation.name], nt)
            return out
        _k.activation_forward(x, activation.code, activation.param, out, nt)
        return out

    def activation_backward(self, activation, grad, saved, out=None):
        _array(grad, "grad", 2)
        _array(saved, "saved", 2, grad.dtype, grad.shape)
        if out is None:
            out = numpy.empty_like(grad)
        else:
            _out_of(out, "out", grad.shape, grad.dtype)
        nt = _threads_for(grad.size)
        if activation.name in _SOFTMAX:
            _k.softmax_backward(grad, saved, out, _SOFTMAX[activation.name], nt)
            return out
        _k.activation_backward(activation.code, activation.param, grad, saved, out,
                                 nt)
        return out

    def loss_grad(self, kind, param, pred, target, sample_weight=None, grad=None,
                  row_loss=None):
        _array(pred, "pred", 2)
        n = pred.shape[0]
        if type(kind) is not int or not 0 <= kind <= _LAST_LOSS:
            raise ValueError(f"`kind` must be a loss code in [0, {_LAST_LOSS}]; got {kind!r}")
        if sample_weight is not None:
            _array(sample_weight, "sample_weight", 1, pred.dtype, (n,))
        if grad is not None:
            _out_of(grad, "grad", pred.shape, pred.dtype)
        rows = self._row_buffer(n)
        if row_loss is not None:
            _out_of(row_loss, "row_loss", (n,), numpy.float64)
            rows = row_loss
        nt = _threads_for(pred.size)
        if getattr(target, "ndim", None) == 1:
            if kind not in (CCE, SOFTMAX_CCE):
                raise ValueError(f"`target` of integer labels needs a cross-entropy `kind` "
                                 f"({CCE} or {SOFTMAX_CCE}); got kind {kind}")
            _indices(target, "target", pred.shape[1])
            if target.shape[0] != n:
                raise ValueError(f"`target` must have shape ({n},), one label per row of "
                                 f"`pred`; got shape {target.shape}")
            return _k.loss_grad_sparse(kind, pred, target, sample_weight, grad, rows, nt)
        _array(target, "target", 2, pred.dtype, pred.shape)
        return _k.loss_grad(kind, param, pred, target, sample_weight, grad, rows, nt)

    def dropout(self, x, rate, seed, step, layer, out=None, mask=None, first=0):
        _array(x, "x", 2)
        _dropout_scalars(rate, seed, step, layer)
        if type(first) is not int or first < 0:
            raise ValueError(f"`first` must be an int >= 0; got {first!r}")
        if out is None:
            out = numpy.empty_like(x)
        else:
            _out_of(out, "out", x.shape, x.dtype)
        if mask is None:
            mask = numpy.empty(x.shape, dtype=numpy.uint8)
        else:
            _out_of(mask, "mask", x.shape, numpy.uint8)
        _k.dropout_forward(x, rate, seed, layer, step, out, mask, _threads_for(x.size),
                           first)
        return out

    def dropout_backward(self, grad, mask, rate, out=None, activation=None, saved=None):
        _array(grad, "grad", 2)
        _array(mask, "mask", 2, numpy.uint8, grad.shape)
        _dropout_scalars(rate, 0, 0, 0)
        if activation is not None:
            _array(saved, "saved", 2, grad.dtype, grad.shape)
        if out is None:
            out = numpy.empty_like(grad)
        else:
            _out_of(out, "out", grad.shape, grad.dtype)
        if activation is None or activation.code < 0:
            _k.dropout_backward(grad, mask, rate, out, _threads_for(grad.size))
            if activation is not None:  # softmax: row-wise, not fused
                self.activation_backward(activation, out, saved, out=out)
            return out
        _k.dropout_backward(grad, mask, rate, out, _threads_for(grad.size),
                               activation.code, activation.param, saved)
        return out

    def take_rows(self, x, indices, out=None):
        _array(x, "x", 2)
        _indices(indices, "indices", x.shape[0])
        shape = (indices.shape[0], x.shape[1])
        if out is None:
            out = numpy.empty(shape, dtype=x.dtype)
        else:
            _out_of(out, "out", shape, x.dtype)
        _k.take_rows(x, indices, out, _threads_for(out.size))
        return out

    def sgd_update(self, param, grad, velocity, lr, momentum, nesterov, wd_lr):
        _slots(param, grad=grad, velocity=velocity)
        _k.sgd(param.reshape(-1), grad.reshape(-1), _flat(velocity), lr, momentum,
                 nesterov, wd_lr, _threads_for(param.size))
        return param

    def adam_update(self, param, grad, m, v, v_max, alpha, beta_1, beta_2, epsilon, wd_lr):
        _slots(param, grad=grad, m=m, v=v, v_max=v_max)
        _k.adam(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1),
                  _flat(v_max), alpha, beta_1, beta_2, epsilon, wd_lr,
                  _threads_for(param.size))
        return param

    def rmsprop_update(self, param, grad, velocity, average_grad, momentum_buf, lr, rho,
                       momentum, epsilon, wd_lr):
        _slots(param, grad=grad, velocity=velocity, average_grad=average_grad,
               momentum_buf=momentum_buf)
        _k.rmsprop(param.reshape(-1), grad.reshape(-1), velocity.reshape(-1),
                     _flat(average_grad), _flat(momentum_buf), lr, rho, momentum,
                     epsilon, wd_lr, _threads_for(param.size))
        return param

    def adagrad_update(self, param, grad, accumulator, lr, epsilon, wd_lr):
        _slots(param, grad=grad, accumulator=accumulator)
        _k.adagrad(param.reshape(-1), grad.reshape(-1), accumulator.reshape(-1), lr,
                     epsilon, wd_lr, _threads_for(param.size))
        return param

    def adamax_update(self, param, grad, m, u, alpha, beta_1, beta_2, epsilon, wd_lr):
        _slots(param, grad=grad, m=m, u=u)
        _k.adamax(param.reshape(-1), grad.reshape(-1), m.reshape(-1), u.reshape(-1),
                    alpha, beta_1, beta_2, epsilon, wd_lr, _threads_for(param.size))
        return param

    def rule_update(self, param, grad, slots, row):
        """One parameter's update by a ParamGroup rule (fastnn/_codes.py OPTIMIZER_RULES):
        `slots` in the rule's order, `row` its update row; the arithmetic, and so the
        bits, of the update of all parameters at once."""
        _slots(param, grad=grad, **{f"slot{i}": s for i, s in enumerate(slots)})
        flat = [[s.reshape(-1)] for s in slots]
        _k.ParamGroup([param.reshape(-1)], [grad.reshape(-1)], *flat).update(
            *row, _threads_for(param.size))
        return param

    def nadam_update(self, param, grad, m, v, lr, beta_1, beta_2, epsilon, c_m, c_g, c_v,
                     wd_lr):
        _slots(param, grad=grad, m=m, v=v)
        _k.nadam(param.reshape(-1), grad.reshape(-1), m.reshape(-1), v.reshape(-1),
                   lr, beta_1, beta_2, epsilon, c_m, c_g, c_v, wd_lr,
                   _threads_for(param.size))
        return param


def _flat(a):
    return None if a is None else a.reshape(-1)


_LAST_LOSS = len(LOSSES) - 1   # the highest loss code (fastnn/_codes.py numbers them 0..)


def _slots(param, **arrays):
    """Check an optimizer update's arrays: C-contiguous, of the parameter's size and
    dtype (the kernels update them in place through flat views)."""
    if not isinstance(param, numpy.ndarray) or param.dtype not in _FLOATS \
            or not param.flags.c_contiguous or not param.flags.writeable:
        raise ValueError(f"`param` must be a writable C-contiguous float32 or float64 "
                         f"array; got {param!r:.80}")
    _same_shape(arrays.values(), arrays.keys(), param.shape, param.dtype)


_FLOATS = (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64))


def _dropout_scalars(rate, seed, step, layer):
    """Check dropout's scalars against what the kernel takes: rate in [0, 1), a 64-bit
    seed, 32-bit step and layer counters."""
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"`rate` must be a number in [0, 1); got {rate!r}")
    if not 0 <= seed < 1 << 64:
        raise ValueError(f"`seed` must be an int in [0, 2**64 - 1]; got {seed!r}")
    if not (0 <= step < 1 << 32 and 0 <= layer < 1 << 32):
        raise ValueError(f"`step` and `layer` must be ints in [0, 2**32 - 1]; got {step!r} "
                         f"and {layer!r}")
