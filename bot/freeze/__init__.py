"""Freezes: stop all publishing in a crisis, and the held queue an unfreeze leaves."""
