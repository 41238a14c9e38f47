"""``python -m seasongate``."""

from seasongate.cli import main

main()
