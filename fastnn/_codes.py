"""The one definition of fastnn's activation, loss and optimizer-rule codes.

Every other place reads its codes from here: fastnn/activations.py, fastnn/losses.py,
fastnn/_optimizer.py (`group_code`) and the backends import this module, and setup.py
runs this file on its own (it imports nothing from fastnn) to write, before every build,
the two generated files:

  * src_c/fnn_codes.h: ``enum fnn_act``, ``enum fnn_loss`` and the X-macro
    ``FNN_ACT_FUNCTIONS(X)`` through which the C element-wise kernels dispatch
    (src_c/eltwise_impl.h, src_c/eltwise.c);
  * fastnn/_kernels/fnn_codes.pxd: the same enums for Cython; the enums of ParamGroup's
    update rules (GROUP_*) and clipping modes (CLIP_*), GROUP_N_RULES,
    GROUP_UPDATE_WIDTH and ``group_rule_slots(rule)``, which only the Cython of
    fastnn/_kernels/optimizers.pxi reads (C has no use for them, so the header does not
    hold them); and ``built_codes()``, the codes as compiled
    (fastnn._kernels.compiled.built_codes()).

The CuPy backend builds the switch of its CUDA kernels from the ``cuda`` and
``cuda_grad`` columns (`cuda_switch`). Both generated files are git-ignored; they are
rewritten only when their text changes, so an unchanged table rebuilds nothing.

How to add an element-wise activation ``foo`` (three files; tests/test_codes.py checks
that the table and the compiled module agree, and the tests of the kernels, the
gradients and the ISAs parametrise over ACTIVATIONS, so they cover ``foo`` unchanged):

  1. fastnn/_codes.py: one row in ACTIVATIONS, with the next free code;
  2. src_c/eltwise_impl.h: ``FN(foo_forward)(REAL z, REAL p)``, returning foo(z), and
     ``FN(foo_backward)(REAL g, REAL s, REAL p)``, returning g * foo'(.) from s, the
     pre-activation z if the row's needs_z is True, else the output y = foo(z);
  3. fastnn/backend/reference.py: its NumPy forward and derivative, in ``_FORWARD``
     and ``_DERIVATIVE``.

``fastnn.activations.foo`` and ``fastnn.activations.get("foo")`` then exist, and Dense,
Activation, the fused GEMM epilogue, dropout's fused backward, the training step and the
CuPy kernels all accept it. A loss is a row in LOSSES and its kernels (the Cython one in
fastnn/_kernels/losses.pxi, the NumPy one in reference.py or reference_losses.py) plus
its class in fastnn/losses.py.

How to add an optimizer ``Foo`` whose compiled training step updates all parameters in
one call (three files; tests/test_codes.py checks that the compiled module was built
with the table's rules and that each optimizer's slots are its rule's):

  a. fastnn/_codes.py: one row in OPTIMIZER_RULES, with the next free code and the
     slots the rule reads, in the order ParamGroup passes them (at most three);
  b. fastnn/_kernels/optimizers.pxi: its chunk function ``_foo_chunk`` (the update of
     n elements, in place) and its case in ``_update_chunk``, which maps the update row
     (lr, decay_1, decay_2, epsilon, wd_lr, c_m, c_g, c_v) onto its arguments;
  c. fastnn/optimizers.py: the class, a subclass of Optimizer with `slot_names` (and
     `_active_slots`, the table row's slots), `_group_args` (its row, first
     ``group_code("GROUP_FOO")``), and `update_step`, the per-parameter update in NumPy
     (``backend.xp``): the reference path, which every backend runs outside the
     compiled training step.

A per-parameter compiled kernel (a backend method ``foo_update`` in
fastnn/backend/reference.py and fastnn/backend/cpu.py, as the built-in optimizers have)
only speeds up updates outside the compiled training step; it is not needed: the cpu
backend's ``rule_update`` runs any rule on one parameter (Adadelta, Lion and Ftrl's
`update_step` call it where the backend has it, and NumPy elsewhere).
"""
from collections import namedtuple

