"""The ground every service stands on: database, models, clock, settings, audit log, outbox, workers."""
