"""One small module per library the benchmarks compare, all with the same interface.

Each module has `NAME`, `unavailable()` (None, or why it cannot run here) and
`threads(n)` (a context manager running the library on `n` threads); training peers have
`make_trainers(task, x, y, batch_size, seed)` returning {label: trainer}, where a trainer
has `epoch_times(n_epochs)` (seconds of each epoch), `predict(x)` (probabilities) and
`note`; inference peers have `make_predictors(weights, task, n_threads)` returning
{label: predict function}. `weights` is Keras' layout: [W0 (in, out), b0, W1, b1, ...].
"""
