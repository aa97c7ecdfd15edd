"""lvs/ipvs hand-packed requests decode, with pyroute2's parser, to exactly the operation (no kernel needed)."""

from __future__ import annotations

import struct

import pytest

from pykeepalived.core.lvs import (
    AF_INET,
    AF_INET6,
    PROTO_UDP,
    SVC_F_PERSISTENT,
    AddDest,
    AddService,
    DelDest,
    DestAttrs,
    DestKey,
    EditService,
    Fwd,
    ServiceAttrs,
    ServiceKey,
    SetTimeouts,
    Timeouts,
)
from pykeepalived.lvs.ipvs import (
    CMD_DEL_DEST,
    CMD_NEW_DEST,
    CMD_NEW_SERVICE,
    CMD_SET_CONFIG,
    CMD_SET_SERVICE,
    dest_from_nla,
    encode_op,
    ipvs_msg,
    parse_acks,
    service_from_nla,
)

V6 = ServiceKey(AF_INET6, PROTO_UDP, "2001:db8::10", 53)
FWM = ServiceKey(AF_INET, 0, "", 0, 7)


def decode(data: bytes) -> ipvs_msg:
    msg = ipvs_msg(data)
    msg.decode()
    return msg


@pytest.mark.parametrize("key,attrs", [
    (V6, ServiceAttrs("sh", SVC_F_PERSISTENT | 0x10, 300, 64, "sip")),
    (FWM, ServiceAttrs("wrr", 0, 0, 0xFFFFFF00, "")),
    (ServiceKey(AF_INET, 6, "192.0.2.1", 80), ServiceAttrs("rr", SVC_F_PERSISTENT, 360, 0xFFFF0000)),
])
def test_service_requests_round_trip(key: ServiceKey, attrs: ServiceAttrs) -> None:
    for op, cmd in ((AddService(key, attrs), CMD_NEW_SERVICE), (EditService(key, attrs), CMD_SET_SERVICE)):
        msg = decode(encode_op(op, 0x1C, 42))
        assert (msg["cmd"], msg["header"]["type"], msg["header"]["sequence_number"]) == (cmd, 0x1C, 42)
        assert service_from_nla(msg.get_attr("IPVS_CMD_ATTR_SERVICE")) == (key, attrs)


@pytest.mark.parametrize("dest,attrs", [
    (DestKey("10.0.0.1", 8080), DestAttrs(Fwd.MASQ, 3, 100, 10)),
    (DestKey("2001:db8::1", 0), DestAttrs(Fwd.ROUTE, 0)),
    (DestKey("10.0.0.2", 80), DestAttrs(Fwd.TUNNEL, 1, 0, 0, 1, 6080, 1)),
])
def test_dest_requests_round_trip(dest: DestKey, attrs: DestAttrs) -> None:
    msg = decode(encode_op(AddDest(FWM, dest, attrs), 0x1C, 1))
    assert msg["cmd"] == CMD_NEW_DEST
    assert service_from_nla(msg.get_attr("IPVS_CMD_ATTR_SERVICE"))[0] == FWM
    assert dest_from_nla(msg.get_attr("IPVS_CMD_ATTR_DEST")) == (dest, attrs)
    msg = decode(encode_op(DelDest(V6, dest), 0x1C, 2))
    assert msg["cmd"] == CMD_DEL_DEST and dest_from_nla(msg.get_attr("IPVS_CMD_ATTR_DEST"))[0] == dest


def test_timeouts_request_and_ack_parsing() -> None:
    msg = decode(encode_op(SetTimeouts(Timeouts(900, 120, 300)), 0x1C, 3))
    assert msg["cmd"] == CMD_SET_CONFIG
    assert [msg.get_attr(f"IPVS_CMD_ATTR_TIMEOUT_{x}") for x in ("TCP", "TCP_FIN", "UDP")] == [900, 120, 300]
    ack = struct.pack("=IHHII", 36, 2, 0, 7, 0) + struct.pack("=i", 0) + b"\0" * 16
    err = struct.pack("=IHHII", 36, 2, 0, 8, 0) + struct.pack("=i", -17) + b"\0" * 16
    assert list(parse_acks(ack + err)) == [(7, 0), (8, -17)]


@pytest.mark.parametrize("key,attrs", [
    (V6, ServiceAttrs("sh", SVC_F_PERSISTENT | 0x10, 300, 64, "sip")),
    (FWM, ServiceAttrs("wrr", 0, 0, 0xFFFFFF00, "")),
])
def test_raw_decoder_reads_what_the_encoder_wrote(key: ServiceKey, attrs: ServiceAttrs) -> None:
    """The dump parser (used for reads) against the request encoder, both checked against pyroute2 above."""
    from pykeepalived.lvs.ipvs import dest_from_raw, parse_nlas, service_from_raw

    block = parse_nlas(encode_op(AddService(key, attrs), 0x1C, 1)[20:])
    assert service_from_raw(block[1]) == (key, attrs)
    for dest, dattrs in ((DestKey("2001:db8::1", 53), DestAttrs(Fwd.TUNNEL, 4, 9, 1, 2, 5555, 2)),
                         (DestKey("10.0.0.1", 0), DestAttrs(Fwd.ROUTE, 0))):
        block = parse_nlas(encode_op(AddDest(key, dest, dattrs), 0x1C, 1)[20:])
        assert dest_from_raw(block[2], key.af) == (dest, dattrs)
