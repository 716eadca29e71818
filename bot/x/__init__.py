"""X: the one gateway to X's API."""
