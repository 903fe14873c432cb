"""`python -m formcheck` is the `formcheck` command."""

import sys

from formcheck.cli import main

sys.exit(main())
