"""The server's CPU time and memory: from its process (psutil, when it runs on this machine and
its pid is known) or from the Prometheus process counters on its ``/metrics``."""

from __future__ import annotations

import re
import urllib.request
from dataclasses import dataclass

import psutil

_METRIC = re.compile(r"^(process_cpu_seconds_total|process_resident_memory_bytes)\s+(\S+)$", re.M)


@dataclass(frozen=True, slots=True)
class ServerSample:
    """CPU seconds (user + system) the server process has used, and its resident memory."""

    cpu_seconds: float
    rss_bytes: int


class ServerProbe:
    """Reads `ServerSample`s of one server; ``pids`` wins over ``metrics_url``."""

    def __init__(self, *, pids: list[int] | None = None, metrics_url: str | None = None) -> None:
        self.processes = [psutil.Process(pid) for pid in pids or []]
        self.metrics_url = metrics_url

    @property
    def available(self) -> bool:
        return bool(self.processes) or self.metrics_url is not None

    def sample(self) -> ServerSample | None:
        if self.processes:
            cpu = 0.0
            rss = 0
            for process in self.processes:
                times = process.cpu_times()
                cpu += times.user + times.system
                rss += process.memory_info().rss
            return ServerSample(cpu, rss)
        if self.metrics_url is None:
            return None
        try:
            with urllib.request.urlopen(self.metrics_url, timeout=5) as response:
                text = response.read().decode()
        except OSError:
            return None
        values = dict(_METRIC.findall(text))
        if "process_cpu_seconds_total" not in values:
            return None
        return ServerSample(
            float(values["process_cpu_seconds_total"]),
            int(float(values.get("process_resident_memory_bytes", "0"))),
        )
