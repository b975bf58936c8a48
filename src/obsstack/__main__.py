"""python -m obsstack: the same as the `obsstack` command."""
import sys

from .cli import main

sys.exit(main())
