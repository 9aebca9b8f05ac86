"""deploy/: the stop timeout outlasts the relay's own, exit 2 is not restarted, two relays do not collide."""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from qqbus_relay.runner import EXIT_CONFIG, RelayOptions

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def unit() -> dict[str, str]:
    lines = (DEPLOY / "qqbus-relay@.service").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def env_file(name: str) -> dict[str, str]:
    lines = (DEPLOY / name).read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)s?", value.strip())
    assert match, value
    return float(match.group(1))


def test_the_unit_waits_longer_than_the_relay_takes_to_stop() -> None:
    assert seconds(unit()["TimeoutStopSec"]) > RelayOptions("b", Path("s")).stop_timeout + 2


def test_the_unit_restarts_failures_but_not_a_wrong_configuration() -> None:
    service = unit()
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == str(EXIT_CONFIG) == "2"


def test_each_instance_has_its_own_spool_and_health_port() -> None:
    service = unit()
    assert "--spool-dir /var/lib/qqbus/%i" in service["ExecStart"]
    assert service["EnvironmentFile"] == "/etc/qqbus/relay-%i.env"
    qq, onebot = env_file("relay-qq.env.example"), env_file("relay-onebot.env.example")
    assert qq["QQBUS_HEALTH"] != onebot["QQBUS_HEALTH"]
    assert "QQBUS_SPOOL_DIR" not in qq and "QQBUS_SPOOL_DIR" not in onebot  # the unit sets it per instance


def test_compose_gives_each_relay_a_volume_and_a_stop_grace_period() -> None:
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    assert set(services) == {"relay-qq", "relay-onebot"}
    volumes = [s["volumes"][0].split(":")[0] for s in services.values()]
    assert len(set(volumes)) == 2
    for service in services.values():
        assert seconds(service["stop_grace_period"]) > RelayOptions("b", Path("s")).stop_timeout + 2
