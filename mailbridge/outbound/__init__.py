"""Outgoing mail: compose the message, hand it to a transport, record the outcome."""
