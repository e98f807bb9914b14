"""Command line: ``python -m fastnn demo`` and ``python -m fastnn info``."""
import argparse
import sys
import time


def _digits_model():
    from fastnn import layers, models
    model = models.Sequential([layers.Dense(128, activation="relu", input_shape=(784,)),
                               layers.Dropout(0.2),
                               layers.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def demo(args):
    """Train the classic MNIST-shaped classifier on the bundled digits, on `cpu` and on
    `reference`, and print test accuracy and seconds per epoch for each."""
    import fastnn
    from fastnn.datasets import load_digits
    (x_train, y_train), (x_test, y_test) = load_digits(size=28)
    x_train = x_train.reshape(-1, 784).astype("float32") / 255.0
    x_test = x_test.reshape(-1, 784).astype("float32") / 255.0
    print(f"digits: {len(x_train)} training and {len(x_test)} test images, 28x28")
    results = {}
    for backend in args.backends:
        print(f"\n== backend: {backend} ==")
        with fastnn.use_backend(backend):
            fastnn.utils.set_random_seed(args.seed)
            model = _digits_model()
            if backend == args.backends[0]:
                model.summary()
            # every backend's timed fit is the same work: no callbacks
            start = time.perf_counter()
            model.fit(x_train, y_train, epochs=args.epochs, batch_size=32,
                      validation_split=0.1, verbose=args.verbose)
            seconds = (time.perf_counter() - start) / args.epochs
            loss, accuracy = model.evaluate(x_test, y_test, verbose=0)
            results[backend] = (accuracy, seconds)
    print("\nbackend     test accuracy   seconds/epoch")
    for backend, (accuracy, seconds) in results.items():
        print(f"{backend:<11} {accuracy:>13.4f}   {seconds:>13.4f}")
    if len(results) == 2:
        (_, t0), (_, t1) = results.values()
        print(speed_sentence(args.backends[0], t0, args.backends[1], t1))
    if args.report:
        _write_report(args, x_train, y_train, x_test, y_test)
    return 0


def speed_sentence(name, seconds, other, other_seconds):
    """'<name> is N.Nx faster than <other>', or 'N.Nx slower' when it took longer."""
    if seconds <= other_seconds:
        return f"{name} is {other_seconds / seconds:.1f}x faster than {other}"
    return f"{name} is {seconds / other_seconds:.1f}x slower than {other}"


def _write_report(args, x_train, y_train, x_test, y_test):
    """Train the first backend's model once more, untimed, with a per-batch monitor, and
    write the report of that run."""
    import fastnn
    from fastnn.callbacks import TrainingMonitor
    from fastnn.plot.report import write_report
    with fastnn.use_backend(args.backends[0]):
        fastnn.utils.set_random_seed(args.seed)
        model = _digits_model()
        model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, validation_split=0.1,
                  verbose=0, callbacks=[TrainingMonitor(probe=x_train[:256])])
        path = write_report(model, model.history, (x_test, y_test), args.report)
    print(f"report written to {path} (a separate, untimed run with a per-batch monitor)")


def info(args):
    """Print show_config()."""
    import fastnn
    fastnn.show_config()
    return 0


def main(argv=None):
    """Entry point of ``python -m fastnn`` and the ``fastnn`` script."""
    parser = argparse.ArgumentParser(prog="python -m fastnn",
                                     description="fastnn command line")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="train a digits classifier on cpu and reference")
    p_demo.add_argument("--epochs", type=int, default=10)
    p_demo.add_argument("--seed", type=int, default=0)
    p_demo.add_argument("--verbose", type=int, default=1, choices=(0, 1, 2))
    p_demo.add_argument("--backends", nargs="+", default=["cpu", "reference"])
    p_demo.add_argument("--report", metavar="DIR", default=None,
                        help="also write pictures of the trained model into DIR")
    p_demo.set_defaults(func=demo)
    p_info = sub.add_parser("info", help="print the build and runtime configuration")
    p_info.set_defaults(func=info)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
