"""A fresh interpreter that imports fastnn as this test session does: the installed copy
or the in-place build, never the uncompiled sources under the current directory (which
`python -c` would put first on sys.path)."""
import os
import subprocess
import sys
import tempfile

import fastnn


def run_python(code, *args, cwd=None, timeout=300, check=False, **env_vars):
    """Run `code` (with `args` as sys.argv[1:]) in a new interpreter, in `cwd` (a
    temporary directory by default), with `env_vars` added to the environment; returns
    the CompletedProcess, its output as text."""
    root = os.path.dirname(os.path.dirname(fastnn.__file__))
    env = dict(os.environ, PYTHONPATH=root, **env_vars)
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env,
                          cwd=cwd or tempfile.gettempdir(), capture_output=True, text=True,
                          timeout=timeout, check=check)
