"""Mentions: ingest from X, routing into segments, the claim-card state machine."""
