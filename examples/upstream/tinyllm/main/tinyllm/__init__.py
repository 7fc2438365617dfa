"""tinyllm: serve tiny language models."""

from .engine import Engine

__version__ = "0.21.0.dev0"
__all__ = ["Engine"]
