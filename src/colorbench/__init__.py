"""colorbench: learned image colorization (L -> ab in CIE LAB), and an honest benchmark of it.

>>> import colorbench
>>> colorful = colorbench.colorize(gray_pil_image)   # PIL images, numpy arrays, tensors, or lists of them
"""

__version__ = "0.1.0"

from .colorize import colorize  # noqa: E402  (the function: `colorbench.colorize(image) -> image`)

__all__ = ["colorize", "__version__"]
