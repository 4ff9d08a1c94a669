"""Moderation: the comment lifecycle (pending → approved / rejected / spam)."""
