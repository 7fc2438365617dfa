"""New in tinypython 3.12 here: a (very) small TOML reader."""


def loads(text: str) -> dict:
    """Parse 'key = "value"' lines."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {key.strip(): value.strip().strip('"') for key, value in pairs}
