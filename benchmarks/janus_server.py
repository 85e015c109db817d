"""Janus (Debian package ``janus``) with its VideoRoom plugin, for the comparison.

Started with its own configuration folder (the system's /etc/janus is not read): only the
VideoRoom plugin and the WebSocket transport, listening on the benchmark namespace's address,
media gathered on that address only, ``event_loops`` = the core count (Janus at its best: with
its default thread per handle it spends about 2.3x more CPU per packet).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from netns import BenchNetwork

JANUS = "/usr/bin/janus"
LIB = "/usr/lib/x86_64-linux-gnu/janus"
WS_PORT = 8188
UNUSED_PLUGINS = (
    "audiobridge",
    "echotest",
    "recordplay",
    "sip",
    "nosip",
    "streaming",
    "textroom",
    "videocall",
    "voicemail",
    "duktape",
    "lua",
)
UNUSED_TRANSPORTS = ("http", "mqtt", "nanomsg", "pfunix", "rabbitmq")


def _libraries(names: tuple[str, ...]) -> str:
    return ",".join(f"libjanus_{name}.so" for name in names)


def janus_available() -> bool:
    return shutil.which("janus") is not None or os.path.exists(JANUS)


def _write_config(folder: Path, address: str, event_loops: int) -> None:
    (folder / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{folder}"
    plugins_folder = "{LIB}/plugins"
    transports_folder = "{LIB}/transports"
    events_folder = "{LIB}/events"
    loggers_folder = "{LIB}/loggers"
    debug_level = 4
    interface = "{address}"
    event_loops = {event_loops}
    session_timeout = 120
}}
media: {{
    rtp_port_range = "30000-39999"
}}
nat: {{
    nice_debug = false
    ice_enforce_list = "{address}"
    ignore_mdns = true
}}
plugins: {{
    disable = "{_libraries(UNUSED_PLUGINS)}"
}}
transports: {{
    disable = "{_libraries(UNUSED_TRANSPORTS)}"
}}
loggers: {{
    disable = "libjanus_jsonlog.so"
}}
events: {{
    broadcast = false
}}
"""
    )
    (folder / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")
    (folder / "janus.transport.websockets.jcfg").write_text(
        f"""general: {{
    json = "compact"
    ws = true
    ws_port = {WS_PORT}
    ws_ip = "{address}"
    wss = false
}}
admin: {{
    admin_ws = false
    admin_wss = false
}}
"""
    )


def _wait_listening(address: str, port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"janus exited with {process.returncode} during start-up")
        try:
            with socket.create_connection((address, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError("janus did not listen within 20 s")


@contextmanager
def run_janus(network: BenchNetwork, event_loops: int) -> Iterator[tuple[str, int]]:
    """Janus in the namespace; yields (its WebSocket URL, its pid)."""
    with tempfile.TemporaryDirectory(prefix="janus-bench-") as tmp:
        folder = Path(tmp)
        _write_config(folder, network.server_address, event_loops)
        log = open(folder / "janus.log", "wb")  # noqa: SIM115 (closed below)
        process = subprocess.Popen(
            network.command([JANUS, "-F", str(folder), "-C", str(folder / "janus.jcfg")]),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_listening(network.server_address, WS_PORT, process)
            # `ip netns exec` execs its command: this pid is Janus's own.
            yield f"ws://{network.server_address}:{WS_PORT}", process.pid
        except Exception:
            log.flush()
            print((folder / "janus.log").read_text(errors="replace")[-3000:])
            raise
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            log.close()
