"""DKIM signing in the daemon's worker processes (mailbridge.workers.offload.signing)."""

from __future__ import annotations

import os
import pickle
import signal

import pytest

from mailbridge.outbound.dkim import DkimSigner
from mailbridge.outbound.dkim_keys import DkimKey
from mailbridge.workers import CpuPool, WorkerLost
from mailbridge.workers import tasks as worker_tasks
from mailbridge.workers.offload import signing
from tests.dkim.conftest import dkimpy_verify, zone_for


def test_a_key_crosses_to_a_process_without_its_parsed_openssl_key(
    rsa_key: DkimKey, ed_key: DkimKey, message: bytes
) -> None:
    for key in (rsa_key, ed_key):
        key.sign_digest(b"\0" * 32)  # parsed and cached here first
        again = pickle.loads(pickle.dumps(key))
        assert again == key
        assert again.sign_digest(b"\1" * 32)


@pytest.mark.asyncio
async def test_the_worker_process_signs_with_the_daemons_keys(
    rsa_key: DkimKey, ed_key: DkimKey, message: bytes
) -> None:
    signer = DkimSigner([rsa_key, ed_key])
    pool = CpuPool(1, initializer=worker_tasks.start, initargs=(None, {}, os.getpid(), signer))
    sign = signing(signer, pool)
    assert sign is not None
    try:
        await pool.start()
        signed = await sign(message)
        # This process never ran the initializer: only a worker holds the keys, so
        # a signature made here would have raised instead.
        with pytest.raises(RuntimeError):
            worker_tasks.dkim_signatures(message)
    finally:
        await pool.close()
    assert signed.endswith(message)
    assert dkimpy_verify(signed, zone_for(rsa_key, ed_key)) == {"mb-rsa": True, "mb-ed": True}
    # The same headers as signing here would give (t= aside, the same second or not).
    here = signer.sign(message)
    assert signed.count(b"DKIM-Signature:") == here.count(b"DKIM-Signature:") == 2


@pytest.mark.asyncio
async def test_a_worker_killed_while_signing_fails_that_send_only(
    rsa_key: DkimKey, message: bytes
) -> None:
    signer = DkimSigner([rsa_key])
    pool = CpuPool(1, initializer=worker_tasks.start, initargs=(None, {}, os.getpid(), signer))
    sign = signing(signer, pool)
    assert sign is not None
    try:
        await pool.start()
        [worker] = pool.worker_pids()
        os.kill(worker, signal.SIGKILL)
        with pytest.raises(WorkerLost):
            for _ in range(50):  # the pool notices the death at a call or during one
                await sign(message)
        signed = await sign(message)  # a new worker, with the keys again
        assert dkimpy_verify(signed, zone_for(rsa_key)) == {"mb-rsa": True}
    finally:
        await pool.close()


@pytest.mark.asyncio
async def test_without_worker_processes_it_signs_in_a_thread(
    rsa_key: DkimKey, message: bytes
) -> None:
    signer = DkimSigner([rsa_key])
    sign = signing(signer, CpuPool(0))
    assert sign is not None
    assert dkimpy_verify(await sign(message), zone_for(rsa_key)) == {"mb-rsa": True}
    assert signing(None, CpuPool(0)) is None
