# Inline C helpers shared by the compiled _fastpath modules (sum, fold, pseudo-header).
from libc.stdint cimport uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcpy


cdef inline uint32_t fold16(uint64_t total) noexcept nogil:
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return <uint32_t>total


cdef inline uint32_t sum_bytes(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    """Folded one's complement sum of n bytes as big-endian 16-bit words (odd tail padded)."""
    cdef uint64_t acc = 0
    cdef uint32_t w32
    cdef Py_ssize_t i = 0
    # Native-order 32-bit loads; RFC 1071 sums are byte-order independent, so fix the order once.
    while i + 4 <= n:
        memcpy(&w32, p + i, 4)
        acc += w32
        i += 4
    cdef uint16_t w16
    if i + 2 <= n:
        memcpy(&w16, p + i, 2)
        acc += w16
        i += 2
    cdef uint8_t tail[2]
    if i < n:
        tail[0] = p[i]
        tail[1] = 0
        memcpy(&w16, tail, 2)
        acc += w16
    cdef uint32_t folded = fold16(acc)
    tail[0] = 1
    tail[1] = 0
    memcpy(&w16, tail, 2)
    if w16 == 1:  # little-endian host: swap the folded native sum to network order
        folded = ((folded & 0xFF) << 8) | (folded >> 8)
    return folded


cdef inline uint32_t pseudo_sum(const uint8_t* src, const uint8_t* dst, Py_ssize_t alen,
                                uint32_t length, uint32_t proto) noexcept nogil:
    """Partial sum of the IPv4 (alen 4) or IPv6 (alen 16) pseudo-header."""
    cdef uint64_t acc = <uint64_t>sum_bytes(src, alen) + sum_bytes(dst, alen)
    acc += (length >> 16) + (length & 0xFFFF) + proto
    return fold16(acc)
