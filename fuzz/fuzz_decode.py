"""atheris target: arbitrary bytes through both advert decoders; they must agree and never crash.

Run through fuzz/run.sh, which builds the compiled twin with bounds checks into a temporary
directory and passes it in PYKEEPALIVED_FUZZ_LIB (the normal build is never used here).

The compiled decoder reads through raw pointers, so "never reads past the buffer" is enforced
with a guard page: its input ends exactly where an inaccessible page begins, and any read past
the end is a SIGSEGV that libFuzzer reports (and saves) as a crash.

Input layout: byte 0 picks the family (bit 0; bit 7: an unknown family), which addresses go
in the pseudo-header (bits 1-2), v3_checksum_as_v2 (bit 3) and whether the harness writes the
right checksum into bytes 6-7 first (bit 4), so that mutated messages get past the checksum to
the address-count and auth checks; the rest is the VRRP message.
"""

from __future__ import annotations

import ctypes
import importlib.machinery
import importlib.util
import mmap
import os
import sys
from pathlib import Path
from types import ModuleType

os.environ["PYKEEPALIVED_NO_EXTENSIONS"] = "1"  # the package itself must not load the normal build

import atheris  # noqa: E402

with atheris.instrument_imports():
    from pykeepalived._fastpath import checksum_py, codec_py  # noqa: E402

ADDRS = {
    codec_py.AF_INET: [(b"", b""), (bytes((192, 0, 2, 1)), bytes((224, 0, 0, 18))),
                       (bytes((192, 0, 2, 1)), bytes((192, 0, 2, 2))), (b"\1\2\3", b"\4\5\6\7")],
    codec_py.AF_INET6: [(b"", b""), (bytes.fromhex("fe80" + "00" * 13 + "01"), bytes.fromhex("ff02" + "00" * 13 + "12")),
                        (bytes(16), bytes(15)), (b"\xff" * 16, b"\xff" * 16)],
}


def load_debug(lib: Path, name: str) -> ModuleType:
    """Load the debug build of pykeepalived._fastpath.<name> from ``lib``."""
    paths = list((lib / "pykeepalived" / "_fastpath").glob(f"{name}.*.so"))
    if not paths:
        sys.exit(f"fuzz: no debug build of {name} in {lib}")
    full = f"pykeepalived._fastpath.{name}"
    loader = importlib.machinery.ExtensionFileLoader(full, str(paths[0]))
    spec = importlib.util.spec_from_file_location(full, paths[0], loader=loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[full] = module
    loader.exec_module(module)
    return module


class GuardedBuffer:
    """A page whose successor is PROT_NONE: ``view(data)`` ends exactly at the guard."""

    def __init__(self) -> None:
        self.page = mmap.PAGESIZE
        self.map = mmap.mmap(-1, 2 * self.page, prot=mmap.PROT_READ | mmap.PROT_WRITE)
        base = ctypes.addressof(ctypes.c_char.from_buffer(self.map))
        libc = ctypes.CDLL(None, use_errno=True)
        libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        if libc.mprotect(base + self.page, self.page, 0) != 0:
            raise OSError(ctypes.get_errno(), "mprotect of the guard page failed")

    def fill(self, data: bytes) -> memoryview:
        data = data[-self.page:]
        start = self.page - len(data)
        self.map[start:self.page] = data
        return memoryview(self.map)[start:self.page]


def main() -> None:
    # The debug build's directory comes from the environment so that the child processes
    # libFuzzer spawns (-merge, -jobs) find it too.
    args = sys.argv[1:]
    lib_dir = os.environ.get("PYKEEPALIVED_FUZZ_LIB")
    if "--debug-lib" in args:
        i = args.index("--debug-lib")
        lib_dir = args[i + 1]
        del args[i:i + 2]
    if not lib_dir:
        sys.exit("usage: PYKEEPALIVED_FUZZ_LIB=DIR fuzz_decode.py [libFuzzer options] [corpus dirs] (see run.sh)")
    lib = Path(lib_dir)
    codec_c = load_debug(lib, "codec")
    checksum_c = load_debug(lib, "checksum")
    guarded = GuardedBuffer()

    def one_input(data: bytes) -> None:
        if not data:
            return
        mode, packet = data[0], data[1:]
        family = codec_py.AF_INET6 if mode & 1 else codec_py.AF_INET
        if mode & 0x80:
            family = mode  # unknown families must be refused, not crash
        src, dst = ADDRS.get(family, ADDRS[codec_py.AF_INET])[(mode >> 1) & 3]
        as_v2 = bool(mode & 8)
        if mode & 0x10 and len(packet) >= 8:
            try:
                fixed = checksum_py.vrrp_checksum(packet, packet[0] >> 4, src, dst, as_v2)
            except ValueError:  # pseudo-header addresses of the wrong size: keep the bytes as they are
                pass
            else:
                packet = packet[:6] + fixed.to_bytes(2, "big") + packet[8:]
        py_adv, py_reason = codec_py.decode_advert(packet, family, src, dst, as_v2)
        with guarded.fill(packet) as view:
            c_adv, c_reason = codec_c.decode_advert(view, family, src, dst, as_v2)
            c_sum = checksum_c.ones_sum(view)
        if py_reason != c_reason:
            raise AssertionError(f"reason differs: pure {py_reason}, compiled {c_reason}, input {data.hex()}")
        if (py_adv is None) != (c_adv is None) or (py_adv is not None and py_adv.astuple() != c_adv.astuple()):
            raise AssertionError(f"advert differs: pure {py_adv!r}, compiled {c_adv!r}, input {data.hex()}")
        if checksum_py.ones_sum(packet) != c_sum:
            raise AssertionError(f"ones_sum differs for {packet.hex()}")
        if py_adv is not None and (len(src) == len(dst) == len(py_adv.addresses[0]) if py_adv.addresses else True):
            try:
                py_wire = codec_py.encode(py_adv, family, src, dst, as_v2)
            except ValueError:
                return
            c_wire = codec_c.encode(c_adv, family, src, dst, as_v2)
            if py_wire != c_wire:
                raise AssertionError(f"encode differs: {py_wire.hex()} vs {c_wire.hex()}")
            again, reason = codec_c.decode_advert(c_wire, family, src, dst, as_v2)
            if reason != codec_py.OK or again.priority != py_adv.priority or again.addresses != py_adv.addresses:
                raise AssertionError(f"re-encoded advert does not decode: {c_wire.hex()} ({reason})")

    # libFuzzer re-runs argv[0] through the shell for -merge/-jobs children: name the interpreter too.
    atheris.Setup([f"{sys.executable} {Path(__file__).resolve()}", *args], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
