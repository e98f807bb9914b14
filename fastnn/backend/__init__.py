"""Backend selection: which implementation of the kernel interface runs the math.

``cpu`` (compiled, the default), ``reference`` (NumPy, the specification) and ``cupy``
(GPU, when CuPy and a device are present). The active backend is held in a ContextVar,
so ``use_backend`` is scoped to the current thread or task.
"""
import contextlib
import contextvars

__all__ = ["get_backend", "set_backend", "use_backend", "available_backends"]

_NAMES = ("cpu", "reference", "cupy")
_instances = {}
_current = contextvars.ContextVar("fastnn_backend", default=None)
_default = {"name": "cpu"}


def _create(name):
    if name == "reference":
        from fastnn.backend.reference import ReferenceBackend
        return ReferenceBackend()
    if name == "cpu":
        from fastnn.backend.cpu import CpuBackend
        return CpuBackend()
    from fastnn.backend.cupy import CupyBackend
    return CupyBackend()


def _resolve(backend):
    if not isinstance(backend, str):
        if hasattr(backend, "name") and hasattr(backend, "matmul"):
            return backend
        raise TypeError(f"`backend` must be one of {list(_NAMES)} or a backend object; "
                        f"got {backend!r}")
    if backend not in _NAMES:
        raise ValueError(f"`backend` must be one of {list(_NAMES)}; got {backend!r}")
    if backend not in _instances:
        _instances[backend] = _create(backend)
    return _instances[backend]


def get_backend():
    """The active backend object (its ``.name`` is 'cpu', 'reference' or 'cupy')."""
    current = _current.get()
    if current is not None:
        return current
    instance = _instances.get(_default["name"])  # created on first use, then cached
    return instance if instance is not None else _resolve(_default["name"])


def set_backend(backend):
    """Make `backend` ('cpu', 'reference' or 'cupy') the active backend.

    Example:
        >>> import fastnn
        >>> fastnn.set_backend("reference"); fastnn.set_backend("cpu")
    """
    obj = _resolve(backend)
    _default["name"] = obj.name
    _current.set(None)
    return obj


@contextlib.contextmanager
def use_backend(backend):
    """Run the block on `backend`, then restore the previous one.

    Example:
        >>> import fastnn
        >>> with fastnn.use_backend("reference"):
        ...     fastnn.get_backend().name
        'reference'
    """
    token = _current.set(_resolve(backend))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def available_backends():
    """Names of the backends that can run here."""
    names = ["reference"]
    try:
        _resolve("cpu")
        names.insert(0, "cpu")
    except ImportError:
        pass
    try:
        _resolve("cupy")
        names.append("cupy")
    except (ImportError, RuntimeError):
        pass
    return names
