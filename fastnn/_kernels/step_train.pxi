# Many training steps of a StackPlan in one call: an epoch's full batches.
#
# On a small network a step's arithmetic takes a few microseconds, and the Python around
# each StackPlan.train_step call (the slice of the epoch's order, the plan's lookup, the
# step counters and the timing) as long again (T4, 8 -> 16 -> 1 at batch 32, 2-vCPU
# Zen 3: 3.4 us in the call, ~12 us a step in fit). Here the loop over the steps is C;
# each step is exactly a train_step (StackPlan._step, then the group update), followed by
# the weight constraints (constraints.pxi) where there are any, so the weights are bit
# for bit those of the one-call-per-step loop and of the layer-by-layer step.


def train_steps(StackPlan plan, x, y, sample_weight, const int64_t[::1] order,
                int64_t start, int loss_kind, loss_param, bint fused,
                tuple dropout_steps, ParamGroup group, const double[:, ::1] updates,
                int n_threads, outputs=None, targets=None, Constraints constraints=None):
    """len(updates) training steps of `plan`, step s on rows order[start + s*rows :
    start + (s+1)*rows], with Dropout or noise layer j at Philox step dropout_steps[j] + s and
    `group.update(*updates[s], n_threads)`; returns each step's batch loss (float64),
    its regularization penalty included.

    The arguments are train_step's (which see), with `updates` an (n_steps,
    GROUP_UPDATE_WIDTH) array of ParamGroup.update's values (or its first 6 columns),
    the rule as a float. The rows must lie in `order`.
    `outputs` and `targets`, when given, receive each step's plan.output and
    plan.batch_y, one after the other (for the metrics of the block): C-contiguous
    arrays of their dtypes holding n_steps times as many values. `constraints`, when
    given, projects the weights it holds after each step's update (as Keras does).
    """
    cdef StepSources src
    cdef uint32_t base[64]
    cdef uint32_t steps[64]
    cdef int64_t n_steps = updates.shape[0], rows = plan.rows, s
    cdef int j, n_drop = len(dropout_steps)
    cdef Scalars scalars
    cdef int64_t width = updates.shape[1]
    cdef bint constrained = constraints is not None
    if width != 6 and width != GROUP_UPDATE_WIDTH:
        raise ValueError(f"`updates` must have {GROUP_UPDATE_WIDTH} (or 6) columns; got "
                         f"{width}")
    if start < 0 or start + n_steps * rows > order.shape[0]:
        raise ValueError(f"{n_steps} steps of {rows} rows from {start} do not fit in "
                         f"`order` ({order.shape[0]} rows)")
    if group is None:
        raise ValueError("`group` must be the optimizer's ParamGroup")
    for s in range(n_steps):
        group.check_rule(<int>updates[s, 0])
    plan._sources(x, y, sample_weight, loss_kind, &src)
    cdef const double[::1] params = _loss_params(loss_kind, loss_param,
                                                 plan.layers[plan.n_layers - 1].n_out)
    _dropout_steps(dropout_steps, base)
    cdef char *keep_out = _block_buffer(outputs, plan.output, n_steps, "outputs")
    cdef char *keep_y = _block_buffer(targets, plan.batch_y, n_steps, "targets")
    cdef const char *last_y = <const char *>cnp.PyArray_DATA(<cnp.ndarray>plan.output)
    cdef int64_t out_bytes = plan.output.nbytes, y_bytes = plan.batch_y.nbytes
    losses = np.empty(n_steps, np.float64)
    cdef double[::1] out = losses
    cdef bint kept = False
    with nogil:
        kept = not constrained and _keep_bf16_weights(plan, group)
        for s in range(n_steps):
            for j in range(n_drop):
                steps[j] = base[j] + <uint32_t>s
            out[s] = plan._step(&src, &order[start + s * rows], steps, loss_kind, &params[0],
                                fused, n_threads)
            scalars.rule = <int>updates[s, 0]
            scalars.lr, scalars.decay_1 = updates[s, 1], updates[s, 2]
            scalars.decay_2 = updates[s, 3]
            scalars.epsilon, scalars.wd_lr = updates[s, 4], updates[s, 5]
            scalars.c_m = updates[s, 6] if width > 6 else 0.0
            scalars.c_g = updates[s, 7] if width > 6 else 0.0
            scalars.c_v = updates[s, 8] if width > 6 else 0.0
            out[s] += group._update(&scalars, n_threads)
            if kept:
                _bf16_weights_fresh(plan)
            if constrained:
                constraints._apply(n_threads)
            if keep_out != NULL:
                memcpy(keep_out + s * out_bytes, last_y, out_bytes)
            if keep_y != NULL:
                memcpy(keep_y + s * y_bytes, src.by, y_bytes)
        if kept:    # between calls the weights may change (set_weights): pack again
            _release_bf16_weights(plan, group)
    _gemm_buffers_ok()
    return losses


cdef bint _keep_bf16_weights(StackPlan plan, ParamGroup group) noexcept nogil:
    """Let each update pack the weights of the bfloat16 Dense layers of `plan` as their
    next forward reads them: each thread packs the rows it updated, in cache, instead of
    the forward packing all of them (T1 at batch 128: a 784 x 128 pack a step). Not
    where weight constraints change the weights after the update. Whether any is kept."""
    cdef int j
    cdef bint any_kept = False
    cdef Layer *L
    for j in range(plan.n_layers):
        L = &plan.layers[j]
        L.wp_kept = L.kind == DENSE and L.bf16 and group._keep_bf16(L.w, L.wp)
        any_kept |= L.wp_kept
    return any_kept


cdef void _bf16_weights_fresh(StackPlan plan) noexcept nogil:
    """After an update: the kept layers' packed weights are current."""
    cdef int j
    for j in range(plan.n_layers):
        if plan.layers[j].wp_kept:
            plan.layers[j].wp_fresh = 1


cdef void _release_bf16_weights(StackPlan plan, ParamGroup group) noexcept nogil:
    """Undo _keep_bf16_weights: the next forward packs its weights itself."""
    cdef int j
    group._drop_bf16()
    for j in range(plan.n_layers):
        plan.layers[j].wp_kept = plan.layers[j].wp_fresh = 0


cdef char *_block_buffer(arr, like, int64_t n_steps, str name) except? NULL:
    """The data of `arr` (None: NULL), checked to hold n_steps copies of array `like`."""
    if arr is None:
        return NULL
    if (not isinstance(arr, np.ndarray) or not arr.flags.c_contiguous
            or arr.dtype != like.dtype or arr.size != n_steps * like.size):
        raise ValueError(f"`{name}` must be a C-contiguous {like.dtype} array of "
                         f"{n_steps * like.size} values")
    return <char *>cnp.PyArray_DATA(<cnp.ndarray>arr)
