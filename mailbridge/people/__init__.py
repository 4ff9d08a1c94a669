"""A person's own data (issue 11): what mailbridge holds about an email address,
exported as JSON or erased, from the CLI and the admin API (docs/privacy.md)."""
