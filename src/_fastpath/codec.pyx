# cython: language_level=3
"""VRRP advertisement codec, compiled.

Twin of ``codec_py`` (the contract, the reason codes and the frame builders live there and
are re-exported here): same names, same results. Decoding reads through a raw buffer
pointer, never past its length, and allocates only the result.
"""

from cpython.buffer cimport PyBUF_SIMPLE, PyBUF_WRITABLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from cpython.ref cimport Py_INCREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from _csum cimport fold16, pseudo_sum, sum_bytes

from .codec_py import (  # noqa: F401 - re-exported: one definition of every constant
    AF_INET, AF_INET6, ALL_NODES, ALL_NODES_MAC, AUTH_AH, AUTH_DATA_LEN, AUTH_NONE, AUTH_PASS,
    ERR_ADDR_COUNT, ERR_AUTH, ERR_CHECKSUM, ERR_LENGTH, ERR_TYPE, ERR_VERSION, ETH_BROADCAST,
    ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, GARP_LEN, HEADER_LEN, NA_FLAG_OVERRIDE, NA_FLAG_ROUTER, NA_LEN,
    ND_NEIGHBOR_ADVERT, OK, REASON_NAMES, VRRP_TYPE_ADVERTISEMENT, build_garp, build_unsolicited_na,
)
from . import codec_py as _py

# C mirror of the reason codes; checked against codec_py at import so they cannot drift.
cdef enum Reason:
    R_OK = 0
    R_LENGTH = 1
    R_VERSION = 2
    R_TYPE = 3
    R_CHECKSUM = 4
    R_ADDR_COUNT = 5
    R_AUTH = 6

assert (OK, ERR_LENGTH, ERR_VERSION, ERR_TYPE, ERR_CHECKSUM, ERR_ADDR_COUNT, ERR_AUTH) == (
    R_OK, R_LENGTH, R_VERSION, R_TYPE, R_CHECKSUM, R_ADDR_COUNT, R_AUTH), "reason codes drifted"
assert (AF_INET, AF_INET6) == (2, 10)

# Prebuilt rejection results: a rejected packet costs no allocation at all.
cdef tuple _REJECT = tuple([(None, r) for r in range(7)])


cdef class Advert:
    """One decoded VRRP advertisement (immutable); see ``codec_py.Advert`` for the fields."""

    cdef readonly int version
    cdef readonly int type
    cdef readonly int vrid
    cdef readonly int priority
    cdef readonly int count
    cdef readonly int auth_type
    cdef readonly int adver_int
    cdef readonly int checksum
    cdef readonly tuple addresses
    cdef readonly bytes auth_data

    def __init__(self, int version, int type, int vrid, int priority, int count, int auth_type,
                 int adver_int, int checksum, addresses, auth_data):
        self.version = version
        self.type = type
        self.vrid = vrid
        self.priority = priority
        self.count = count
        self.auth_type = auth_type
        self.adver_int = adver_int
        self.checksum = checksum
        self.addresses = tuple(addresses)
        self.auth_data = _py.as_bytes(auth_data)

    @property
    def interval_seconds(self):
        """The advert interval in seconds whatever the version."""
        return float(self.adver_int) if self.version == 2 else self.adver_int / 100.0

    def astuple(self):
        return (self.version, self.type, self.vrid, self.priority, self.count, self.auth_type,
                self.adver_int, self.checksum, self.addresses, self.auth_data)

    def __eq__(self, other):
        if type(other).__name__ != "Advert" or not hasattr(other, "astuple"):
            return NotImplemented
        return self.astuple() == other.astuple()

    def __hash__(self):
        return hash(self.astuple())

    def __repr__(self):
        return "Advert(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in _py._FIELDS) + ")"

    def __reduce__(self):
        return (Advert, self.astuple())


cdef inline int _alen(int family) noexcept:
    if family == 2:
        return 4
    if family == 10:
        return 16
    return 0


cdef int _check(const uint8_t* p, Py_ssize_t n, int alen, const uint8_t* src, Py_ssize_t src_len,
                const uint8_t* dst, Py_ssize_t dst_len, bint as_v2) noexcept nogil:
    """The ordered validity checks of codec_py.decode_advert, on raw memory."""
    if n < 8 or n > 0xFFFF:
        return R_LENGTH
    cdef int version = p[0] >> 4
    cdef Py_ssize_t auth_len = 8 if (version == 2 and alen == 4) else 0
    cdef Py_ssize_t expected = 8 + <Py_ssize_t>p[3] * alen + auth_len
    if n < expected:
        return R_LENGTH
    if version != 3 and (version != 2 or alen != 4):
        return R_VERSION
    if (p[0] & 0x0F) != 1:
        return R_TYPE
    cdef uint64_t total
    if version == 2:
        if fold16(sum_bytes(p, n)) != 0xFFFF:
            return R_CHECKSUM
    elif as_v2 or (alen == 16 and src_len == 0 and dst_len == 0):
        pass  # keepalived skips it / the kernel checked it
    else:
        if src_len != alen or dst_len != alen:
            return R_CHECKSUM
        total = <uint64_t>sum_bytes(p, n) + pseudo_sum(src, dst, alen, <uint32_t>n, 112)
        if fold16(total) != 0xFFFF:
            return R_CHECKSUM
    if n != expected:
        return R_ADDR_COUNT
    if version == 2 and p[4] > 2:
        return R_AUTH
    return R_OK


