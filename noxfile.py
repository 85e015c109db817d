"""Test sessions. ``nox`` runs them all (except bench); each sets up what it needs by itself.

Browser and Redis sessions install Debian's ``chromium`` / ``redis-server`` when they are missing
(as root with apt-get; otherwise they stop and print the exact command to run).
"""

from __future__ import annotations

import os
import shutil

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typecheck", "tests", "e2e", "cluster"]
nox.options.error_on_missing_interpreters = True

PYTEST_FLAGS = ["-p", "no:cacheprovider"]


def ensure_debian_packages(session: nox.Session, packages: dict[str, str]) -> None:
    """Install the Debian packages whose executable is missing (``{executable: package}``)."""
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
    """Unit, integration and aiortc interop tests (no browser, no Redis)."""
    session.install("-e", ".[test,interop]")
    session.run("pytest", *PYTEST_FLAGS, "-m", "not e2e and not cluster", *session.posargs)


@nox.session
def e2e(session: nox.Session) -> None:
    """End-to-end tests in Debian's headless Chromium, driven by Playwright."""
    ensure_debian_packages(session, {"chromium": "chromium"})
    session.install("-e", ".[test,interop]")
    session.run("pytest", *PYTEST_FLAGS, "-m", "e2e", *session.posargs, success_codes=[0, 5])


@nox.session
def cluster(session: nox.Session) -> None:
    """Several server processes sharing one real redis-server."""
    ensure_debian_packages(session, {"redis-server": "redis-server", "chromium": "chromium"})
    session.install("-e", ".[test,interop]")
    session.run("pytest", *PYTEST_FLAGS, "-m", "cluster", *session.posargs, success_codes=[0, 5])


@nox.session
def bench(session: nox.Session) -> None:
    """The forwarding benchmark (benchmarks/run.py): the floor, sfu_trio and Janus under the same
    load generator; prints the table and writes benchmarks/results/latest.json. Not in the
    default sessions. Installs Debian's ``janus`` when missing (root); without root, Janus and
    the network namespace are skipped."""
    if os.geteuid() == 0:
        ensure_debian_packages(session, {"janus": "janus"})
    session.install("-e", ".[test]")
    session.run("python", "benchmarks/run.py", *session.posargs)
