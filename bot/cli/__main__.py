"""`python -m bot.cli run | replay` (what `dev.py run` starts)."""
import sys

from bot.cli import main

sys.exit(main())
