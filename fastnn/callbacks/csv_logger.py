"""CSVLogger: one CSV row of logs per epoch."""
import csv
import os

from fastnn.callbacks.base import Callback

__all__ = ["CSVLogger"]


class CSVLogger(Callback):
    """Write each epoch's logs as a CSV row: 'epoch' (0-based), then the log names sorted.

    As in Keras, when the first epoch has no validation values, 'val_' columns are added
    for every name and filled with 'NA', so later rows keep the same columns.

    Args:
        filename: the CSV file.
        separator: the field separator (',').
        append: add to an existing file (its header is kept) instead of overwriting.

    Example:
        >>> from fastnn.callbacks import CSVLogger
        >>> logger = CSVLogger("training.csv")
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self.keys = self.writer = self.csv_file = None
        self.append_header = True

    def on_train_begin(self, logs=None):
        self.keys = self.writer = self.csv_file = None
        if not self._writes_files():
            return
        mode = "w"
        if self.append:
            if os.path.exists(self.filename):
                with open(self.filename, encoding="utf-8") as f:
                    self.append_header = not f.readline()
            mode = "a"
        self.keys = self.writer = None
        self.csv_file = open(self.filename, mode, newline="", encoding="utf-8")

    def on_epoch_end(self, epoch, logs=None):
        if self.csv_file is None:     # another process writes the file
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += ["val_" + k for k in self.keys]
        if self.writer is None:
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys,
                                         delimiter=self.sep, lineterminator="\n")
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((key, logs.get(key, "NA")) for key in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()

    def on_train_end(self, logs=None):
        if self.csv_file is not None:
            self.csv_file.close()
        self.csv_file = self.writer = None
