"""The status API of a live daemon with 4,000 VRRP instances (issue 24 item 6: from ~250
instances the snapshot outgrew one socket read and the API went blind: `/v1/vrrp/instances`
was `[]`, /metrics had no VRRP series and /healthz said 503)."""

from __future__ import annotations

import json
import sys

import pytest
from prometheus_client.parser import text_string_to_metric_families

from harness import Host, Lab, VrrpDaemon, wait_until

pytestmark = pytest.mark.privileged

PORT = 9652
N = 4000
PER_IF = 250


def config() -> str:
    # advert_int 10: the instances stay BACKUP for 30 s (nothing is sent), which is all the
    # test needs; the API must list every one of them.
    out = []
    for i in range(N):
        ifidx, vrid = divmod(i, PER_IF)
        out.append(f"vrrp_instance VI_{i} {{\n  state BACKUP\n  interface d{ifidx}\n  virtual_router_id {vrid + 1}\n"
                   f"  priority 100\n  version 3\n  advert_int 10\n"
                   f"  virtual_ipaddress {{\n    198.19.{i // 250}.{i % 250 + 1}/32\n  }}\n}}\n")
    return "".join(out)


def api(host: Host, path: str) -> tuple[int, bytes]:
    code = ("import sys, urllib.request, urllib.error\n"
            f"try:\n  r = urllib.request.urlopen('http://127.0.0.1:{PORT}{path}', timeout=30)\n"
            "  sys.stdout.write(str(r.status) + '\\n' + r.read().decode())\n"
            "except urllib.error.HTTPError as e:\n  sys.stdout.write(str(e.code) + '\\n' + e.read().decode())\n"
            "except OSError as e:\n  sys.stdout.write('0\\n' + str(e))\n")  # not listening yet
    out = host.run([sys.executable, "-c", code]).stdout
    status, _, body = out.partition("\n")
    return int(status), body.encode()


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_api_lists_4000_instances(lab: Lab) -> None:
    (r1,) = lab.add_hosts("r1")
    for k in range(N // PER_IF):
        r1.ip_cmd("link", "add", f"d{k}", "type", "veth", "peer", "name", f"p{k}")  # no dummy module on CI
        r1.ip_cmd("addr", "add", f"198.18.{k}.1/24", "dev", f"d{k}")
        r1.ip_cmd("link", "set", f"d{k}", "up")
        r1.ip_cmd("link", "set", f"p{k}", "up")
    d = VrrpDaemon(r1, config(), implementation="pykeepalived",
                   extra_args=["--status-listen", f"127.0.0.1:{PORT}"]).start()

    def listed() -> list[dict[str, object]] | None:
        if not d.alive:
            raise AssertionError(f"daemon exited:\n{d.log()[-3000:]}")
        status, body = api(r1, "/v1/vrrp/instances")
        found = json.loads(body) if status == 200 else []
        return found if len(found) == N else None

    instances = wait_until(listed, 120, interval=1, message=f"the API never listed {N} instances")
    assert {i["name"] for i in instances} == {f"VI_{i}" for i in range(N)}
    status, body = api(r1, "/healthz")
    assert status == 200, body
    status, body = api(r1, "/metrics")
    fams = {f.name: f for f in text_string_to_metric_families(body.decode())}
    assert status == 200 and len(fams["keepalived_vrrp_state"].samples) == N
    status, body = api(r1, f"/v1/vrrp/instances/VI_{N - 1}")
    assert status == 200 and json.loads(body)["interface"] == f"d{N // PER_IF - 1}"