Activation = namedtuple("Activation", "name code default needs_z cuda cuda_grad")
Activation.__doc__ = """One activation function.

    name: the Keras name (fastnn.activations.<name>).
    code: its number in ``enum fnn_act`` (FNN_ACT_<NAME>); -1 for the row-wise ones
        (softmax, log_softmax), which have no element-wise kernel.
    default: the default parameter (leaky_relu's negative slope, elu's alpha).
    needs_z: whether act' is computed from the pre-activation z (True) or from the
        output y (False), which then is all the backward pass keeps.
    cuda: act(z) as a CUDA C expression in the doubles z and p (the parameter).
    cuda_grad: act'(s) as a CUDA C expression in s (z or y, per needs_z) and p, or a
        braced block that returns it.
    The CUDA text may use SCALE, ALPHA (selu's constants) and fnn_sigmoid(double).
    """

Loss = namedtuple("Loss", "name code logits")
Loss.__doc__ = """One loss kernel: `name` (the constant of fastnn.backend.reference,
    FNN_LOSS_<NAME> in C), its `code` in ``enum fnn_loss``, and whether it takes logits
    (the activation of the last layer fused into the loss). A kernel reads its
    parameters (Huber's delta, the focal losses' gamma and alpha) from one float64
    vector, laid out as fastnn/_kernels/losses_focal.pxi lists."""

OptimizerRule = namedtuple("OptimizerRule", "name code slots")
OptimizerRule.__doc__ = """One update rule of ParamGroup (fastnn/_kernels/optimizers.pxi):
    `name` (GROUP_<NAME> in Cython and for `fastnn._optimizer.group_code`), its `code`
    and the names of the `slots` it reads, in the order ParamGroup receives them (the
    optimizer's group_slots)."""

ClipMode = namedtuple("ClipMode", "name code")
ClipMode.__doc__ = """One gradient clipping mode of ParamGroup: `name` (CLIP_<NAME>) and
    its `code`."""

# Code 0, linear, is the identity: the kernels skip it (it has no C functions).
ACTIVATIONS = (
    Activation("linear", 0, 0.0, False, "z", "1.0"),
    Activation("relu", 1, 0.0, False, "z > 0 ? z : 0.0", "s > 0 ? 1.0 : 0.0"),
    Activation("leaky_relu", 2, 0.2, False, "z > 0 ? z : p * z", "s > 0 ? 1.0 : p"),
    Activation("elu", 3, 1.0, False, "z > 0 ? z : p * expm1(z)", "s > 0 ? 1.0 : s + p"),
    Activation("selu", 4, 0.0, False, "SCALE * (z > 0 ? z : ALPHA * expm1(z))",
               "s > 0 ? SCALE : s + SCALE * ALPHA"),
    Activation("gelu", 5, 0.0, True, "0.5 * z * erfc(z * -0.70710678118654752440)",
               "0.5 * erfc(s * -0.70710678118654752440)"
               " + s * 0.39894228040143267794 * exp(-0.5 * s * s)"),
    Activation("silu", 6, 0.0, True, "z * fnn_sigmoid(z)",
               "{ double g = fnn_sigmoid(s); return g * (1.0 + s * (1.0 - g)); }"),
    Activation("sigmoid", 7, 0.0, False, "fnn_sigmoid(z)", "s * (1.0 - s)"),
    Activation("hard_sigmoid", 8, 0.0, False, "fmin(fmax(z / 6.0 + 0.5, 0.0), 1.0)",
               "(s > 0 && s < 1) ? 1.0 / 6.0 : 0.0"),
    Activation("tanh", 9, 0.0, False, "tanh(z)", "1.0 - s * s"),
    Activation("softplus", 10, 0.0, False, "fmax(z, 0.0) + log1p(exp(-fabs(z)))",
               "-expm1(-s)"),
    Activation("softsign", 11, 0.0, False, "z / (1.0 + fabs(z))",
               "{ double a = 1.0 - fabs(s); return a * a; }"),
    Activation("softmax", -1, 0.0, False, None, None),
    Activation("log_softmax", -1, 0.0, False, None, None),
)

