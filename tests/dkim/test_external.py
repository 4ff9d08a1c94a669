"""Our signatures verified by DKIM implementations that are not dkimpy.

- opendkim-testmsg (Debian: opendkim-tools), keys served by a private DNS in a
  network namespace: RSA and ed25519, one signature at a time;
- the opendkim filter's test mode (Debian: opendkim), keys from a local key file
  (TestPublicKeys): a verdict per signature;
- Perl's Mail::DKIM (Debian: libmail-dkim-perl): RSA (Debian's version does not
  know ed25519).

Every tampering (body, a signed header, a second From) must make them fail, so
these tests can fail.
"""

from __future__ import annotations

import pytest

from mailbridge.outbound.dkim import DkimSigner

TAMPERINGS = [
    "body altered",
    "subject altered",
    "second From added",
    "second Reply-To added",
    "second List-Unsubscribe added",
]


# -- opendkim-testmsg ----------------------------------------------------------------


def test_opendkim_testmsg_verifies_rsa(rsa_key, message, kit, opendkim_testmsg):
    signed = DkimSigner([rsa_key]).sign(message)

    verdict = opendkim_testmsg(signed, kit.zone_for(rsa_key))

    assert verdict.passed, verdict.output


@pytest.mark.parametrize("served", ["rsa", "ed25519"])
def test_opendkim_testmsg_verifies_each_of_rsa_and_ed25519(
    served, rsa_key, ed_key, message, kit, opendkim_testmsg
):
    # opendkim-testmsg passes when any signature verifies: serve only one key, so
    # only that signature can.
    signed = DkimSigner([rsa_key, ed_key]).sign(message)
    key = rsa_key if served == "rsa" else ed_key

    verdict = opendkim_testmsg(signed, kit.zone_for(key))

    assert verdict.passed, verdict.output


def test_opendkim_testmsg_fails_without_keys(rsa_key, ed_key, message, kit, opendkim_testmsg):
    signed = DkimSigner([rsa_key, ed_key]).sign(message)

    verdict = opendkim_testmsg(signed, {})

    assert not verdict.passed
    assert "key retrieval failed" in verdict.output.lower()


@pytest.mark.parametrize("selector", ["mb-rsa", "mb-ed"])
def test_opendkim_testmsg_verifies_a_single_signature(
    selector, rsa_key, ed_key, message, kit, opendkim_testmsg
):
    signed = kit.only_signature(DkimSigner([rsa_key, ed_key]).sign(message), selector)

    verdict = opendkim_testmsg(signed, kit.zone_for(rsa_key, ed_key))

    assert verdict.passed, verdict.output


@pytest.mark.parametrize("selector", ["mb-rsa", "mb-ed"])
@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_opendkim_testmsg_rejects_tampering(
    tampering, selector, rsa_key, ed_key, message, kit, opendkim_testmsg
):
    signed = kit.only_signature(DkimSigner([rsa_key, ed_key]).sign(message), selector)

    verdict = opendkim_testmsg(kit.tamperings[tampering](signed), kit.zone_for(rsa_key, ed_key))

    assert not verdict.passed, verdict.output
    # libopendkim refuses a message with two From (or Reply-To) fields before checking
    # signatures.
    single = ("second From added", "second Reply-To added")
    reason = "syntax error" if tampering in single else "bad signature"
    assert reason in verdict.output.lower(), verdict.output


# -- opendkim's test mode -----------------------------------------------------------


def test_opendkim_test_mode_passes_both_signatures(
    rsa_key, ed_key, message, kit, opendkim_test_mode
):
    signed = DkimSigner([rsa_key, ed_key]).sign(message)

    verdicts = opendkim_test_mode(signed, kit.zone_for(rsa_key, ed_key))

    assert verdicts == {"mb-rsa": "pass", "mb-ed": "pass"}


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_opendkim_test_mode_fails_tampering(
    tampering, rsa_key, ed_key, message, kit, opendkim_test_mode
):
    signed = DkimSigner([rsa_key, ed_key]).sign(message)

    verdicts = opendkim_test_mode(kit.tamperings[tampering](signed), kit.zone_for(rsa_key, ed_key))

    assert verdicts == {"mb-rsa": "fail", "mb-ed": "fail"}


def test_opendkim_test_mode_sees_a_different_key(
    rsa_key, other_rsa_key, message, kit, opendkim_test_mode
):
    signed = DkimSigner([rsa_key]).sign(message)

    verdicts = opendkim_test_mode(signed, kit.zone_for(other_rsa_key))

    assert verdicts == {"mb-rsa": "fail"}


# -- Perl's Mail::DKIM ----------------------------------------------------------------


def test_mail_dkim_verifies_rsa(rsa_key, ed_key, message, kit, mail_dkim):
    signed = DkimSigner([rsa_key, ed_key]).sign(message)

    results = mail_dkim(signed, kit.zone_for(rsa_key, ed_key))

    assert results["mb-rsa"] == ("pass", "pass"), results
    # Debian's Mail::DKIM (1.20230212) predates ed25519; a later one may pass it.
    ed_result, ed_detail = results["mb-ed"]
    assert ed_result == "pass" or "unsupported" in ed_detail, results


def test_mail_dkim_verifies_an_rsa_only_message(rsa_key, message, kit, mail_dkim):
    signed = DkimSigner([rsa_key]).sign(message)

    assert mail_dkim(signed, kit.zone_for(rsa_key)) == {"mb-rsa": ("pass", "pass")}


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_mail_dkim_fails_tampering(tampering, rsa_key, message, kit, mail_dkim):
    signed = DkimSigner([rsa_key]).sign(message)

    results = mail_dkim(kit.tamperings[tampering](signed), kit.zone_for(rsa_key))

    assert results["mb-rsa"][0] == "fail", results


def test_mail_dkim_sees_a_different_key(rsa_key, other_rsa_key, message, kit, mail_dkim):
    signed = DkimSigner([rsa_key]).sign(message)

    results = mail_dkim(signed, kit.zone_for(other_rsa_key))

    assert results["mb-rsa"][0] == "fail", results
