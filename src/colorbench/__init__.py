"""colorbench: learned image colorization (L -> ab in CIE LAB), and an honest benchmark of it.

>>> import colorbench
>>> colorful = colorbench.colorize("grandma.jpg")   # image files, PIL images, numpy arrays, tensors, or lists
>>> colorbench.colorize_video("film.mp4", "film-colour.mp4")   # needs colorbench[video]  # doctest: +SKIP
"""

import sys
import types

__version__ = "0.1.0"
__all__ = ["colorize", "colorize_video", "__version__"]


class _Package(types.ModuleType):
    """`colorbench.colorize` is the function, imported (with torch) when first used, so that the
    command's `--help` and `--version` answer without loading torch (seconds)."""

    @property
    def colorize(self):
        from .colorize import colorize

        return colorize

    @colorize.setter
    def colorize(self, module):
        pass  # importing the submodule sets the package's attribute of that name: the function stays

    @property
    def colorize_video(self):
        from .video import colorize_video

        return colorize_video


sys.modules[__name__].__class__ = _Package
