"""A stack of layers (Dense, Dropout, those of step_norm.pxi) run forward or backward in
one call.

The per-layer Python path of a training step costs several microseconds per kernel call
in method dispatch and buffer lookup; on the small networks fastnn is for, that is as
long as the arithmetic. A StackPlan holds, for one batch size, raw pointers to every
weight, gradient and activation buffer of the stack, so that the whole forward pass is
one call and the whole backward pass another, each running GIL-free from layer to layer.
The maths is that of the layers (fastnn/layers/dense.py, dropout.py); the plan only
removes the Python between the kernels, and the tests compare it with the reference.
"""
import numpy as np
cimport numpy as cnp

from libc.stdint cimport int64_t, uint8_t, uint32_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

from fastnn._kernels.capi cimport (fnn_epilogue, fnn_s_col_sums, fnn_d_col_sums,
                                   fnn_s_softmax_rows, fnn_d_softmax_rows, fnn_take_rows)


cdef class StackPlan:
    """The forward and backward passes of one stack of layers at one batch size.

    Args:
        layers: dicts describing each layer (built by fastnn.models.stack_plan).
        rows: the batch size.
        dtype: numpy.float32 or numpy.float64.
        first_grad: the index of the first layer whose parameters get gradients; no
            gradient is propagated below it.
    """
    cdef Layer *layers
    cdef int n_layers, first_grad
    cdef int64_t rows
    cdef bint dbl
    cdef list _keep          # the arrays the pointers point into
    cdef readonly object output, logits, loss_grad
    # whether every kernel of a forward pass stays on one thread whatever the thread
    # count, so that a caller need not look the count up (a single-sample predict)
    cdef readonly bint single_thread
    # train_step's gathered batch (made on its first call) and per-row losses
    cdef readonly object batch_x, batch_y, batch_w
    cdef object _x_src, _y_src, _w_src   # the arrays last checked by _bind_sources
    cdef double[::1] row_loss
    cdef void *grad_data     # loss_grad's data
    cdef int64_t row0        # the batch row of this plan's first row (see shard_rows)

    def __cinit__(self, list layers, int64_t rows, dtype, int first_grad):
        self.layers = <Layer *>calloc(max(len(layers), 1), sizeof(Layer))
        if self.layers == NULL:
            raise MemoryError()
        self.n_layers = len(layers)
        self.rows = rows
        self.dbl = np.dtype(dtype) == np.float64
        self.first_grad = first_grad
        self._keep = []
        cdef Layer *L
        for i, spec in enumerate(layers):
            L = &self.layers[i]
            L.kind = STEP_KINDS[spec["kind"]]
            L.n_in, L.n_out = spec["n_in"], spec["n_out"]
            L.y = self._buffer(spec["y"])
            L.dx = self._buffer(spec.get("dx"))
            if L.kind == DENSE:
                L.w, L.b = self._buffer(spec["w"]), self._buffer(spec.get("b"))
                L.gw, L.gb = self._buffer(spec["gw"]), self._buffer(spec.get("gb"))
                L.act, L.param = spec["act"], spec["param"]
                L.softmax = spec.get("softmax", 0)
                L.needs_z, L.trainable = spec["needs_z"], spec["trainable"]
                L.k_halves = _k_halves(L, rows)
                L.z = self._buffer(spec.get("z"))
                L.dz = self._buffer(spec.get("dz"))
                _bf16_buffers(L, spec, rows, self._keep)
            elif L.kind != DROPOUT:
                _layer_buffers(L, spec, rows, self._keep)     # step_norm.pxi
            else:
                L.rate, L.seed = spec["rate"], spec["seed"]
                L.layer_index = spec["layer_index"]
                L.mask = <uint8_t *><void *>self._buffer(spec.get("mask"))
        self.single_thread = _single_thread(self.layers, self.n_layers, rows)
        last = layers[len(layers) - 1]
        self.output = last["y"]
        self.logits = last.get("z")
        # d loss / d output (or / d logits): where the loss writes, for backward to read
        self.loss_grad = np.empty_like(self.output)
        self.row_loss = np.empty(rows, np.float64)
        self.grad_data = cnp.PyArray_DATA(<cnp.ndarray>self.loss_grad)

    def __dealloc__(self):
        free(self.layers)

    def shard_rows(self, int64_t row0, int64_t batch_rows):
        """Make this plan's forward pass compute rows row0 .. row0 + rows of a training
        batch of `batch_rows` rows, as a plan of the whole batch computes them: dropout
        draws those rows' masks, and each product takes the whole batch's path
        (_k_halves). Rows of a product are independent of the other rows otherwise,
        given more than FNN_GEMM_FEW_ROWS of them (the caller's rule)."""
        if row0 < 0 or batch_rows < row0 + self.rows:
            raise ValueError(f"rows {row0} .. {row0 + self.rows} do not lie in a batch of "
                             f"{batch_rows} rows")
        self.row0 = row0
        for i in range(self.n_layers):
            self.layers[i].k_halves = _k_halves(&self.layers[i], batch_rows)

    cdef void *_buffer(self, arr) except? NULL:
        """The data pointer of a C-contiguous array (kept alive by the plan), or NULL."""
        if arr is None:
            return NULL
        if not arr.flags.c_contiguous:
            raise ValueError("plan buffers must be C-contiguous")
        self._keep.append(arr)
        return cnp.PyArray_DATA(<cnp.ndarray>arr)

    def forward(self, x, tuple dropout_steps, int n_threads):
        """Run every layer on the batch `x` in training mode; the j-th Dropout or noise
        layer draws at Philox step dropout_steps[j]. Returns the last output (for a softmax
        output kept as logits for a fused loss, `logits` holds them as well)."""
        cdef const void *px = self._buffer_of(x)
        cdef uint32_t steps[64]
        _dropout_steps(dropout_steps, steps)
        with nogil:
            self._forward(px, steps, n_threads)
        _gemm_buffers_ok()
        return self.output

    cdef const void *_buffer_of(self, x) except NULL:
        """The data of a per-call array, checked: (rows, n), C-contiguous, the dtype."""
        if (not isinstance(x, np.ndarray) or cnp.PyArray_NDIM(<cnp.ndarray>x) != 2
                or x.shape[0] != self.rows or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>x)
                or cnp.PyArray_TYPE(<cnp.ndarray>x) != (cnp.NPY_DOUBLE if self.dbl
                                                          else cnp.NPY_FLOAT)):
            raise ValueError(f"`x` must be a C-contiguous ({self.rows}, n) array of the "
                             "plan's dtype")
        return cnp.PyArray_DATA(<cnp.ndarray>x)

    cdef void _forward(self, const void *x, uint32_t *steps, int nt) noexcept nogil:
        cdef fnn_epilogue ep
        cdef int i, j = 0
        cdef Layer *L
        cdef const void *inp = x
        cdef int64_t n
        for i in range(self.n_layers):
            L = &self.layers[i]
            n = self.rows * L.n_out
            if L.kind == DENSE:
                ep.bias = L.b
                ep.saved = NULL
                ep.ld_saved = 0
                ep.act_param = L.param
                if L.z == NULL and L.act >= 0:
                    ep.act = L.act
                    _dense_gemm(self.dbl, L, self.rows, inp, L.y, &ep, nt)
                else:
                    ep.act = 0
                    _dense_gemm(self.dbl, L, self.rows, inp, L.z if L.z != NULL else L.y,
                                &ep, nt)
                    if L.z != NULL:
                        memcpy(L.y, L.z, n * (8 if self.dbl else 4))
                    if L.act >= 0:
                        _act_forward(self.dbl, L.act, L.param, L.y, n, nt)
                    elif self.dbl:
                        fnn_d_softmax_rows(<double *>L.y, self.rows, L.n_out, L.n_out,
                                           L.softmax == 2)
                    else:
                        fnn_s_softmax_rows(<float *>L.y, self.rows, L.n_out, L.n_out,
                                           L.softmax == 2)
            elif L.kind != DROPOUT:
                j += _layer_forward(self.dbl, L, self.rows, inp, steps, j, self.row0, nt)
            elif L.rate > 0:
                _dropout_forward(self.dbl, inp, L.y, L.mask, n, L.rate, L.seed, L.layer_index,
                                 steps[j], nt, self.row0 * L.n_out)
                j += 1
            else:
                memcpy(L.y, inp, n * (8 if self.dbl else 4))
                j += 1
            inp = L.y

    def infer(self, x, out, int n_threads, bint count_nonfinite=False):
        """Inference: run the (dropout-free) stack on `x`, the last layer writing into
        `out`, a C-contiguous (rows, n_out) array of the plan's dtype. Returns how many
        NaN or infinite values `x` holds if `count_nonfinite` (then `out` is garbage
        when that is not 0), else 0."""
        cdef const void *px = self._buffer_of(x)
        cdef void *po = <void *>self._buffer_of(out)
        cdef Layer *last = &self.layers[self.n_layers - 1]
        cdef void *saved_y = last.y
        cdef int64_t bad = 0, n = self.rows * self.layers[0].n_in
        if out.shape[1] != last.n_out:
            raise ValueError(f"`out` must have {last.n_out} columns; got {out.shape[1]}")
        last.y = po
        try:
            with nogil:
                if count_nonfinite:
                    bad = _count_nonfinite(self.dbl, px, n, n_threads)
                self._forward(px, NULL, n_threads)
        finally:
            last.y = saved_y
        _gemm_buffers_ok()
        return bad

    def train_step(self, x, y, sample_weight, const int64_t[::1] indices, int loss_kind,
                   loss_param, bint fused, tuple dropout_steps, ParamGroup group,
                   tuple update, int n_threads):
        """One whole training step in one GIL-free call; returns the batch loss.

        Gathers rows `indices` of `x`, `y` and `sample_weight` (None: all ones) into
        batch_x, batch_y and batch_w; runs forward (Dropout or noise layer j at Philox
        step dropout_steps[j]); the loss `loss_kind` (fastnn/_kernels/losses.pxi) with its
        parameters `loss_param` (one float or a sequence: losses_focal.pxi) and its
        gradient, of the logits when `fused`; backward; and `group.update(*update,
        n_threads)`, whose regularization penalty the returned loss includes. `y` holds integer labels (1-D int64, cross-entropies only) or targets
        shaped as the output. The indices must lie in [0, len(x)): the caller draws them.
        train_steps (fastnn/_kernels/step_train.pxi) runs many such steps in one call.
        """
        cdef StepSources src
        cdef uint32_t steps[64]
        cdef double loss
        cdef const double[::1] loss_params = _loss_params(
            loss_kind, loss_param, self.layers[self.n_layers - 1].n_out)
        if indices.shape[0] != self.rows:
            raise ValueError(f"`indices` must hold {self.rows} rows; got {indices.shape[0]}")
        cdef Scalars scalars
        _scalars(update, &scalars)      # ParamGroup.update's row of values
        if group is not None:
            group.check_rule(scalars.rule)
        self._sources(x, y, sample_weight, loss_kind, &src)
        _dropout_steps(dropout_steps, steps)
        with nogil:
            loss = self._step(&src, &indices[0], steps, loss_kind, &loss_params[0], fused,
                              n_threads)
            if group is not None:
                loss += group._update(&scalars, n_threads)
        _gemm_buffers_ok()
        return loss

    cdef int _sources(self, x, y, sample_weight, int loss_kind, StepSources *src) except -1:
        """Check (once per fit: the same arrays) and point `src` at the arrays a training
        step gathers from and the batch buffers it gathers into."""
        cdef Layer *last = &self.layers[self.n_layers - 1]
        if not (x is self._x_src and y is self._y_src and sample_weight is self._w_src):
            self._bind_sources(x, y, sample_weight)   # once per fit: the same arrays
        src.sparse = y.ndim == 1
        if src.sparse and loss_kind != CCE and loss_kind != SOFTMAX_CCE:
            raise ValueError("integer labels need a cross-entropy loss")
        src.item = 8 if self.dbl else 4
        src.width = self.layers[0].n_in
        src.y_bytes = 8 if src.sparse else last.n_out * src.item
        src.x = <const char *>cnp.PyArray_DATA(<cnp.ndarray>x)
        src.y = <const char *>cnp.PyArray_DATA(<cnp.ndarray>y)
        src.w = (<const char *>cnp.PyArray_DATA(<cnp.ndarray>sample_weight)
                 if sample_weight is not None else NULL)
        src.bx = cnp.PyArray_DATA(<cnp.ndarray>self.batch_x)
        src.by = cnp.PyArray_DATA(<cnp.ndarray>self.batch_y)
        src.bw = (cnp.PyArray_DATA(<cnp.ndarray>self.batch_w)
                  if sample_weight is not None else NULL)
        return 0

    cdef double _step(self, const StepSources *src, const int64_t *idx, uint32_t *steps,
                      int loss_kind, const double *loss_params, bint fused,
                      int nt) noexcept nogil:
        """A training step but the update: gather rows idx, forward, loss, backward."""
        cdef int64_t rows = self.rows
        cdef double loss
        _gather_rows(src.x, src.width * src.item, idx, rows, src.bx,
                     _threads(rows * src.width, nt))
        fnn_take_rows(src.y, src.y_bytes, idx, rows, src.by)
        if src.w != NULL:
            fnn_take_rows(src.w, src.item, idx, rows, src.bw)
        self._forward(src.bx, steps, nt)
        loss = self._loss(loss_kind, loss_params, fused, src.sparse, src.by, src.bw, nt)
        self._backward(src.bx, self.grad_data, fused, nt)
        return loss

    cdef int _check_rows_source(self, a, str name, int64_t width) except -1:
        """`a` is a C-contiguous 2-D array of the plan's dtype with `width` columns."""
        if (not isinstance(a, np.ndarray) or a.ndim != 2 or a.shape[1] != width
                or not a.flags.c_contiguous
                or a.dtype != (np.float64 if self.dbl else np.float32)):
            raise ValueError(f"`{name}` must be a C-contiguous (n, {width}) array of the "
                             "plan's dtype")
        return 0

    cdef int _bind_sources(self, x, y, sample_weight) except -1:
        """Check the arrays train_step gathers from, make the batch buffers for them, and
        remember them: a fit passes the same three arrays at every step."""
        cdef Layer *last = &self.layers[self.n_layers - 1]
        self._x_src = self._y_src = self._w_src = None
        self._check_rows_source(x, "x", self.layers[0].n_in)
        if y.ndim == 1:
            if y.dtype != np.int64 or not y.flags.c_contiguous:
                raise ValueError("integer `y` must be a C-contiguous int64 array")
        else:
            self._check_rows_source(y, "y", last.n_out)
        if len(y) != len(x):
            raise ValueError(f"`y` must have as many rows as x ({len(x)}); got {len(y)}")
        if sample_weight is not None:
            self._check_rows_source(sample_weight.reshape(-1, 1), "sample_weight", 1)
            if len(sample_weight) != len(x):
                raise ValueError(f"`sample_weight` must have as many rows as x ({len(x)}); "
                                 f"got {len(sample_weight)}")
        self._batch_buffers(x, y, sample_weight)
        self._x_src, self._y_src, self._w_src = x, y, sample_weight
        return 0

    cdef int _batch_buffers(self, x, y, sample_weight) except -1:
        """batch_x, batch_y and batch_w, made or remade to suit these arrays."""
        cdef int64_t rows = self.rows
        if self.batch_x is None:
            self.batch_x = np.empty((rows, x.shape[1]), x.dtype)
        if self.batch_y is None or self.batch_y.dtype != y.dtype or self.batch_y.ndim != y.ndim:
            self.batch_y = np.empty((rows,) + y.shape[1:], y.dtype)
        if sample_weight is not None and self.batch_w is None:
            self.batch_w = np.empty(rows, x.dtype)
        return 0

    cdef double _loss(self, int kind, const double *params, bint fused, bint sparse,
                      const void *y, const void *w, int nt) noexcept nogil:
        """The batch loss of the last layer's output (its logits when `fused`) against
        the gathered targets; its gradient goes to loss_grad."""
        cdef Layer *last = &self.layers[self.n_layers - 1]
        cdef const void *pred = last.z if fused else last.y
        cdef void *grad = self.grad_data
        cdef int64_t n_out = last.n_out
        nt = _threads(self.rows * n_out, nt)
        return _loss_untyped(kind, params, self.dbl, sparse, pred, y, w, grad,
                             &self.row_loss[0], self.rows, n_out, nt)

    def backward(self, x, grad, bint grad_is_dz, int n_threads):
        """Backpropagate `grad` (d loss / d output, or / d logits when `grad_is_dz`) from
        the last layer down to `first_grad`, writing each Dense layer's gradients."""
        cdef const void *px = self._buffer_of(x)
        cdef const void *pg = self._buffer_of(grad)
        with nogil:
            self._backward(px, pg, grad_is_dz, n_threads)
        _gemm_buffers_ok()

    cdef void _backward(self, const void *x, const void *grad, bint is_dz,
                        int nt) noexcept nogil:
        cdef fnn_epilogue ep
        cdef int i
        cdef Layer *L
        cdef Layer *P
        cdef const void *g = grad
        cdef const void *inp
        cdef void *dz
        cdef int64_t n
        for i in range(self.n_layers - 1, self.first_grad - 1, -1):
            L = &self.layers[i]
            P = &self.layers[i - 1] if i > 0 else NULL
            inp = P.y if P != NULL else x
            n = self.rows * L.n_out
            if L.kind == DENSE:
                dz = <void *>g
                if not is_dz and L.act > 0:
                    # the last layer's own act', when the loss did not fuse it
                    dz = L.dz
                    _act_backward(self.dbl, L.act, L.param, g, _saved(L), dz, n, nt)
                if L.trainable:
                    _dense_grad_w(self.dbl, L, self.rows, inp, dz, nt)
                    if L.gb != NULL:
                        if self.dbl:
                            fnn_d_col_sums(<const double *>dz, self.rows, L.n_out, L.n_out,
                                           <double *>L.gb)
                        else:
                            fnn_s_col_sums(<const float *>dz, self.rows, L.n_out, L.n_out,
                                           <float *>L.gb)
                if i == self.first_grad:
                    return
                ep.bias = NULL
                ep.act_param = 0.0
                ep.ld_saved = L.n_in
                if _fusable(P) and P.act != 0:
                    ep.act, ep.act_param, ep.saved = P.act, P.param, _saved(P)
                    _dense_grad_x(self.dbl, L, self.rows, dz, &ep, nt)
                else:
                    _dense_grad_x(self.dbl, L, self.rows, dz, NULL, nt)
                is_dz = _fusable(P)
            elif L.kind != DROPOUT:
                _layer_backward(self.dbl, L, P, self.rows, g, is_dz, i > self.first_grad, nt)
                if i == self.first_grad:
                    return
                is_dz = _fusable(P)
            else:
                if i == self.first_grad:
                    return
                if L.rate > 0:
                    if _fusable(P) and P.act != 0:
                        _dropout_backward(self.dbl, g, L.mask, L.rate, _saved(P), P.act, P.param,
                                          L.dx, n, nt)
                    else:
                        _dropout_backward(self.dbl, g, L.mask, L.rate, NULL, -1, 0.0, L.dx, n, nt)
                elif _fusable(P) and P.act != 0:
                    _act_backward(self.dbl, P.act, P.param, g, _saved(P), L.dx, n, nt)
                else:
                    memcpy(L.dx, g, n * (8 if self.dbl else 4))
                is_dz = _fusable(P)
            g = L.dx
