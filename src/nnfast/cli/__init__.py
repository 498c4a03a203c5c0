"""The ``nnfast`` command: every subcommand lives here, and nothing else in the
package imports this folder (it sits on top: it imports the book's modules and
the data layer, never the other way round)."""
from .main import main

__all__ = ["main"]
