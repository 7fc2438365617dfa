"""tinyllm: serve tiny language models."""

from .engine import Engine

__version__ = "0.20.0"
__all__ = ["Engine"]
