"""``python -m reconify_otel.cli``: the ``reconify-otel`` command without its script."""

import sys

from reconify_otel.cli.main import main

sys.exit(main())
