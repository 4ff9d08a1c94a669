"""``mailbridge check-config --dns``: what the internet's DNS says about mailbridge's
domains, and the records to publish where it is wrong (docs/operating.md#checking-dns)."""

from mailbridge.dnscheck.report import Finding, Lookups, dns_findings

__all__ = ["Finding", "Lookups", "dns_findings"]
