"""Choosing, per fit, whether a training step runs faster on all threads or on one.

On two cores a training step of a small network is a dozen short kernels; whether
spreading each over both cores pays depends on the batch, the layer widths and the
machine (measured with benchmarks/bench_train.py on a 2-vCPU Zen 4 virtual machine:
T1 at batch 32 ran 0.55 s/epoch on one thread and 0.87 on two, at batch 128 0.39 and
0.27). So instead of a fixed rule, the first steps of each fit alternate between the
two counts in short blocks and the faster one, by median step time, is kept; the
trial is run again every RECHECK_STEPS steps. Every kernel gives the same bits at any
thread count, so the choice never changes the result.
"""
import statistics

WARMUP_STEPS = 4     # first steps: buffers, plans and caches being set up
BLOCK = 8            # steps in a row on one count, so each reaches its steady state
TRIALS = 24          # timed steps per count before choosing
# Steps after which the choice is tried again: a virtual machine's second core can be
# fast for a minute and slow the next (the FMA peak kernel read 117 and 231 GFLOP/s at
# 2 threads a few minutes apart), so a choice made in a slow minute must not hold for
# a whole fit. A trial costs at most TRIALS steps on the slower count.
RECHECK_STEPS = 1000


class ThreadChoice:
    """The thread count for each training step of one fit.

    Args:
        n_threads: fastnn's thread setting; with 1 there is nothing to choose.
    """

    def __init__(self, n_threads):
        self.candidates = (n_threads, 1) if n_threads > 1 else (n_threads,)
        self.chosen = None if n_threads > 1 else n_threads
        self._start_trial(WARMUP_STEPS)

    def _start_trial(self, warmup):
        self.times = {c: [] for c in self.candidates}
        self._step = -warmup     # trial steps count from 0, after the warm-up
        self._current = self.candidates[0]

    def threads(self):
        """The thread count for the next step."""
        if self.chosen is not None:
            return self.chosen
        self._current = self.candidates[(max(self._step, 0) // BLOCK) % len(self.candidates)]
        return self._current

    def steady_steps(self):
        """How many of the next steps run on the chosen count with no timing wanted (0
        while a trial runs): a caller may run them as one block (then `skip`)."""
        if len(self.candidates) == 1:
            return 1 << 62
        return max(RECHECK_STEPS - self._step, 0) if self.chosen is not None else 0

    def skip(self, n_steps):
        """Count `n_steps` untimed steps run on the chosen count (at most steady_steps)."""
        if n_steps > 0:
            self._step += n_steps - 1
            self.record(0.0)   # the last: a recheck falls due as after n_steps records

    def record(self, seconds):
        """Report how long the step run with `threads()` took."""
        self._step += 1
        if len(self.candidates) == 1:
            return
        if self.chosen is not None:
            if self._step >= RECHECK_STEPS:
                self.chosen = None
                self._start_trial(0)
            return
        if self._step > 0:
            self.times[self._current].append(seconds)
        if all(len(t) >= TRIALS for t in self.times.values()):
            self.chosen = min(self.candidates,
                              key=lambda c: statistics.median(self.times[c]))
            self._step = 0
