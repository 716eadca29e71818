"""Brand-disruption alerts: storms of mentions (spikes)."""