LOSSES = (
    Loss("MSE", 0, False),
    Loss("MAE", 1, False),
    Loss("HUBER", 2, False),
    Loss("BCE", 3, False),
    Loss("CCE", 4, False),
    Loss("HINGE", 5, False),
    Loss("KLD", 6, False),
    Loss("SOFTMAX_CCE", 7, True),
    Loss("SIGMOID_BCE", 8, True),
    Loss("MSLE", 9, False),
    Loss("MAPE", 10, False),
    Loss("LOG_COSH", 11, False),
    Loss("POISSON", 12, False),
    Loss("COSINE", 13, False),
    Loss("FOCAL_BCE", 14, False),
    Loss("SIGMOID_FOCAL_BCE", 15, True),
    Loss("FOCAL_CCE", 16, False),
    Loss("SOFTMAX_FOCAL_CCE", 17, True),
)

OPTIMIZER_RULES = (
    OptimizerRule("ADAM", 0, ("m", "v")),
    OptimizerRule("RMSPROP", 1, ("velocity",)),
    OptimizerRule("SGD", 2, ()),
    OptimizerRule("SGD_MOMENTUM", 3, ("momentum",)),
    OptimizerRule("SGD_NESTEROV", 4, ("momentum",)),
    OptimizerRule("ADAM_AMSGRAD", 5, ("m", "v", "v_max")),
    OptimizerRule("RMSPROP_CENTERED", 6, ("velocity", "average_grad")),
    OptimizerRule("RMSPROP_MOMENTUM", 7, ("velocity", "momentum")),
    OptimizerRule("RMSPROP_CENTERED_MOMENTUM", 8, ("velocity", "average_grad", "momentum")),
    OptimizerRule("ADAGRAD", 9, ("accumulator",)),
    OptimizerRule("ADAMAX", 10, ("m", "u")),
    OptimizerRule("NADAM", 11, ("m", "v")),
    OptimizerRule("ADADELTA", 12, ("accumulated_grad", "accumulated_delta_var")),
    OptimizerRule("LION", 13, ("momentum",)),
    OptimizerRule("FTRL", 14, ("accumulator", "linear")),
)

CLIP_MODES = (
    ClipMode("NONE", 0),
    ClipMode("VALUE", 1),          # each value to [-clip, clip]
    ClipMode("NORM", 2),           # each parameter's gradient to L2 norm <= clip
    ClipMode("GLOBAL_NORM", 3),    # all gradients together to L2 norm <= clip
)

# the values of one ParamGroup.update row: rule, lr, decay_1, decay_2, epsilon, wd_lr,
# c_m, c_g, c_v
GROUP_UPDATE_WIDTH = 9
# the most slots a ParamGroup holds (its slots0, slots1, slots2)
GROUP_MAX_SLOTS = 3

# other names get() accepts for an activation
ACTIVATION_ALIASES = {"swish": "silu"}

BY_NAME = {a.name: a for a in ACTIVATIONS}
LOSS_CODES = {loss.name: loss.code for loss in LOSSES}
ELEMENTWISE = tuple(a for a in ACTIVATIONS if a.code >= 0)
ROWWISE = tuple(a for a in ACTIVATIONS if a.code < 0)
# every ParamGroup code by its Cython name (fastnn._optimizer.group_code reads this)
GROUP_CODES = ({f"GROUP_{r.name}": r.code for r in OPTIMIZER_RULES}
               | {f"CLIP_{c.name}": c.code for c in CLIP_MODES}
               | {"GROUP_N_RULES": len(OPTIMIZER_RULES),
                  "GROUP_UPDATE_WIDTH": GROUP_UPDATE_WIDTH})

_GENERATED = "Generated by setup.py from fastnn/_codes.py; edit that file, not this one."


