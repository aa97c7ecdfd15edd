"""atheris target: the HTTP parsers facing the network, fed arbitrary bytes.

Run through fuzz/run_target.sh http. Byte 0 of each input picks what the rest is (its low three
bits: the two parsers get 7 inputs in 8; /metrics names get 1 in 8, their check runs the
Prometheus client's parser) and bits 5-6 the exporter names of /metrics (--metrics-names):

- mode & 7 in 0-3, a request to the status API (status/server.py): the head as the server would
  read it (up to the first blank line, or the whole input plus one), parsed, checked (method,
  bearer token when bit 4 is set) and routed against a small snapshot. The answer must be an
  HttpError with a status the server knows, or a 200 whose JSON body parses (for
  /v1/vrrp/instances/NAME: the instance NAME); a request that passes with a token configured
  must carry exactly that token; a refusal must have its reason, read independently from the
  request (405 only for a method other than GET/HEAD, 404 only for an unknown path, 401 only
  with a token configured and never for `Authorization: Bearer TOKEN`, 503 never: every child
  answers); and anything else that escapes (the server would answer 500) is a crash.
- mode & 7 == 7, names in /metrics: the input split at NUL bytes gives an instance name,
  interface, VIP (address/prefix) and script name (decoded as the config loader does, with
  surrogateescape). The exposition (written by metrics.py) must render, parse with the
  Prometheus client's parser, and give the names back.
- mode & 7 in 4-6, a response to the HTTP_GET checker (check/http.py): fed to `Fetch.feed` in
  one piece and again cut at points taken from the input. Both must agree (header, status,
  Content-Length, bytes counted, MD5, kept body), and agree with an independent reading (the
  head ends at the first blank line, the rest is the body, the MD5 is of the body up to
  Content-Length); `status_code_of` and `content_length_of` never raise.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import atheris

# Not instrumented: the Prometheus client is not under test (and instrumented it is ~5x slower).
from prometheus_client.parser import text_string_to_metric_families  # noqa: I001

with atheris.instrument_imports(include=["pykeepalived"]):  # not asyncio, dns, prometheus_client ...
    from pykeepalived.check import http as check_http
    from pykeepalived.status import metrics, server

TOKEN = "s3cret"
INSTANCE = {
    "name": "VI_1", "state": "MASTER", "state_code": 2, "vrid": 51, "interface": "eth0",
    "base_priority": 110, "effective_priority": 110, "vips": ["192.0.2.100/24"],
    "stats": {"advert_sent": 42, "become_master": 1, "advert_rcvd": 3},
}
SNAP = {"daemon": {"version": "fuzz", "reload_count": 1, "reload_durations": [0.01, 0.2]},
        "children": {"vrrp": {"pid": 1, "instances": [INSTANCE, dict(INSTANCE, name="VI/2 ?x")],
                              "sync_groups": [{"name": "G", "state": "MASTER", "members": ["VI_1"]}],
                              "trackers": {"scripts": [{"name": "chk", "status": "GOOD", "state_code": 0}]},
                              "takeovers": {"buckets": [[0.1, 1], ["+Inf", 2]], "sum": 0.3, "count": 2}},
                     "checkers": {"pid": 2, "virtual_servers": []}}}


def status_request(data: bytes, token: str | None, names: str) -> None:
    end = data.find(b"\r\n\r\n")
    head = data[:end + 4] if end >= 0 else data + b"\r\n\r\n"
    if len(head) > server.MAX_HEAD_BYTES:  # the stream reader stops there with 431
        return
    try:
        method, path, headers = server.parse_head(head)
        server.check_request(method, headers, token)
        status, ctype, body = server.route(path.split("?", 1)[0], SNAP, names)
    except server.HttpError as err:
        if err.status not in server.REASONS or not err.message:
            raise AssertionError(f"unknown status {err.status} / empty message for {head!r}") from None
        refused(err.status, head, token)
        return
    if status != 200:
        raise AssertionError(f"route returned {status} for {head!r}")
    if token is not None:
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or value.strip() != token:
            raise AssertionError(f"authorised without the token: {head!r}")
    if method not in ("GET", "HEAD"):
        raise AssertionError(f"method {method!r} allowed")
    if ctype == "application/json":
        answer = json.loads(body)
        name = path.split("?", 1)[0][len(NAMED):]
        if path.startswith(NAMED) and answer.get("name") != name:
            raise AssertionError(f"asked for instance {name!r}, answered {answer.get('name')!r}")


NAMED = "/v1/vrrp/instances/"
ENDPOINTS = {"/", "/healthz", "/v1/daemon", "/v1/vrrp/instances", "/v1/vrrp/sync-groups", "/v1/trackers",
             "/v1/lvs/virtual-servers", "/metrics", *(NAMED + i["name"] for i in SNAP["children"]["vrrp"]["instances"])}


def refused(status: int, head: bytes, token: str | None) -> None:
    """A refusal must have its reason: what is refused is what a request with that one thing
    changed would get (an independent reading of the request line and the Authorization header)."""
    line, _, rest = head.decode("latin-1").partition("\r\n")
    parts = line.split(" ")
    if status == 400:
        return  # malformed: the header grammar is the parser's own (the next statuses check its reading)
    method, path = parts[0], parts[1].split("?", 1)[0]
    if status == 405 and method in ("GET", "HEAD"):
        raise AssertionError(f"405 for {method}: {head!r}")
    if status == 503:
        raise AssertionError(f"503 with every child answering: {head!r}")
    if status == 404 and path in ENDPOINTS:
        raise AssertionError(f"404 for a known path: {head!r}")
    if status == 401:
        if token is None:
            raise AssertionError(f"401 without a token configured: {head!r}")
        given = [ln.partition(":")[2].strip() for ln in rest.split("\r\n")
                 if ln.partition(":")[0].lower() == "authorization"]
        if given and given[-1] == "Bearer " + token:
            raise AssertionError(f"401 with the right token: {head!r}")


def metric_names(data: bytes, names: str) -> None:
    parts = [p.decode("utf-8", errors="surrogateescape") for p in data.split(b"\0")]
    name, intf, vip, script = (parts + ["", "", "", ""])[:4]
    # A VIP as the VRRP child's snapshot gives it (address, prefix length); the address string is
    # the input's, to reach the escaping, though a real one is always an IP address.
    addr, _, prefix = vip.partition("/")
    entry = {"address": addr, "prefixlen": int(prefix) if prefix.isascii() and prefix.isdigit() else None}
    snap = {"daemon": {"reload_count": 0},
            "children": {"vrrp": {"instances": [dict(INSTANCE, name=name, interface=intf, vip_entries=[entry])],
                                  "trackers": {"scripts": [{"name": script, "status": "BAD", "state_code": 1}]}}}}
    text = metrics.render_metrics(snap, names).decode("utf-8")
    # The exposition is written by metrics.py itself (since 362a765): the Prometheus client's
    # parser is the oracle; it reads only the lines checked (it is slow).
    wanted = [ln for ln in text.split("\n") if ln.startswith(("keepalived_vrrp_state{", "keepalived_script_status{"))]
    families = {f.name: f for f in text_string_to_metric_families("\n".join(wanted) + "\n")}
    (state,) = families["keepalived_vrrp_state"].samples
    want = [metrics.label_value(name), metrics.label_value(intf), metrics.label_value(metrics.vip_label(entry))]
    got = [state.labels["iname"], state.labels["intf"], state.labels["ip_address"]]
    if got != want:
        raise AssertionError(f"labels {got!r} != {want!r}")
    (status,) = families["keepalived_script_status"].samples
    if status.labels["name"] != metrics.label_value(script):
        raise AssertionError(f"script label {status.labels['name']!r} != {script!r}")


def feed_all(chunks: list[bytes]) -> check_http.Fetch:
    fetch = check_http.Fetch()
    buf = bytearray()
    for chunk in chunks:
        fetch.feed(chunk, buf)
    return fetch


def checker_response(data: bytes) -> None:
    cuts = sorted({c % (len(data) + 1) for c in data[:4]})
    pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    whole = feed_all([data])
    cut = feed_all([p for p in pieces if p])
    for attr in ("header", "status", "content_length", "rx_bytes", "extracted", "body"):
        if getattr(whole, attr) != getattr(cut, attr):
            raise AssertionError(f"{attr} differs when cut at {cuts}: {getattr(whole, attr)!r} "
                                 f"vs {getattr(cut, attr)!r} for {data!r}")
    if whole.md5.hexdigest() != cut.md5.hexdigest():
        raise AssertionError(f"md5 differs when cut at {cuts} for {data!r}")
    # An independent reading: the head ends at the first blank line within keepalived's buffer
    # (HEAD_MAX: a head not ended there is no response); what follows is the body.
    end = data.find(b"\r\n\r\n", 0, check_http.HEAD_MAX)
    if (end >= 0) != whole.extracted:
        raise AssertionError(f"head found {whole.extracted}, blank line at {end}: {data!r}")
    if end >= 0:
        body = data[end + 4:]
        length = whole.content_length
        if whole.header != data[:end + 4] or whole.rx_bytes != len(body) or whole.body != body[:check_http.REGEX_KEEP]:
            raise AssertionError(f"head/body split wrong for {data!r}")
        if whole.status != check_http.status_code_of(whole.header):
            raise AssertionError(f"status {whole.status} for {data!r}")
        if whole.md5.hexdigest() != hashlib.md5(body if length is None else body[:max(length, 0)]).hexdigest():
            raise AssertionError(f"md5 is not of the body up to Content-Length for {data!r}")
    if not 0 <= check_http.status_code_of(data) <= 999:
        raise AssertionError(f"status code out of range for {data!r}")
    check_http.content_length_of(data)


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, rest = data[0], data[1:]
    kind = mode & 7
    names = metrics.NAME_SETS[(mode >> 5) % len(metrics.NAME_SETS)]  # --metrics-names
    if kind < 4:
        status_request(rest, TOKEN if mode & 0x10 else None, names)
    elif kind < 7:
        checker_response(rest)
    else:
        metric_names(rest, names)


def main() -> None:
    atheris.Setup([f"{sys.executable} {Path(__file__).resolve()}", *sys.argv[1:]], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
