"""Models, as in ``keras.models``: Sequential, and reading models back."""
from fastnn.models.functional import Model
from fastnn.models.sequential import Sequential

__all__ = ["Model", "Sequential", "load_model", "model_from_json", "save_model"]

# the model classes a model file or JSON may name
MODEL_CLASSES = {"Sequential": Sequential, "Functional": Model, "Model": Model}


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """The model saved in `filepath` by `model.save`, or written by Keras 3 as a
    ``.keras`` file (see fastnn.saving).

    Args:
        filepath: a ``.keras`` file (Keras 3's format) or a fastnn file (``.fnn``).
        custom_objects: {name: class or function} of your own layers, losses, metrics
            and optimizers named in the file, as in Keras.
        compile: also restore the compile settings and optimizer state.
        safe_mode: refuse serialized code (Lambda layers) with a clear error.

    Example:
        >>> model = fastnn.models.load_model("m.keras")        # doctest: +SKIP
    """
    from fastnn import saving
    return saving.load_model(filepath, compile=compile, model_class=MODEL_CLASSES,
                             custom_objects=custom_objects, safe_mode=safe_mode)


def save_model(model, filepath, overwrite=True):
    """`model.save(filepath)`."""
    from fastnn import saving
    saving.save_model(model, filepath, overwrite=overwrite)


def model_from_json(json_string):
    """A model with the architecture of `model.to_json()` and fresh weights.

    Example:
        >>> clone = fastnn.models.model_from_json(model.to_json())   # doctest: +SKIP
    """
    import json
    try:
        spec = json.loads(json_string)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"`json_string` must be the JSON of model.to_json(); got invalid "
                         f"JSON ({exc})") from None
    if not isinstance(spec, dict) or spec.get("class_name") not in MODEL_CLASSES:
        raise ValueError(f"`json_string` must describe a Sequential or functional "
                         f"model; got class_name "
                         f"{spec.get('class_name') if isinstance(spec, dict) else spec!r}")
    return MODEL_CLASSES[spec["class_name"]].from_config(spec.get("config"))