def check():
    """Raise ValueError unless the table is consistent: unique names, and codes that
    number the element-wise activations, the losses, the optimizer rules and the
    clipping modes 0, 1, 2, ... in order."""
    names = [a.name for a in ACTIVATIONS] + list(ACTIVATION_ALIASES)
    if len(set(names)) != len(names):
        raise ValueError(f"activation names repeat: {names}")
    for kind, rows in (("loss", LOSSES), ("optimizer rule", OPTIMIZER_RULES),
                       ("clipping mode", CLIP_MODES)):
        rule_names = [r.name for r in rows]
        if len(set(rule_names)) != len(rule_names):
            raise ValueError(f"{kind} names repeat: {rule_names}")
    for kind, rows in (("activation", ELEMENTWISE), ("loss", LOSSES),
                       ("optimizer rule", OPTIMIZER_RULES), ("clipping mode", CLIP_MODES)):
        codes = [r.code for r in rows]
        if codes != list(range(len(rows))):
            raise ValueError(f"{kind} codes must be 0, 1, 2, ... in order; got {codes}")
    if ELEMENTWISE[0].name != "linear":
        raise ValueError("code 0 must be linear, the identity")
    for a in ACTIVATIONS:
        if (a.cuda is None) != (a.code < 0) or (a.cuda_grad is None) != (a.code < 0):
            raise ValueError(f"{a.name}: element-wise rows (only) need CUDA expressions")
    for r in OPTIMIZER_RULES:
        if (not isinstance(r.slots, tuple) or len(r.slots) > GROUP_MAX_SLOTS
                or len(set(r.slots)) != len(r.slots)):
            raise ValueError(f"optimizer rule {r.name}: `slots` must be a tuple of at most "
                             f"{GROUP_MAX_SLOTS} distinct names; got {r.slots!r}")
    if CLIP_MODES[0].name != "NONE":
        raise ValueError("clipping code 0 must be NONE")
    for name in ("N_RULES", "UPDATE_WIDTH"):
        if name in {r.name for r in OPTIMIZER_RULES}:
            raise ValueError(f"GROUP_{name} is not a rule name")


def c_header():
    """The text of src_c/fnn_codes.h."""
    check()
    act = "\n".join(f"    FNN_ACT_{a.name.upper()} = {a.code}," for a in ELEMENTWISE)
    loss = "\n".join(f"    FNN_LOSS_{r.name} = {r.code}," for r in LOSSES)
    funcs = " \\\n".join(f"    X({a.name.upper()}, {a.name}, {int(a.needs_z)})"
                         for a in ELEMENTWISE[1:])
    return f"""/* {_GENERATED}
 * The codes of the activations and losses, and FNN_ACT_FUNCTIONS(X): X(NAME, name, needs_z)
 * for every element-wise activation but linear (code 0, the identity, which the kernels
 * skip); NAME gives FNN_ACT_NAME, name the C functions FN(name_forward) and
 * FN(name_backward) of src_c/eltwise_impl.h. */
#ifndef FNN_CODES_H
#define FNN_CODES_H

enum fnn_act {{
{act}
}};
#define FNN_N_ACT {len(ELEMENTWISE)}

enum fnn_loss {{
{loss}
}};
#define FNN_N_LOSS {len(LOSSES)}

#define FNN_ACT_FUNCTIONS(X) \\
{funcs}

#endif /* FNN_CODES_H */
"""


