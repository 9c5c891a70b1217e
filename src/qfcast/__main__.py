"""``python -m qfcast``: the command line."""

from .cli import main

main()
