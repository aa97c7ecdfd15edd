"""Build the Cython fast path (src/_fastpath) into pykeepalived._fastpath.

- With Cython (the build requirement): the .pyx sources are compiled.
- Without Cython (an sdist built by hand with --no-build-isolation): the shipped generated .c
  files are compiled.
- Without a working C compiler: the pure-Python twins are installed, a banner says so in the
  build output, and the daemon logs "fast path: pure" at WARNING at every start
  (`pykeepalived --version` says which path runs). PYKEEPALIVED_REQUIRE_COMPILED=1 makes such a
  build fail instead (packagers and CI should set it).

PYKEEPALIVED_NO_EXTENSIONS=1 skips the extensions on purpose (the pure twins are used);
PYKEEPALIVED_DEBUG=1 compiles with bounds checks, line tracing and annotation (the fuzzing run).
"""

import glob
import os
import sys

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext

NO_EXTENSIONS = bool(os.environ.get("PYKEEPALIVED_NO_EXTENSIONS"))
REQUIRE_COMPILED = bool(os.environ.get("PYKEEPALIVED_REQUIRE_COMPILED"))
DEBUG = bool(os.environ.get("PYKEEPALIVED_DEBUG"))

PACKAGE_DIR = {"": "src", "pykeepalived._fastpath": "src/_fastpath"}


def pure_banner(reason: str) -> None:
    """Say it so that nobody misses it in a build log (pip shows it with -v; `python -m build` always)."""
    line = "!" * 78
    text = (f"\n{line}\n!! pykeepalived: the compiled fast path is NOT being built: {reason}\n"
            "!! The pure-Python twins will run (7-32x slower per packet operation). The daemon logs\n"
            "!! 'fast path: pure' at WARNING at every start; `pykeepalived --version` says it too.\n"
            "!! Install gcc and the Python headers (Debian: gcc python3-dev) and reinstall, or set\n"
            f"!! PYKEEPALIVED_REQUIRE_COMPILED=1 to make this an error.\n{line}\n")
    if REQUIRE_COMPILED:
        raise SystemExit(f"pykeepalived: PYKEEPALIVED_REQUIRE_COMPILED=1 and the fast path cannot be built: {reason}")
    print(text, file=sys.stderr)
    # pip shows a build backend's output only with -v; the terminal of an interactive install
    # still gets the banner (nothing happens without one, e.g. in CI: the build log has it).
    if not sys.stderr.isatty():
        try:
            with open("/dev/tty", "w") as tty:
                tty.write(text)
        except OSError:
            pass


class OptionalBuildExt(build_ext):
    """A failed compile leaves the pure twins in charge (loudly) instead of failing the install,
    unless PYKEEPALIVED_REQUIRE_COMPILED is set."""

    failed: list[str] = []

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any compiler failure means "pure"
            if REQUIRE_COMPILED:
                raise
            pure_banner(f"build_ext failed ({exc})")
            return
        if self.failed:
            pure_banner("could not compile " + ", ".join(self.failed))

    def build_extension(self, ext) -> None:  # type: ignore[no-untyped-def]
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            if REQUIRE_COMPILED:
                raise
            print(f"WARNING: could not compile {ext.name} ({exc})", file=sys.stderr)
            self.failed.append(ext.name)


def extensions() -> list:  # type: ignore[type-arg]
    if NO_EXTENSIONS:
        print("pykeepalived: PYKEEPALIVED_NO_EXTENSIONS set, building pure-Python only", file=sys.stderr)
        return []
    from setuptools import Extension

    macros = [("CYTHON_TRACE_NOGIL", "1")] if DEBUG else []
    pyx = sorted(glob.glob("src/_fastpath/*.pyx"))
    try:
        from Cython.Build import cythonize
    except ImportError:
        cythonize = None
    if cythonize is None or not pyx:
        # The sdist ships the generated C: compile it as is.
        c_files = sorted(glob.glob("src/_fastpath/*.c"))
        if not c_files:
            pure_banner("neither Cython with the .pyx sources nor the generated .c files are available")
            return []
        print("pykeepalived: Cython not available, compiling the shipped generated C files", file=sys.stderr)
        return [Extension(f"pykeepalived._fastpath.{os.path.splitext(os.path.basename(p))[0]}", [p],
                          define_macros=macros, extra_compile_args=["-O2"]) for p in c_files]
    directives = {"language_level": "3", "boundscheck": DEBUG, "wraparound": False,
                  "initializedcheck": DEBUG, "cdivision": True}
    if DEBUG:
        directives["linetrace"] = True
    exts = [
        Extension(f"pykeepalived._fastpath.{os.path.splitext(os.path.basename(p))[0]}", [p],
                  define_macros=macros, extra_compile_args=["-O2"])
        for p in pyx
    ]
    return cythonize(exts, compiler_directives=directives, annotate=DEBUG,
                     include_path=["src/_fastpath"], quiet=True)


setup(
    package_dir=PACKAGE_DIR,
    packages=find_packages("src", include=["pykeepalived", "pykeepalived.*"]) + ["pykeepalived._fastpath"],
    package_data={"pykeepalived": ["py.typed", "data/*"], "pykeepalived._fastpath": ["*.pyi", "*.pxd"]},
    # The wheel carries the compiled modules, their .pyi/.pxd and the pure twins; not the sources.
    exclude_package_data={"pykeepalived._fastpath": ["*.c", "*.pyx", "*.html"]},
    ext_modules=extensions(),
    cmdclass={"build_ext": OptionalBuildExt},
)
