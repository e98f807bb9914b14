"""Models, as in ``keras.models``."""
from fastnn.models.sequential import Sequential

__all__ = ["Sequential"]
