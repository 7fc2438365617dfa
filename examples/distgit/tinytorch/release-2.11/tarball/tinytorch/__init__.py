"""tinytorch: tensors, tiny ones."""

from . import nn
from .tensor import Tensor

__version__ = "2.11.0"
__all__ = ["Tensor", "nn"]
