"""Notifications: who hears about what (:mod:`.notifier`), the emails themselves
(:mod:`.mail`), and batching into digests (:mod:`.digest`)."""

from __future__ import annotations

from mailbridge.notify.digest import Digester
from mailbridge.notify.mail import DigestItem, Mailer, excerpt
from mailbridge.notify.notifier import Notifier

__all__ = ["DigestItem", "Digester", "Mailer", "Notifier", "excerpt"]
