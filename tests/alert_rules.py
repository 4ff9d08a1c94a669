"""The alert rules docs/metrics.md prints, and ``promtool test rules`` over scrapes of a
daemon taken once per minute of a clock the test moves (tests/integration/
test_alert_rules.py, test_wordpress_alert_rules.py)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import aiohttp
from programs import requires_program
from scraping import Samples, samples, scrape
from support import FakeClock

__all__ = ["JOB", "NAME", "Minutes", "firing", "promtool_program", "rules", "rules_file"]

DOCS = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
NAME = re.compile(r"\b(?:mailbridge|process)_[a-z_]+\b")
JOB = (("job", "mailbridge"),)  # the label Prometheus gives each sample it scrapes
UP = re.compile(r"\bup\b(?=\{)")  # Prometheus's own, for each target it scrapes


def rules_file() -> str:
    """The rules file docs/metrics.md prints under "Alerts worth having"."""
    found = re.search(r"```yaml\n(groups:\n.*?)```", DOCS.read_text(), re.S)
    assert found, "docs/metrics.md prints no rules file"
    return found.group(1)


def rules() -> dict[str, str]:
    """Each alert's expression, by its name."""
    return dict(re.findall(r"- alert: (\S+)\n\s+expr: (.+)", rules_file()))


def promtool_program() -> str:
    return requires_program("promtool", package="prometheus")


class Minutes:
    """The daemon scraped once per minute of its clock, as Prometheus would."""

    def __init__(self, daemon: Any, clock: FakeClock) -> None:
        self.daemon, self.clock = daemon, clock
        self.start = clock.now().timestamp()  # promtool's time 0
        self.scrapes: list[Samples] = []

    async def scrape(self, minutes: int = 1) -> None:
        """Each sample labelled job="mailbridge", with ``up`` (Prometheus's own): 0 when
        the daemon does not answer."""
        for _ in range(minutes):
            try:
                status, _type, text = await scrape(self.daemon)
            except aiohttp.ClientConnectionError:
                status, text = 0, ""
            assert status in (0, 200)
            found = {
                name: {(*pairs, ("job", "mailbridge")): value for pairs, value in by.items()}
                for name, by in samples(text).items()
            }
            found["up"] = {(("job", "mailbridge"),): float(status == 200)}
            self.scrapes.append(found)
            self.clock.advance(60)


def firing(
    promtool: str,
    tmp_path: Path,
    minutes: Minutes,
    alert: str,
    at: Sequence[int],
    not_at: Sequence[int],
    labels: dict[str, str] | None = None,
) -> None:
    """``promtool test rules``: ``alert`` fires at each minute of ``at`` (from the first
    scrape) and at none of ``not_at``; fails with promtool's account. (The minute its
    threshold is reached is in neither: stored times are whole seconds.)"""
    (tmp_path / "rules.yml").write_text(rules_file())
    names = {name for expr in rules().values() for name in NAME.findall(expr) + UP.findall(expr)}
    scrapes = minutes.scrapes
    series: dict[str, list[str]] = {}
    for minute, scraped in enumerate(scrapes):
        for name in names:
            # promtool's time() starts at 0: a Unix time is moved by the first scrape's.
            moved = minutes.start if name.endswith("_timestamp_seconds") else 0.0
            for pairs, value in scraped.get(name, {}).items():
                key = name + "{" + ",".join(f'{k}="{v}"' for k, v in pairs) + "}"
                series.setdefault(key, ["_"] * len(scrapes))[minute] = repr(value - moved)
    # An alert's labels are its series' less the name (``labels``; job alone for an age).
    tests = [
        {
            "eval_time": f"{minute}m",
            "alertname": alert,
            "exp_alerts": [{"exp_labels": {"job": "mailbridge"} if labels is None else labels}]
            if minute in at
            else [],
        }
        for minute in sorted([*at, *not_at])
    ]
    unit = {
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": k, "values": " ".join(v)} for k, v in series.items()],
                "alert_rule_test": tests,
            }
        ],
    }
    (tmp_path / "unit.json").write_text(json.dumps(unit))  # JSON is YAML
    ran = subprocess.run(
        [promtool, "test", "rules", "unit.json"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
