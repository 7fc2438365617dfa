"""tinyconf: C configuration headers, written by Python at build time.

A program's build runs ``python3 -c 'import tinyconf; ...'`` to write its ``config.h``;
the values, and the name and version of what wrote them, end up in the program.
"""

__version__ = "0.3.1"

__all__ = ["render_header", "samples", "__version__"]


def _literal(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def render_header(prefix: str, **values: object) -> str:
    """A C header defining ``PREFIX_NAME`` for each value, plus ``PREFIX_CONFIGURED_BY``."""
    guard = f"{prefix}_CONFIG_H"
    lines = [f"/* written by tinyconf {__version__}; do not edit */", f"#ifndef {guard}", f"#define {guard}"]
    for name, value in sorted(values.items()):
        lines.append(f"#define {prefix}_{name.upper()} {_literal(value)}")
    lines.append(f"#define {prefix}_CONFIGURED_BY {_literal('tinyconf ' + __version__)}")
    lines += [f"#endif", ""]
    return "\n".join(lines)


def samples() -> list:
    """Inputs a compressor's test suite round-trips: empty, short, long runs, every byte value."""
    return [b"", b"a", b"aaaaabbbbbbbbbbc", b"x" * 1000, bytes(range(256)) * 3, b"hello, tiny world\n" * 20]
