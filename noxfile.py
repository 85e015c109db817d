"""Test sessions. ``nox`` runs them all (except bench); each sets up what it needs by itself.

What a session needs from the machine, beyond Python packages, is declared once, in
``MACHINE_DEPENDENCIES`` below; the session installs what is missing (Debian's packages, as root
with apt-get) or, without root, stops and prints the exact command to run. Every session passes
run alone on a machine that has none of them.
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests", "e2e", "cluster"]
nox.options.error_on_missing_interpreters = True

PYTEST_FLAGS = ["-p", "no:cacheprovider"]

MACHINE_DEPENDENCIES: dict[str, dict[str, str]] = {
    # session: {executable its tests run: the Debian package that provides it}
    "tests": {"redis-server": "redis-server"},
    "e2e": {"chromium": "chromium"},
    "cluster": {
        "redis-server": "redis-server",
        "redis-cli": "redis-tools",
        "chromium": "chromium",
    },
    "bench": {"janus": "janus"},
}
"""The executables each session's tests need from the machine (README, Development)."""


def ensure_machine_dependencies(session: nox.Session) -> None:
    """Install the Debian packages of this session's missing executables (MACHINE_DEPENDENCIES)."""
    packages = MACHINE_DEPENDENCIES.get(session.name, {})
    missing = sorted({pkg for exe, pkg in packages.items() if shutil.which(exe) is None})
    if not missing:
        return
    command = "apt-get update && apt-get install -y " + " ".join(missing)
    if os.geteuid() != 0:
        session.error(f"missing {', '.join(missing)}: run `sudo sh -c '{command}'`, then nox again")
    session.log(f"installing {', '.join(missing)} with apt-get")
    session.run("sh", "-c", f"DEBIAN_FRONTEND=noninteractive {command}", external=True)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff (lint + format) and the layer contract (sans-I/O core imports no I/O framework)."""
    session.install("ruff>=0.5")
    session.run("ruff", "check", "sfu_trio", "tests", "noxfile.py")
    session.run("ruff", "format", "--check", "sfu_trio", "tests", "noxfile.py")
    session.install("-e", ".")
    session.run("python", "-m", "tests.layers")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over the package."""
    session.install("-e", ".[test]", "mypy>=1.10", "types-psutil")
    session.run("mypy", "sfu_trio")


@nox.session
def tests(session: nox.Session) -> None:
    """Unit, integration and aiortc interop tests, and the state contract on a real redis-server."""
    ensure_machine_dependencies(session)
    session.install("-e", ".[test,interop]")
    session.run("pytest", *PYTEST_FLAGS, "-m", "not e2e and not cluster", *session.posargs)


@nox.session
def e2e(session: nox.Session) -> None:
    """End-to-end tests in Debian's headless Chromium, driven by Playwright."""
    ensure_machine_dependencies(session)
    session.install("-e", ".[test,interop]")
    session.run("pytest", *PYTEST_FLAGS, "-m", "e2e", *session.posargs, success_codes=[0, 5])


@nox.session
def cluster(session: nox.Session) -> None:
    """Several server processes sharing one real redis-server."""
    ensure_machine_dependencies(session)
    session.install("-e", ".[test,interop]")
    session.run("pytest", *PYTEST_FLAGS, "-m", "cluster", *session.posargs, success_codes=[0, 5])


@nox.session
def bench(session: nox.Session) -> None:
    """The forwarding benchmark (benchmarks/run.py): the floor, sfu_trio and Janus under the same
    load generator; prints the table and writes benchmarks/results/latest.json. Not in the
    default sessions. Installs Debian's ``janus`` when missing (root); without root, Janus and
    the network namespace are skipped."""
    if os.geteuid() == 0:
        ensure_machine_dependencies(session)
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/run.py", *session.posargs)
