"""Build the Cython fast path (src/_fastpath) into pykeepalived._fastpath.

PYKEEPALIVED_NO_EXTENSIONS=1 skips the extensions (the pure twins are used);
PYKEEPALIVED_DEBUG=1 compiles with bounds checks, line tracing and annotation
(used by the fuzzing run). A missing compiler falls back to the pure twins.
"""

import glob
import os
import sys

from setuptools import setup
from setuptools.command.build_ext import build_ext

NO_EXTENSIONS = bool(os.environ.get("PYKEEPALIVED_NO_EXTENSIONS"))
DEBUG = bool(os.environ.get("PYKEEPALIVED_DEBUG"))

PACKAGE_DIR = {"": "src", "pykeepalived._fastpath": "src/_fastpath"}


class OptionalBuildExt(build_ext):
    """A failed compile leaves the pure twins in charge instead of failing the install."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure means "pure"
            print(f"WARNING: pykeepalived fast path not compiled ({exc}); pure-Python twins will be used",
                  file=sys.stderr)

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"WARNING: could not compile {ext.name} ({exc}); its pure-Python twin will be used",
                  file=sys.stderr)


def extensions() -> list:  # type: ignore[type-arg]
    if NO_EXTENSIONS:
        print("pykeepalived: PYKEEPALIVED_NO_EXTENSIONS set, building pure-Python only", file=sys.stderr)
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("WARNING: Cython missing; pure-Python twins will be used", file=sys.stderr)
        return []
    from setuptools import Extension

    directives = {"language_level": "3", "boundscheck": DEBUG, "wraparound": False,
                  "initializedcheck": DEBUG, "cdivision": True}
    macros = [("CYTHON_TRACE_NOGIL", "1")] if DEBUG else []
    if DEBUG:
        directives["linetrace"] = True
    exts = [
        Extension(f"pykeepalived._fastpath.{os.path.splitext(os.path.basename(p))[0]}", [p],
                  define_macros=macros, extra_compile_args=["-O2"])
        for p in sorted(glob.glob("src/_fastpath/*.pyx"))
    ]
    return cythonize(exts, compiler_directives=directives, annotate=DEBUG,
                     include_path=["src/_fastpath"], quiet=True)


setup(
    package_dir=PACKAGE_DIR,
    packages=["pykeepalived", "pykeepalived._fastpath"]
    + [f"pykeepalived.{d}" for d in ("config", "core", "io", "check", "lvs", "status")],
    package_data={"pykeepalived": ["py.typed", "data/*"], "pykeepalived._fastpath": ["*.pyi", "*.pxd"]},
    ext_modules=extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)
