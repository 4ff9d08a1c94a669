"""Inbound mail: the SMTP edge (handler, server) and the reply pipeline (process)."""
