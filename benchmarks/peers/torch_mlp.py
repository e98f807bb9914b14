"""The PyTorch peer: nn.Sequential trained by the usual loop (index a shuffled batch,
zero_grad, forward, cross-entropy on the logits, backward, step). Timed with the default
optimizer and with the fused one (`fused=True`, else `foreach=True` where the CPU build
has no fused kernel). Glorot-uniform weights and Keras' optimizer defaults
(lr 1e-3, eps 1e-7, RMSprop rho 0.9), so the accuracy comparison is like for like."""
import contextlib
import time

import numpy

NAME = "torch"


def unavailable():
    try:
        import torch  # noqa: F401
    except ImportError:
        return "torch is not installed (pip install torch)"
    return None


@contextlib.contextmanager
def threads(n):
    import torch
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def build_model(task, seed=0):
    import torch
    from torch import nn
    torch.manual_seed(seed)
    stack, k = [], task.n_features
    for i, (units, act) in enumerate(task.layers):
        linear = nn.Linear(k, units)
        nn.init.xavier_uniform_(linear.weight)
        nn.init.zeros_(linear.bias)
        stack.append(linear)
        if act == "relu":
            stack.append(nn.ReLU())
        if i == 0 and task.dropout:
            stack.append(nn.Dropout(task.dropout))
        k = units
    return nn.Sequential(*stack)  # the softmax / sigmoid lives in the loss


def _optimizer(task, params, mode):
    import torch
    extra = {} if mode == "default" else {mode: True}
    if task.optimizer == "adam":
        return torch.optim.Adam(params, lr=1e-3, eps=1e-7, **extra)
    return torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7, **extra)


def _fused_mode(task):
    """'fused' when this build runs the fused optimizer on the CPU, else 'foreach'."""
    import torch
    p = torch.nn.Parameter(torch.zeros(2))
    p.grad = torch.ones(2)
    try:
        _optimizer(task, [p], "fused").step()
        return "fused"
    except (RuntimeError, TypeError, ValueError):
        return "foreach"


class TorchTrainer:
    def __init__(self, task, x, y, batch_size, seed=0, mode="default"):
        import torch
        self.task, self.batch_size = task, batch_size
        self.model = build_model(task, seed)
        self.opt = _optimizer(task, self.model.parameters(), mode)
        self.x = torch.from_numpy(x)
        self.y = torch.from_numpy(y[:, None] if task.binary else y)
        self.loss = (torch.nn.BCEWithLogitsLoss() if task.binary
                     else torch.nn.CrossEntropyLoss())
        self.note = "" if mode == "default" else f"{task.optimizer}({mode}=True)"

    def epoch_times(self, n_epochs):
        times = []
        for _ in range(n_epochs):
            start = time.perf_counter()
            self.epoch()
            times.append(time.perf_counter() - start)
        return times

    def epoch(self):
        import torch
        self.model.train()
        order = torch.randperm(len(self.x))
        for start in range(0, len(order), self.batch_size):
            idx = order[start:start + self.batch_size]
            xb, yb = self.x.index_select(0, idx), self.y.index_select(0, idx)
            self.opt.zero_grad(set_to_none=True)
            self.loss(self.model(xb), yb).backward()
            self.opt.step()

    def predict(self, x):
        import torch
        self.model.eval()
        with torch.inference_mode():
            logits = self.model(torch.from_numpy(numpy.ascontiguousarray(x, numpy.float32)))
            out = torch.sigmoid(logits) if self.task.binary else torch.softmax(logits, 1)
        return out.numpy()


def make_trainers(task, x, y, batch_size, seed=0):
    mode = _fused_mode(task)
    return {NAME: TorchTrainer(task, x, y, batch_size, seed),
            f"{NAME} {mode}": TorchTrainer(task, x, y, batch_size, seed, mode)}


def make_predictors(weights, task, n_threads):
    import torch
    model = build_model(task).eval()
    linears = [m for m in model if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for i, linear in enumerate(linears):
            linear.weight.copy_(torch.from_numpy(weights[2 * i].T.copy()))
            linear.bias.copy_(torch.from_numpy(weights[2 * i + 1]))
    final = torch.sigmoid if task.binary else (lambda z: torch.softmax(z, 1))

    def predict(x):
        with torch.inference_mode():
            return final(model(torch.from_numpy(x))).numpy()
    return {NAME: predict}
