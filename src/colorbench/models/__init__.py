"""Models: one file each, registered by name. `create_model("cnn")`, `list_models()`."""

from ._registry import (MODELS, Colorizer, count_params, create_model, forward_flops, list_models, load_model,
                        network_input, register, save_model)

# importing a model file registers it
from . import cnn, hybrid, photo, unet  # noqa: E402,F401

__all__ = ["MODELS", "Colorizer", "count_params", "create_model", "forward_flops", "list_models", "load_model",
           "network_input", "register", "save_model"]
