"""Brand disruption: tweets posted around brandbot, and storms of mentions (spikes)."""
