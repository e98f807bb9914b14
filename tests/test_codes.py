"""The activation and loss codes have one definition, the table in fastnn/_codes.py: the
generated C header and Cython declarations, the compiled module, the Python modules and
the CUDA source all agree with it, and an activation is defined in exactly the places
that fastnn/_codes.py's docstring lists."""
import os
import re
import shutil
import subprocess
import sysconfig

import numpy as np
import pytest

import fastnn
from fastnn import _codes, activations, losses
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


def test_compiled_module_was_built_with_the_table():
    """The enums the C compiler saw (src_c/fnn_codes.h through fnn_codes.pxd) and the C
    kernels' needs_z are the table's: a stale build fails here."""
    built = compiled.built_codes()
    assert built["activations"] == {a.name: a.code for a in _codes.ELEMENTWISE}
    assert built["losses"] == _codes.LOSS_CODES
    assert built["n_act"] == len(_codes.ELEMENTWISE)
    assert built["n_loss"] == len(_codes.LOSSES)
    assert built["needs_z"] == {a.code: a.needs_z for a in _codes.ELEMENTWISE}


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
    assert {loss.name for loss in _codes.LOSSES if loss.logits} == {"SOFTMAX_CCE",
                                                                     "SIGMOID_BCE"}


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
