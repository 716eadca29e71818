"""Drafts: the draft service, its state machine and the publisher that posts approved drafts."""
