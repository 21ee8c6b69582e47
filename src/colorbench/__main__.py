"""`python -m colorbench` is the `colorbench` command."""

import sys

from .cli import main

sys.exit(main())