def cython_pxd():
    """The text of fastnn/_kernels/fnn_codes.pxd."""
    check()
    act = "\n".join(f"        FNN_ACT_{a.name.upper()}" for a in ELEMENTWISE)
    loss = "\n".join(f"        FNN_LOSS_{r.name}" for r in LOSSES)
    act_dict = ",\n".join(f"            {a.name!r}: FNN_ACT_{a.name.upper()}"
                          for a in ELEMENTWISE)
    loss_dict = ",\n".join(f"            {r.name!r}: FNN_LOSS_{r.name}" for r in LOSSES)
    rule = "\n".join(f"    GROUP_{r.name} = {r.code}" for r in OPTIMIZER_RULES)
    clip = "\n".join(f"    CLIP_{c.name} = {c.code}" for c in CLIP_MODES)
    slots = "\n".join(f"    if rule == GROUP_{r.name}:\n        return {len(r.slots)}"
                      for r in OPTIMIZER_RULES)
    rule_dict = ",\n".join(f"            {r.name!r}: GROUP_{r.name}" for r in OPTIMIZER_RULES)
    clip_dict = ",\n".join(f"            {c.name!r}: CLIP_{c.name}" for c in CLIP_MODES)
    slots_dict = ",\n".join(f"            {r.name!r}: group_rule_slots(GROUP_{r.name})"
                             for r in OPTIMIZER_RULES)
    return f"""# {_GENERATED}
# The codes of src_c/fnn_codes.h for Cython, and the codes of ParamGroup
# (fastnn/_kernels/optimizers.pxi), which only Cython reads.

cdef extern from "fnn_codes.h" nogil:
    enum fnn_act:
{act}
    enum fnn_loss:
{loss}
    enum:
        FNN_N_ACT
        FNN_N_LOSS

# ParamGroup's update rules (OPTIMIZER_RULES) and gradient clipping modes (CLIP_MODES)
cdef enum fnn_group_rule:
{rule}

cdef enum fnn_clip:
{clip}

cdef enum:
    GROUP_N_RULES = {len(OPTIMIZER_RULES)}
    GROUP_UPDATE_WIDTH = {GROUP_UPDATE_WIDTH}


cdef inline int group_rule_slots(int rule) noexcept nogil:
    \"\"\"The number of slots the update rule `rule` reads; -1 for no rule.\"\"\"
{slots}
    return -1


cdef inline dict built_codes():
    \"\"\"The codes as compiled: {{"activations": {{name: code}}, "losses": {{name: code}},
    "optimizer_rules": {{name: code}}, "clip_modes": {{name: code}}, "rule_slots":
    {{name: number of slots}}, and the counts.\"\"\"
    return {{
        "activations": {{
{act_dict},
        }},
        "losses": {{
{loss_dict},
        }},
        "optimizer_rules": {{
{rule_dict},
        }},
        "clip_modes": {{
{clip_dict},
        }},
        "rule_slots": {{
{slots_dict},
        }},
        "n_act": FNN_N_ACT,
        "n_loss": FNN_N_LOSS,
        "n_rules": GROUP_N_RULES,
        "group_update_width": GROUP_UPDATE_WIDTH,
    }}
"""


def cuda_switch(column):
    """The `case code: ...` lines of a CUDA switch over the element-wise activations:
    column "cuda" (act(z)) or "cuda_grad" (act'(s))."""
    lines = []
    for a in ELEMENTWISE:
        text = getattr(a, column)
        body = text if text.lstrip().startswith("{") else f"return {text};"
        lines.append(f"    case {a.code}: {body}")
    return "\n".join(lines)


def cuda_source():
    """The CUDA device functions fnn_act(code, p, z) = act(z) and fnn_dact(code, p, s) =
    act'(s) over every element-wise code, with what the table's expressions may use (the
    CuPy backend's preamble; the text is also valid C, which tests/test_codes.py runs)."""
    check()
    consts = ("    const double SCALE = 1.0507009873554804934193349852946;\n"
              "    const double ALPHA = 1.6732632423543772848170429916717;\n")
    return ("__device__ double fnn_sigmoid(double z) {\n"
            "    return z >= 0 ? 1.0 / (1.0 + exp(-z)) : exp(z) / (1.0 + exp(z));\n"
            "}\n"
            "__device__ double fnn_act(int code, double p, double z) {\n" + consts
            + "    switch (code) {\n" + cuda_switch("cuda") + "\n"
            "    default: return z;\n    }\n}\n"
            "__device__ double fnn_dact(int code, double p, double s) {\n" + consts
            + "    switch (code) {\n" + cuda_switch("cuda_grad") + "\n"
            "    default: return 1.0;\n    }\n}\n")


def write_generated(root):
    """Write the generated files under the source tree `root` (a pathlib.Path) where
    their text changed; returns the paths written."""
    written = []
    for rel, text in (("src_c/fnn_codes.h", c_header()),
                      ("fastnn/_kernels/fnn_codes.pxd", cython_pxd())):
        path = root / rel
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            written.append(path)
    return written