def decode_advert(buf, int family, src=b"", dst=b"", bint v3_checksum_as_v2=False):
    """Decode and validate one VRRP message; returns ``(advert, OK)`` or ``(None, ERR_...)``.

    See ``codec_py.decode_advert``. Never raises for any bytes.
    """
    cdef int alen = _alen(family)
    if alen == 0:
        return _REJECT[R_VERSION]
    cdef Py_buffer view, sview, dview
    cdef int reason
    cdef bint need_addrs
    cdef const uint8_t* p
    cdef Py_ssize_t i, count
    cdef Advert adv
    cdef tuple addrs
    cdef object item
    PyObject_GetBuffer(buf, &view, PyBUF_SIMPLE)
    try:
        p = <const uint8_t*>view.buf
        # The pseudo-header is needed only for a v3 check that is not skipped.
        need_addrs = (view.len >= 8 and (p[0] >> 4) == 3 and not v3_checksum_as_v2)
        if need_addrs:
            PyObject_GetBuffer(src, &sview, PyBUF_SIMPLE)
            try:
                PyObject_GetBuffer(dst, &dview, PyBUF_SIMPLE)
                reason = _check(p, view.len, alen, <const uint8_t*>sview.buf, sview.len,
                                <const uint8_t*>dview.buf, dview.len, False)
                PyBuffer_Release(&dview)
            finally:
                PyBuffer_Release(&sview)
        else:
            reason = _check(p, view.len, alen, NULL, 0, NULL, 0, v3_checksum_as_v2)
        if reason != R_OK:
            return _REJECT[reason]
        count = p[3]
        addrs = PyTuple_New(count)
        for i in range(count):
            item = PyBytes_FromStringAndSize(<const char*>p + 8 + i * alen, alen)
            Py_INCREF(item)
            PyTuple_SET_ITEM(addrs, i, item)
        adv = Advert.__new__(Advert)
        adv.version = p[0] >> 4
        adv.type = 1
        adv.vrid = p[1]
        adv.priority = p[2]
        adv.count = count
        adv.checksum = (p[6] << 8) | p[7]
        adv.addresses = addrs
        if adv.version == 2:
            adv.auth_type = p[4]
            adv.adver_int = p[5]
            adv.auth_data = PyBytes_FromStringAndSize(<const char*>p + 8 + count * 4, 8)
        else:
            adv.auth_type = 0
            adv.adver_int = ((p[4] << 8) | p[5]) & 0x0FFF
            adv.auth_data = b""
        return (adv, 0)
    finally:
        PyBuffer_Release(&view)


cdef inline void _range(str name, long long value, long long top) except *:
    if value < 0 or value > top:
        raise ValueError(f"{name} {value} out of range 0..{top}")


def encode_advert(int version, int vrid, int priority, int adver_int, addresses, int family,
                  src=b"", dst=b"", int auth_type=0, auth_data=b"", bint v3_checksum_as_v2=False):
    """Build one VRRP message with its checksum filled in; see ``codec_py.encode_advert``."""
    cdef int alen = _alen(family)
    if alen == 0:
        raise ValueError(f"unknown address family {family} (expected AF_INET=2 or AF_INET6=10)")
    if version != 2 and version != 3:
        raise ValueError(f"VRRP version {version} is not 2 or 3")
    if version == 2 and alen != 4:
        raise ValueError("VRRP version 2 is IPv4 only")
    cdef Py_ssize_t count = len(addresses)
    _range("vrid", vrid, 0xFF)
    _range("priority", priority, 0xFF)
    _range("adver_int", adver_int, 0xFF if version == 2 else 0x0FFF)
    _range("auth_type", auth_type, 0xFF)
    _range("address count", count, 0xFF)
    cdef Py_ssize_t auth_len = 8 if version == 2 else 0
    cdef Py_ssize_t n = 8 + count * alen + auth_len
    cdef bytes out = PyBytes_FromStringAndSize(NULL, n)
    cdef uint8_t* q = <uint8_t*>PyBytes_AS_STRING(out)
    cdef Py_buffer view
    cdef Py_ssize_t i
    q[0] = <uint8_t>((version << 4) | 1)
    q[1] = <uint8_t>vrid
    q[2] = <uint8_t>priority
    q[3] = <uint8_t>count
    if version == 2:
        q[4] = <uint8_t>auth_type
        q[5] = <uint8_t>adver_int
    else:
        q[4] = <uint8_t>(adver_int >> 8)
        q[5] = <uint8_t>(adver_int & 0xFF)
    q[6] = 0
    q[7] = 0
    for i in range(count):
        PyObject_GetBuffer(addresses[i], &view, PyBUF_SIMPLE)
        if view.len != alen:
            PyBuffer_Release(&view)
            raise ValueError(f"address of {view.len} bytes in an {'IPv4' if alen == 4 else 'IPv6'} advert")
        memcpy(q + 8 + i * alen, view.buf, alen)
        PyBuffer_Release(&view)
    if version == 2:
        memset(q + n - 8, 0, 8)
        PyObject_GetBuffer(auth_data, &view, PyBUF_SIMPLE)
        memcpy(q + n - 8, view.buf, view.len if view.len < 8 else 8)
        PyBuffer_Release(&view)
    cdef uint64_t total = sum_bytes(q, n)
    cdef Py_buffer sview, dview
    if version == 3 and not v3_checksum_as_v2:
        PyObject_GetBuffer(src, &sview, PyBUF_SIMPLE)
        try:
            PyObject_GetBuffer(dst, &dview, PyBUF_SIMPLE)
            try:
                if alen == 16 and sview.len == 0 and dview.len == 0:
                    return out  # the kernel fills in the IPv6 checksum (IPV6_CHECKSUM)
                if sview.len != dview.len or (sview.len != 4 and sview.len != 16):
                    raise ValueError(f"pseudo-header needs two IPv4 or two IPv6 addresses, "
                                     f"got {sview.len} and {dview.len} bytes")
                total += pseudo_sum(<const uint8_t*>sview.buf, <const uint8_t*>dview.buf, sview.len,
                                    <uint32_t>n, 112)
            finally:
                PyBuffer_Release(&dview)
        finally:
            PyBuffer_Release(&sview)
    cdef uint32_t csum = (~fold16(total)) & 0xFFFF
    q[6] = <uint8_t>(csum >> 8)
    q[7] = <uint8_t>(csum & 0xFF)
    return out


