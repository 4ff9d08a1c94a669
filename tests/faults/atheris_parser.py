"""Coverage-guided fuzzing (atheris, libFuzzer) of what reads an inbound message's
bytes: the header parser, machine-mail and bounce classification, and the extractor.

Not a test module: tests/faults/test_atheris.py runs it as a script, so that libFuzzer
(which exits the process when done) runs in a process of its own:

    python tests/faults/atheris_parser.py -runs=N -seed=S -max_len=8192 -artifact_prefix=DIR/ CORPUS

A crash is any exception, or an extraction that reports it failed: the daemon would
answer 451 for ever. libFuzzer then writes the input to DIR and exits non-zero.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["mailbridge"]):
    from mailbridge.classify import classify_raw, parse_bounce
    from mailbridge.extract import extract
    from mailbridge.inbound.headers import header_block, message_id_of, parse_headers


def one(data: bytes) -> None:
    headers = parse_headers(data)
    message_id_of(headers)
    header_block(data)
    classify_raw(data, None)
    parse_bounce(data, "")
    result = extract(data)
    failed = [d for d in result.defects if d.startswith("extraction failed")]
    if failed:
        raise AssertionError(f"{failed[0]} on {data[:200]!r}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, one)
    atheris.Fuzz()
