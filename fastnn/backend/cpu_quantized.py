"""The cpu backend's int8 kernels: the compiled int8 GEMM (fastnn/_kernels/quantized.pxi,
src_c/qgemm_*.c), bound into CpuBackend."""
import numpy

from fastnn._threads import get_num_threads
from fastnn._validation import kernel_array as _array, kernel_out as _out_of

_SOFTMAX = {"softmax": 1, "log_softmax": 2}


def quantized_dense_forward(self, x, kernel, kernel_scale, b, activation, out=None):
    """out := act(float32(q(x) @ kernel) / (kernel_scale * x_scale) + b) on the int8
    kernel of the instruction set in use (the reference's quantized_dense_forward)."""
    from fastnn._kernels import compiled as _k
    _array(x, "x", 2, numpy.float32, contiguous=False)
    _array(kernel, "kernel", 2, numpy.int8, (x.shape[1], None))
    units = kernel.shape[1]
    _array(kernel_scale, "kernel_scale", 1, numpy.float32, (units,))
    if b is not None:
        _array(b, "b", 1, numpy.float32, (units,))
    shape = (x.shape[0], units)
    if out is None:
        out = numpy.empty(shape, numpy.float32)
    else:
        _out_of(out, "out", shape, numpy.float32)
    softmax = _SOFTMAX.get(activation.name, 0)
    _k.q8_dense(x, kernel, kernel_scale, b, 0 if softmax else activation.code,
                float(activation.param), softmax, out, get_num_threads())
    return out


def forget_packed(kernel):
    """Drop the compiled int8 kernel's packed copy of `kernel` (about to be rewritten)."""
    try:
        from fastnn._kernels import compiled as _k
    except ImportError:      # the reference backend alone: nothing was packed
        return
    _k.q8_forget(kernel)
