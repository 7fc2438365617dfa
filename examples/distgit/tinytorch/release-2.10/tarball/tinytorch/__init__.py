"""tinytorch: tensors, tiny ones."""

from .tensor import Tensor

__version__ = "2.10.2"
__all__ = ["Tensor"]
