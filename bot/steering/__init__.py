"""Admins steering segments from Slack: validated, audited, announced overrides of app.yaml."""
