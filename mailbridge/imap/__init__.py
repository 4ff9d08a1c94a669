"""Replies read from a mailbox over IMAP, for those who cannot receive on port 25
(docs/imap.md): ``inbox`` reads and marks, ``recipient`` finds the reply address."""

from mailbridge.imap.inbox import DONE, ImapInbox

__all__ = ["DONE", "ImapInbox"]
