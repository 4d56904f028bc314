"""``python -m remot_train`` (see :mod:`remot_train.cli`)."""

import sys

from remot_train.cli import main

if __name__ == "__main__":
    sys.exit(main())
