"""colorbench: learned image colorization (L -> ab in CIE LAB), and an honest benchmark of it."""

__version__ = "0.1.0"
