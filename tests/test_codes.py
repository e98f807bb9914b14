"""The activation, loss and optimizer-rule codes have one definition, the table in
fastnn/_codes.py: the generated C header and Cython declarations, the compiled module,
the Python modules and the CUDA source all agree with it, and an activation is defined
in exactly the places that fastnn/_codes.py's docstring lists."""
import collections
import os
import re
import shutil
import subprocess
import sysconfig

import numpy as np
import pytest

import fastnn
from fastnn import _codes, _optimizer, activations, losses, optimizers
from fastnn._kernels import compiled
from fastnn.backend import cpu, reference

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _source(rel):
    path = os.path.join(ROOT, rel)
    if not os.path.exists(path):
        pytest.skip(f"{rel} is not here (not a source tree)")
    with open(path) as f:
        return f.read()


def test_table_is_consistent():
    _codes.check()
    assert [a.code for a in _codes.ELEMENTWISE] == list(range(len(_codes.ELEMENTWISE)))
    assert all(a.code == -1 for a in _codes.ROWWISE)
    assert [loss.code for loss in _codes.LOSSES] == list(range(len(_codes.LOSSES)))
    assert [r.code for r in _codes.OPTIMIZER_RULES] == list(range(len(_codes.OPTIMIZER_RULES)))
    assert [c.code for c in _codes.CLIP_MODES] == list(range(len(_codes.CLIP_MODES)))
    assert _codes.CLIP_MODES[0].name == "NONE"


@pytest.mark.parametrize("table, row", [
    ("OPTIMIZER_RULES", _codes.OptimizerRule("ADAM", 12, ("m",))),             # repeated name
    ("OPTIMIZER_RULES", _codes.OptimizerRule("FOO", 13, ("m",))),              # skipped code
    ("OPTIMIZER_RULES", _codes.OptimizerRule("FOO", 12, ("a", "b", "c", "d"))),  # 4 slots
    ("OPTIMIZER_RULES", _codes.OptimizerRule("FOO", 12, ("m", "m"))),          # repeated slot
    ("OPTIMIZER_RULES", _codes.OptimizerRule("N_RULES", 12, ())),              # a count's name
    ("CLIP_MODES", _codes.ClipMode("NORM", 4)),                                # repeated name
])
def test_check_refuses_an_inconsistent_optimizer_table(monkeypatch, table, row):
    monkeypatch.setattr(_codes, table, getattr(_codes, table) + (row,))
    with pytest.raises(ValueError):
        _codes.check()


def test_compiled_module_was_built_with_the_table():
    """The enums the C compiler saw (src_c/fnn_codes.h through fnn_codes.pxd) and the C
    kernels' needs_z are the table's: a stale build fails here."""
    built = compiled.built_codes()
    assert built["activations"] == {a.name: a.code for a in _codes.ELEMENTWISE}
    assert built["losses"] == _codes.LOSS_CODES
    assert built["n_act"] == len(_codes.ELEMENTWISE)
    assert built["n_loss"] == len(_codes.LOSSES)
    assert built["needs_z"] == {a.code: a.needs_z for a in _codes.ELEMENTWISE}
    # ParamGroup's codes (the enums of the generated fnn_codes.pxd)
    assert built["optimizer_rules"] == {r.name: r.code for r in _codes.OPTIMIZER_RULES}
    assert built["clip_modes"] == {c.name: c.code for c in _codes.CLIP_MODES}
    assert built["rule_slots"] == {r.name: len(r.slots) for r in _codes.OPTIMIZER_RULES}
    assert built["n_rules"] == len(_codes.OPTIMIZER_RULES)
    assert built["group_update_width"] == _codes.GROUP_UPDATE_WIDTH


def test_param_group_checks_the_tables_slots():
    """The compiled ParamGroup refuses a rule exactly when the group holds fewer slots
    than the table's row names, and refuses the codes past the table's rules."""
    p, g = np.zeros(4), np.zeros(4)
    for held in range(_codes.GROUP_MAX_SLOTS + 1):
        group = compiled.ParamGroup([p.copy()], [g], *[[np.zeros(4)] for _ in range(held)])
        for r in _codes.OPTIMIZER_RULES:
            row = (r.code, 0.0, 0.5, 0.5, 1.0, 0.0, 1.0, 1.0, 1.0, 1)
            if len(r.slots) > held:
                with pytest.raises(ValueError, match="slots"):
                    group.update(*row)
            else:
                group.update(*row)
        with pytest.raises(ValueError, match="GROUP_"):
            group.update(len(_codes.OPTIMIZER_RULES), 0.0, 0.0, 0.0, 1.0, 0.0, 1)


def test_generated_files_are_the_tables_text():
    """setup.py writes them at every build; an edit of the table without a build (or an
    edit of a generated file) fails here."""
    assert _source("src_c/fnn_codes.h") == _codes.c_header()
    assert _source("fastnn/_kernels/fnn_codes.pxd") == _codes.cython_pxd()


