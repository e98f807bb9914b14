"""fastnn's compiled kernels, in one extension module.

Each kernel family lives in its own include file; they are compiled together so that the
C kernels of src_c/ (the GEMM, and the element-wise kernels of every instruction set) are
linked once, and so that one run-time ISA choice (src_c/isa.c) serves every family.

    gemm.pxi         GEMM and the fused dense-layer kernels
    activations.pxi  element-wise activations and row-wise softmax
    losses.pxi       loss value and gradient in one pass
    optimizers.pxi   optimizer updates, one call per parameter
    param_group.pxi  every parameter's update in one call (ParamGroup)
    dropout.pxi      dropout from the Philox generator
    philox_normal.pxi  normal draws from the Philox generator (fastnn/_philox.py)
    reduce.pxi       bias gradients and the batch gather
    step_layers.pxi  the layers of a StackPlan and the passes over them
    step_norm.pxi    a StackPlan's BatchNormalization, LayerNormalization, Rescaling and
                     activation layers (their passes: step_norm_rows.pxi)
    step_more.pxi    a StackPlan's Normalization and noise layers
    constraints.pxi  weight constraints, applied after each update of train_steps
    bf16.pxi         the bfloat16 GEMM (src_c/bf16.h) and a StackPlan's bfloat16 products
    quantized.pxi    the int8 GEMM of quantized Dense layers (src_c/qgemm_api.h)
    step.pxi         a Dense/Dropout stack forward or backward in one call (StackPlan)
    step_train.pxi   many training steps of a StackPlan in one call
    threads.pxi      OpenMP facts of the build
    isa.pxi          the run-time instruction-set choice
"""
from libc.stdint cimport int64_t

# Elements per parallel chunk of the element-wise loops: a multiple of 64, so that
# dropout chunks start on a vector of Philox blocks.
cdef int64_t CHUNK = 8192
# Element-wise passes and group updates below this many elements stay on one thread: the
# threshold of the cpu backend (fastnn/backend/cpu.py, with the measurement), measured by
# benchmarks/bench_threads.py.
cdef int64_t PARALLEL_MIN = 1 << 14


cdef inline int _threads(int64_t n, int nt) noexcept nogil:
    """The threads for an element-wise pass over n elements."""
    return nt if n >= PARALLEL_MIN else 1


include "isa.pxi"
include "threads.pxi"
include "gemm.pxi"
include "activations.pxi"
include "losses.pxi"
include "optimizers.pxi"
include "param_group.pxi"
include "dropout.pxi"
include "philox_normal.pxi"
include "reduce.pxi"
include "step_layers.pxi"
include "bf16.pxi"
include "step_norm_rows.pxi"
include "step_norm.pxi"
include "step_more.pxi"
include "constraints.pxi"
include "quantized.pxi"
include "step.pxi"
include "step_train.pxi"