def encode(advert, int family, src=b"", dst=b"", bint v3_checksum_as_v2=False):
    """``encode_advert`` from an Advert's fields (its ``checksum`` and ``count`` are recomputed)."""
    return encode_advert(advert.version, advert.vrid, advert.priority, advert.adver_int, advert.addresses,
                         family, src, dst, advert.auth_type, advert.auth_data, v3_checksum_as_v2)


def patch_priority(buf, int priority, Py_ssize_t offset=0):
    """Set the priority of a prebuilt advert in place, updating its checksum (RFC 1624)."""
    if priority < 0 or priority > 0xFF:
        raise ValueError(f"priority {priority} out of range 0..255")
    cdef Py_buffer view
    PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE)
    cdef uint8_t* q = <uint8_t*>view.buf
    cdef uint32_t old_word, new_word, old_sum, new_sum
    try:
        if offset < 0 or view.len < offset + 8:
            raise ValueError("buffer too short for a VRRP header at that offset")
        q += offset
        old_word = (q[2] << 8) | q[3]
        new_word = (<uint32_t>priority << 8) | q[3]
        old_sum = (q[6] << 8) | q[7]
        new_sum = (~fold16(<uint64_t>(~old_sum & 0xFFFF) + (~old_word & 0xFFFF) + new_word)) & 0xFFFF
        q[2] = <uint8_t>priority
        q[6] = <uint8_t>(new_sum >> 8)
        q[7] = <uint8_t>(new_sum & 0xFF)
    finally:
        PyBuffer_Release(&view)


def patch_checksum(buf, Py_ssize_t length, int version, src=b"", dst=b"", bint v3_checksum_as_v2=False,
                   Py_ssize_t offset=0):
    """Recompute the checksum of the ``length``-byte VRRP message at ``offset`` in place."""
    cdef Py_buffer view, sview, dview
    PyObject_GetBuffer(buf, &view, PyBUF_WRITABLE)
    cdef uint8_t* q = <uint8_t*>view.buf
    cdef uint64_t total
    cdef uint32_t csum
    try:
        if offset < 0 or length < 8 or view.len < offset + length:
            raise ValueError("buffer too short for a VRRP message of that length at that offset")
        q += offset
        total = <uint64_t>sum_bytes(q, 6) + sum_bytes(q + 8, length - 8)
        if version != 2 and not v3_checksum_as_v2:
            PyObject_GetBuffer(src, &sview, PyBUF_SIMPLE)
            try:
                PyObject_GetBuffer(dst, &dview, PyBUF_SIMPLE)
                try:
                    if sview.len != dview.len or (sview.len != 4 and sview.len != 16):
                        raise ValueError(f"pseudo-header needs two IPv4 or two IPv6 addresses, "
                                         f"got {sview.len} and {dview.len} bytes")
                    if sview.len == 4 and length > 0xFFFF:
                        raise ValueError(f"IPv4 pseudo-header length {length} does not fit 16 bits")
                    total += pseudo_sum(<const uint8_t*>sview.buf, <const uint8_t*>dview.buf, sview.len,
                                        <uint32_t>length, 112)
                finally:
                    PyBuffer_Release(&dview)
            finally:
                PyBuffer_Release(&sview)
        csum = (~fold16(total)) & 0xFFFF
        q[6] = <uint8_t>(csum >> 8)
        q[7] = <uint8_t>(csum & 0xFF)
    finally:
        PyBuffer_Release(&view)
    return csum
