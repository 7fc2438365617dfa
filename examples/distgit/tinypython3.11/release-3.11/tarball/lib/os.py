"""A very small part of the os module."""

sep = "/"


def join(*parts: str) -> str:
    """Join path parts with the separator."""
    return sep.join(parts)
