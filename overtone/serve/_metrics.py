"""The front's counters, written out in Prometheus' text format for ``GET /metrics``."""

from __future__ import annotations

import bisect
import threading
from collections import Counter

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Histogram:
    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.buckets = buckets
        self.counts = [0] * (len(buckets) + 1)
        self.total = 0.0
        self.n = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1

    def lines(self, name: str) -> list[str]:
        out = []
        cumulative = 0
        for bound, count in zip(self.buckets, self.counts):
            cumulative += count
            out.append(f'{name}_bucket{{le="{bound:g}"}} {cumulative}')
        out.append(f'{name}_bucket{{le="+Inf"}} {self.n}')
        out.append(f"{name}_sum {self.total:.6f}")
        out.append(f"{name}_count {self.n}")
        return out


class Metrics:
    """Requests by status, latency and batch-size histograms, replica and queue gauges.

    Written from the front's event loop; the supervisor thread only bumps counters under
    the lock.
    """

    def __init__(self, max_batch_size: int) -> None:
        self.lock = threading.Lock()
        self.requests: Counter[int] = Counter()
        self.latency = _Histogram(LATENCY_BUCKETS)
        sizes = []
        size = 1
        while size < max_batch_size:
            sizes.append(float(size))
            size *= 2
        sizes.append(float(max_batch_size))
        self.batch_sizes = _Histogram(tuple(sizes))
        self.retries = 0
        self.replica_starts = 0
        self.replica_deaths = 0
        self.swaps = 0

    def observe_request(self, status: int, seconds: float) -> None:
        self.requests[status] += 1
        self.latency.observe(seconds)

    def observe_batch(self, size: int) -> None:
        self.batch_sizes.observe(float(size))

    def render(self, replicas_ready: int, queued: int, generation: int) -> str:
        errors = sum(n for status, n in self.requests.items() if status >= 400)
        lines = [
            "# HELP overtone_serve_requests_total Prediction requests answered, by HTTP status.",
            "# TYPE overtone_serve_requests_total counter",
        ]
        for status in sorted(self.requests):
            lines.append(
                f'overtone_serve_requests_total{{code="{status}"}} {self.requests[status]}'
            )
        lines += [
            "# HELP overtone_serve_errors_total Prediction requests answered with an error.",
            "# TYPE overtone_serve_errors_total counter",
            f"overtone_serve_errors_total {errors}",
            "# HELP overtone_serve_request_latency_seconds Time from arrival to answer.",
            "# TYPE overtone_serve_request_latency_seconds histogram",
            *self.latency.lines("overtone_serve_request_latency_seconds"),
            "# HELP overtone_serve_batch_size Instances per batch sent to a replica.",
            "# TYPE overtone_serve_batch_size histogram",
            *self.batch_sizes.lines("overtone_serve_batch_size"),
            "# HELP overtone_serve_retries_total Requests retried after their replica died.",
            "# TYPE overtone_serve_retries_total counter",
            f"overtone_serve_retries_total {self.retries}",
        ]
        with self.lock:
            lines += [
                "# HELP overtone_serve_replica_starts_total Replicas started.",
                "# TYPE overtone_serve_replica_starts_total counter",
                f"overtone_serve_replica_starts_total {self.replica_starts}",
                "# HELP overtone_serve_replica_deaths_total Replicas that died unasked.",
                "# TYPE overtone_serve_replica_deaths_total counter",
                f"overtone_serve_replica_deaths_total {self.replica_deaths}",
                "# HELP overtone_serve_checkpoint_swaps_total Swaps to a better checkpoint.",
                "# TYPE overtone_serve_checkpoint_swaps_total counter",
                f"overtone_serve_checkpoint_swaps_total {self.swaps}",
            ]
        lines += [
            "# HELP overtone_serve_replicas_ready Replicas that take batches now.",
            "# TYPE overtone_serve_replicas_ready gauge",
            f"overtone_serve_replicas_ready {replicas_ready}",
            "# HELP overtone_serve_queued_instances Instances waiting for a replica.",
            "# TYPE overtone_serve_queued_instances gauge",
            f"overtone_serve_queued_instances {queued}",
            "# HELP overtone_serve_generation The checkpoint generation served (1, then +1 "
            "per swap).",
            "# TYPE overtone_serve_generation gauge",
            f"overtone_serve_generation {generation}",
        ]
        return "\n".join(lines) + "\n"