def test_python_modules_read_the_table():
    for a in _codes.ACTIVATIONS:
        spec = activations.get(a.name)
        assert (spec.code, spec.param, spec.needs_z) == (a.code, a.default, a.needs_z)
        assert getattr(activations, a.name) == spec
        assert a.name in activations.__all__
    for alias, name in _codes.ACTIVATION_ALIASES.items():
        assert activations.get(alias) == activations.get(name)
        assert getattr(activations, alias) == activations.get(name)
    for loss in _codes.LOSSES:
        assert getattr(reference, loss.name) == loss.code
    assert cpu._LAST_LOSS == max(_codes.LOSS_CODES.values())
    # every loss class of fastnn.losses has a kernel code of the table
    classes = {v for k, v in vars(losses).items()
               if isinstance(v, type) and issubclass(v, losses.Loss) and v is not losses.Loss}
    assert {cls.kind for cls in classes} - {None} <= set(_codes.LOSS_CODES.values())
    # the losses that take logits are the fused ones
    assert {loss.name for loss in _codes.LOSSES if loss.logits} == {
        "SOFTMAX_CCE", "SIGMOID_BCE", "SOFTMAX_FOCAL_CCE", "SIGMOID_FOCAL_BCE"}


def _optimizer_configs():
    """An optimizer for every ParamGroup rule."""
    return [optimizers.SGD(), optimizers.SGD(momentum=0.9),
            optimizers.SGD(momentum=0.9, nesterov=True), optimizers.Adam(),
            optimizers.Adam(amsgrad=True), optimizers.AdamW(), optimizers.RMSprop(),
            optimizers.RMSprop(centered=True), optimizers.RMSprop(momentum=0.5),
            optimizers.RMSprop(centered=True, momentum=0.5), optimizers.Adagrad(),
            optimizers.Adamax(), optimizers.Nadam(), optimizers.Adadelta(),
            optimizers.Lion(), optimizers.Ftrl()]


def test_optimizers_read_the_table():
    """The Python side takes ParamGroup's codes from the table alone: group_code is the
    table's GROUP_CODES, the optimizer modules import no compiled code, the compiled
    module defines no codes of its own for Python, and each optimizer's rule reads the
    slots that the table's row names, in that order."""
    for name, code in _codes.GROUP_CODES.items():
        assert _optimizer.group_code(name) == code
    assert _codes.GROUP_CODES["GROUP_N_RULES"] == len(_codes.OPTIMIZER_RULES)
    assert _codes.GROUP_CODES["GROUP_UPDATE_WIDTH"] == _codes.GROUP_UPDATE_WIDTH
    for rel in ("fastnn/_optimizer.py", "fastnn/optimizers.py"):
        assert not re.search(r"^\s*(from|import)\s+fastnn\._kernels|\bimport compiled\b",
                             _source(rel), re.M), rel
    assert not [k for k in dir(compiled) if re.match(r"(GROUP|CLIP)_[A-Z_]+$", k)]
    by_code = {r.code: r for r in _codes.OPTIMIZER_RULES}
    reached = set()
    for opt in _optimizer_configs():
        row = opt._group_args(collections.defaultdict(float), 0.0)
        assert len(row) == _codes.GROUP_UPDATE_WIDTH, opt
        rule = by_code[row[0]]
        assert tuple(opt.group_slots) == rule.slots, (opt, rule)
        reached.add(rule.name)
    assert reached == {r.name for r in _codes.OPTIMIZER_RULES}
    clips = {"clipvalue": "VALUE", "clipnorm": "NORM", "global_clipnorm": "GLOBAL_NORM"}
    codes = {c.name: c.code for c in _codes.CLIP_MODES}
    assert optimizers.SGD()._clip_setting() == (codes["NONE"], 0.0)
    for arg, name in clips.items():
        assert optimizers.SGD(**{arg: 0.5})._clip_setting() == (codes[name], 0.5)


def test_every_optimizer_rule_is_defined_in_the_places_the_table_names():
    """The places of "how to add an optimizer" (fastnn/_codes.py's docstring), and no
    hand-written codes left in the Cython that used to define them."""
    places = re.findall(r"^  [a-z]\. (\S+):", _codes.__doc__, re.M)
    assert places == ["fastnn/_codes.py", "fastnn/_kernels/optimizers.pxi",
                      "fastnn/optimizers.py"]
    pxi = _source("fastnn/_kernels/optimizers.pxi")
    assert not re.search(r"\bcpdef enum\b|\b(GROUP|CLIP)_[A-Z_]+ = \d", pxi)
    dispatch = pxi[pxi.index("cdef inline void _update_chunk("):]
    for r in _codes.OPTIMIZER_RULES:
        assert re.search(rf"\bGROUP_{r.name}\b", dispatch), r.name


