"""The Quick start as a user runs it: ``careloop serve --demo`` in embedded mode (its own
closed nats-server), then ``careloop post`` and ``careloop token`` from a second terminal.
Start-up says how to get a token and never prints or logs one."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from services.partners.demo import story
from tests.helpers import CLIENT_ID, EXAMPLES

CLI = [sys.executable, "-m", "services.cli"]
ROOT = Path(__file__).resolve().parents[2]


def test_quick_start_in_embedded_mode(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARELOOP_") and k != "NATS_URL"}
    env.update(CARELOOP_DATA_DIR=str(tmp_path / "data"), CARELOOP_HTTP_PORT="0",
               CARELOOP_LOG_FORMAT="json", PYTHONUNBUFFERED="1")
    output = tmp_path / "serve.log"
    with output.open("wb") as sink:
        serve = subprocess.Popen([*CLI, "serve", "--demo"], cwd=ROOT, env=env, stdout=sink,
                                 stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while "token:" not in output.read_text() and time.monotonic() < deadline:
            assert serve.poll() is None, output.read_text()
            time.sleep(0.2)
        started = output.read_text()
        assert "token: .venv/bin/careloop token" in started
        assert started.count("demo:") == len(list(story())) and "rejected" not in started
        assert "Web:  http://" in started and "/ui/  (sign in as one of the demo people)" in started

        posted = subprocess.run([*CLI, "post", str(EXAMPLES / "referral.made.json"), "--new-id"],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                                check=False)
        assert posted.returncode == 0, posted.stdout + posted.stderr
        assert json.loads(posted.stdout)["status"] == "accepted"
        stranger = subprocess.run(
            [*CLI, "post", str(EXAMPLES / "referral.made.json"), "--source", "unknown-system"],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
        assert stranger.returncode != 0 and "no NATS user" in stranger.stderr + stranger.stdout

        feed = subprocess.run(
            [*CLI, "feed", "harbor-cases", "--organisation", "harbor-housing"], cwd=ROOT,
            env=env, capture_output=True, text=True, timeout=120, check=False)
        assert feed.returncode == 0, feed.stdout + feed.stderr
        assert f'"client_id": "{CLIENT_ID}"' in feed.stdout
        assert '"role": "housing-advocate"' in feed.stdout
        other = subprocess.run(  # riverside's system may not read harbor's feed
            [*CLI, "feed", "riverside-ehr", "--organisation", "harbor-housing"], cwd=ROOT,
            env=env, capture_output=True, text=True, timeout=120, check=False)
        assert other.returncode != 0 and CLIENT_ID not in other.stdout

        token = subprocess.run([*CLI, "token", "--user", "co-5001", "--role", "coordinator",
                                "--organisation", "riverside-cmhc"], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=60, check=True).stdout
        http_url = json.loads((tmp_path / "data" / "runtime.json").read_text())["http_url"]
        plan = httpx.get(f"{http_url}/clients/{CLIENT_ID}/care-plan", timeout=30,
                         headers={"Authorization": f"Bearer {token.strip()}"})
        assert plan.status_code == 200, plan.text
    finally:
        serve.send_signal(signal.SIGINT)
        try:
            serve.wait(timeout=60)
        except subprocess.TimeoutExpired:
            serve.kill()
            serve.wait()
    everything = output.read_text()
    assert "careloop_stopped" in everything
    assert "eyJ" not in everything  # no JWT (header base64) in the output or the logs
    assert "Bearer" not in everything
