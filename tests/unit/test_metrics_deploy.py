"""deploy/: the monitoring compose file is valid compose (compose-spec, alone and merged onto
compose.yaml) with its services off by default; Prometheus scrapes the ports the processes
serve; the Grafana dashboard is valid JSON whose every metric is one pipeline.telemetry
exports (and every exported metric has a panel)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from compose_spec import PyCompose

from pipeline import telemetry

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
MONITORING = {"prometheus", "grafana"}
STANDARD = {"up", "process_resident_memory_bytes"}
"""Series Prometheus itself or prometheus-client's process collector provide."""
_SERIES = re.compile(r"\b(novacast_[a-z0-9_]+|process_[a-z0-9_]+|up)\b(?!\s*\()")


def _yaml(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(path.read_text())
    return loaded


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Compose's merge of two files, as far as these use it (mappings merge, the rest replace)."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merged(merged[key], value)
        else:
            merged[key] = value
    return merged


def test_the_monitoring_file_is_valid_compose_alone_and_merged() -> None:
    text = (DEPLOY / "compose.monitoring.yaml").read_text()
    PyCompose.from_yaml(text)
    merged = _merged(_yaml(ROOT / "compose.yaml"), yaml.safe_load(text))
    PyCompose.from_yaml(yaml.safe_dump(merged))
    services = merged["services"]
    assert set(services) >= MONITORING
    assert services["worker"]["command"] == ["novacast", "worker"]  # the base survives


def test_monitoring_is_off_by_default_and_local_only() -> None:
    services = _yaml(DEPLOY / "compose.monitoring.yaml")["services"]
    base = _yaml(ROOT / "compose.yaml")["services"]
    for name, service in services.items():
        if name in MONITORING:
            assert service["profiles"] == ["monitoring"], name
            assert all(p.startswith("127.0.0.1:") for p in service.get("ports", [])), name
        else:
            assert name in base, f"{name} only adds settings to a service of compose.yaml"
            assert "profiles" not in service


def test_mounted_files_exist_relative_to_the_project_directory() -> None:
    services = _yaml(DEPLOY / "compose.monitoring.yaml")["services"]
    for name in MONITORING:
        for mount in services[name]["volumes"]:
            source = mount.split(":", 1)[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), (name, source)


def test_prometheus_scrapes_the_ports_the_processes_serve() -> None:
    config = _yaml(DEPLOY / "prometheus" / "prometheus.yml")
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    compose = _merged(_yaml(ROOT / "compose.yaml"), _yaml(DEPLOY / "compose.monitoring.yaml"))
    services = compose["services"]
    bot_port = services["bot"]["environment"]["NOVACAST_HTTP_PORT"]
    assert jobs["novacast-bot"]["static_configs"][0]["targets"] == [f"bot:{bot_port}"]
    assert jobs["novacast-bot"]["metrics_path"] == "/metrics"
    for name in ("worker", "scheduler"):
        (sd,) = jobs[f"novacast-{name}"]["dns_sd_configs"]
        assert sd["names"] == [name]
        assert str(sd["port"]) == services[name]["environment"]["NOVACAST_METRICS_PORT"]


def _dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((DEPLOY / "grafana" / "dashboards" / "novacast.json")
                                        .read_text())
    return loaded


def _family(series: str) -> str:
    for suffix in ("_bucket", "_sum", "_count"):
        if series.endswith(suffix) and series.removesuffix(suffix) in telemetry.METRIC_NAMES:
            return series.removesuffix(suffix)
    return series


def test_every_metric_on_the_dashboard_is_exported_and_every_one_is_shown() -> None:
    dashboard = _dashboard()
    exprs = [t["expr"] for panel in dashboard["panels"] for t in panel["targets"]]
    used = {_family(s) for e in exprs for s in _SERIES.findall(e)}
    assert used - STANDARD <= telemetry.METRIC_NAMES, used - STANDARD - telemetry.METRIC_NAMES
    assert used >= telemetry.METRIC_NAMES, telemetry.METRIC_NAMES - used


def test_the_dashboard_reads_the_provisioned_data_source() -> None:
    sources = _yaml(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")
    (source,) = sources["datasources"]
    dashboard = _dashboard()
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} == {source["uid"]}
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    assert source["url"] == "http://prometheus:9090"
