"""Settings, declared once: a frozen dataclass tree with a default and help on every key.

Declared in :mod:`mailbridge.settings.schema`. Layers, later wins: the defaults, then
the operator's TOML file, then ``MAILBRIDGE_<SECTION>_<KEY>`` environment variables
(``MAILBRIDGE_DATA_DIR`` for top-level keys), then command-line flags. An unknown key
in any layer is an error with a "did you mean" hint, so a typo never silently falls
back to a default.
"""

from __future__ import annotations

from mailbridge.settings.integrations import (
    ImapSettings,
    InboundWebhookSettings,
    WebhookSettings,
    WordPressSettings,
)
from mailbridge.settings.load import ENV_PREFIX, iter_keys, load_settings, reference_table
from mailbridge.settings.schema import (
    AuthSettings,
    CacheSettings,
    DkimSettings,
    HttpSettings,
    InboundSettings,
    LimitSettings,
    ModerationSettings,
    NotificationSettings,
    OutboundSettings,
    Settings,
    SiteSettings,
    SmtpSettings,
    SpamSettings,
    TemplateSettings,
)
from mailbridge.settings.validate import parse_hostport

__all__ = [
    "ENV_PREFIX",
    "AuthSettings",
    "CacheSettings",
    "DkimSettings",
    "HttpSettings",
    "ImapSettings",
    "InboundSettings",
    "InboundWebhookSettings",
    "LimitSettings",
    "ModerationSettings",
    "NotificationSettings",
    "OutboundSettings",
    "Settings",
    "SiteSettings",
    "SmtpSettings",
    "SpamSettings",
    "TemplateSettings",
    "WebhookSettings",
    "WordPressSettings",
    "iter_keys",
    "load_settings",
    "parse_hostport",
    "reference_table",
]
