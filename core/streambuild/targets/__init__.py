"""Install targets: where a stream's packages go (host, installroot; container in its own plugin)."""
