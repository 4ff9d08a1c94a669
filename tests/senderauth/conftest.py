"""Fixtures for the sender authentication tests: keys are made once per session."""

from __future__ import annotations

import pytest
from publicsuffixlist import PublicSuffixList
from senderauth.mailkit import Key, new_ed25519_key, new_rsa_key

from mailbridge.senderauth import load_public_suffixes


@pytest.fixture(scope="session")
def rsa_key() -> Key:
    return new_rsa_key()


@pytest.fixture(scope="session")
def other_rsa_key() -> Key:
    return new_rsa_key()


@pytest.fixture(scope="session")
def ed_key() -> Key:
    return new_ed25519_key()


@pytest.fixture(scope="session")
def suffixes() -> PublicSuffixList:
    return load_public_suffixes()
