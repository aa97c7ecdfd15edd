"""Shared helpers of the ops tests."""

from __future__ import annotations

from harness import Capture, Host


def burst_capture(host: Host, bpf: str = "ip proto 112", iface: str = "eth0") -> Capture:
    """tcpdump that keeps up with hundreds of adverts sent in one sendmmsg burst.

    The harness's capture uses `-s 0 --immediate-mode`: with a 256 KiB snaplen its default
    2 MiB ring has only ~8 slots and drops most of a 200-advert burst. A short snaplen and a
    32 MiB buffer keep every advert."""
    name = host.lab._unique(f"{host.name}-burst")
    path = host.lab.workdir / f"{name}.pcap"
    proc = host.spawn(["tcpdump", "-i", iface, "-n", "-U", "--immediate-mode", "--time-stamp-precision=nano",
                       "-s", "256", "-B", "32768", "-w", str(path), bpf], name=name)
    proc.wait_output(r"listening on", timeout=10, stream="stderr")
    return Capture(proc, path)
