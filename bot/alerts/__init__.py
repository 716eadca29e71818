"""Brand disruption: tweets posted around brandbot (and, beside them, the other alerts)."""