def test_every_activation_is_defined_in_the_places_the_table_names():
    """The three places of "how to add an activation" (fastnn/_codes.py's docstring) hold
    every activation of the table, and no other file names one of them in code."""
    doc = _codes.__doc__
    places = re.findall(r"^  \d\. (\S+):", doc, re.M)
    assert places == ["fastnn/_codes.py", "src_c/eltwise_impl.h",
                      "fastnn/backend/reference.py"]
    impl = _source("src_c/eltwise_impl.h")
    for a in _codes.ELEMENTWISE[1:]:   # linear is the identity: no C functions
        assert f"FN({a.name}_forward)(REAL z, REAL p)" in impl, a.name
        assert re.search(rf"FN\({a.name}_backward\)\(REAL g, REAL \w+, REAL p\)", impl), a.name
    for a in _codes.ELEMENTWISE:   # softmax and log_softmax are row-wise kernels of their own
        assert a.name in reference._FORWARD and a.name in reference._DERIVATIVE, a.name
    # nowhere else: no hand-written enum, list of codes or dispatch on names left in the
    # files that used to hold them
    others = ["src_c/fastnn.h", "src_c/eltwise.c", "src_c/eltwise_isa.h",
              "fastnn/_kernels/capi.pxd", "fastnn/_kernels/activations.pxi",
              "fastnn/_kernels/losses.pxi", "fastnn/activations.py", "fastnn/backend/cpu.py",
              "fastnn/backend/cupy.py"]
    for rel in others:
        text = _source(rel)
        for a in _codes.ELEMENTWISE[1:]:
            assert not re.search(rf"[\"']{a.name}[\"']|FNN_ACT_{a.name.upper()}\b", text), (
                rel, a.name)
        assert not re.search(r"\bcase \d+:", text), rel


def test_every_activation_runs_on_every_backend():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((4, 5))
    for name in fastnn.backend.available_backends():
        with fastnn.use_backend(name):
            for a in _codes.ACTIVATIONS:
                y = activations.get(a.name)(x)
                assert np.all(np.isfinite(np.asarray(y))), (name, a.name)


def test_cuda_source_agrees_with_the_reference():
    """The CUDA device functions the CuPy backend compiles, built from the table, are
    also C: compiled here for the host and run on every element-wise code, they give the
    reference's act and act' (so the table's CUDA column is checked without a GPU)."""
    cc = shutil.which(os.environ.get("CC") or sysconfig.get_config_var("CC").split()[0]
                      or "cc") or shutil.which("cc")
    if cc is None:
        pytest.skip("no C compiler")
    z = np.array([-7.5, -3.0, -1.25, -0.3, -1e-3, 0.0, 1e-3, 0.4, 1.0, 2.5, 3.0, 8.0])
    param = 0.35
    ref = reference.ReferenceBackend()
    main = ["int main(void) {",
            f"    static const double z[{z.size}] = {{{', '.join(map(repr, z.tolist()))}}};",
            "    for (int c = 0; c < %d; c++)" % len(_codes.ELEMENTWISE),
            f"        for (int i = 0; i < {z.size}; i++) {{",
            f"            double y = fnn_act(c, {param!r}, z[i]);",
            f"            printf(\"%.17g %.17g %.17g\\n\", y, fnn_dact(c, {param!r}, z[i]),"
            f" fnn_dact(c, {param!r}, y));",
            "        }",
            "    return 0;", "}"]
    src = ("#include <math.h>\n#include <stdio.h>\n"
           + _codes.cuda_source().replace("__device__ ", "static ") + "\n".join(main))
    work = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"fastnn_cuda_as_c_{os.getpid()}")
    os.makedirs(work, exist_ok=True)
    with open(os.path.join(work, "act.c"), "w") as f:
        f.write(src)
    exe = os.path.join(work, "act")
    subprocess.run([cc, "-O0", "-std=c99", "-o", exe, os.path.join(work, "act.c"), "-lm"],
                   check=True, capture_output=True)
    out = np.loadtxt(subprocess.run([exe], check=True, capture_output=True,
                                    text=True).stdout.splitlines())
    shutil.rmtree(work, ignore_errors=True)
    out = out.reshape(len(_codes.ELEMENTWISE), z.size, 3)
    for a in _codes.ELEMENTWISE:
        spec = activations.get({"name": a.name, "param": param})
        y = ref.activation_forward(z.reshape(1, -1), spec).ravel()
        saved = z if a.needs_z else y
        d = ref.activation_backward(spec, np.ones((1, z.size)), saved.reshape(1, -1)).ravel()
        np.testing.assert_allclose(out[a.code, :, 0], y, rtol=1e-13, atol=1e-300,
                                   err_msg=a.name)
        got_d = out[a.code, :, 1] if a.needs_z else out[a.code, :, 2]
        np.testing.assert_allclose(got_d, d, rtol=1e-12, atol=1e-15, err_msg=a.name)
