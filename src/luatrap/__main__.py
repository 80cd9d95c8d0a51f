"""`python -m luatrap`."""
import sys

from luatrap.cli import main

sys.exit(main())
