"""`turnout dev` as a newcomer runs it: a child process in its own session (as a terminal
would run it), driven through what its banner prints, stopped by a Ctrl-C to its group."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

_PYTHON_WARNING = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL) ")
BANNER_END = "Ctrl-C stops everything."
US_IP = "214.78.0.1"
BROWSER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"


@dataclass(frozen=True)
class Banner:
    edge: str
    api: str
    campaign_code: str
    secret: str
    workspace: str
    token: str
    tokens: dict[str, str]
    pause: str  # the URL of the banner's pause command
    if_match: str  # and the revision it sends
    postback_from: str = ""  # the X-Forwarded-For the banner's postback is sent with
    dashboard: str = ""  # the dashboard's URL (/ui on the API)


def parse_banner(text: str) -> Banner:
    def one(pattern: str) -> str:
        match = re.search(pattern, text)
        assert match is not None, f"{pattern!r} not in the banner:\n{text}"
        return match.group(1)

    keys = text.split("owner keys for this run", 1)[1].split("\n", 1)[1]
    tokens = dict(re.findall(r"^  (\S+)\s+(tk_\S+)$", keys.split("\n\n", 1)[0], re.M))
    return Banner(
        edge=one(r"edge\s+(http://\S+)"),
        api=one(r"report API\s+(http://\S+)"),
        campaign_code=one(r"'http://[^/]+/c/([^?']+)\?"),
        secret=one(r"&secret=([^'&\s]+)"),
        workspace=one(r"report --workspace (\S+)"),
        token=one(r"TURNOUT_API_KEY=(tk_\S+)"),
        tokens=tokens,
        pause=one(r"(?m)^\s+(http://\S+/pause)$"),
        if_match=one(r"-H 'If-Match: (\d+)'"),
        postback_from=next(iter(re.findall(r"-H 'X-Forwarded-For: (\S+)' '[^']*/postback", text)),
                           ""),
        dashboard=one(r"dashboard\s+(http://\S+/ui)"),
    )


class DevRun:
    """One `turnout dev` process; its output goes to files so nothing can block on a pipe."""

    def __init__(self, argv: Sequence[str], cwd: Path, data_dir: Path,
                 environ: Mapping[str, str] | None = None, extra: Sequence[str] = ()) -> None:
        self.data_dir = data_dir
        # Beside the data dir, so a test can tell whether dev wrote into its cwd.
        captures = data_dir.parent
        self.stdout_path, self.stderr_path = captures / "dev.stdout", captures / "dev.stderr"
        # A short attribution grace: a postback on a lander click nobody clicked through
        # waits that long for an LP click before it is written (ingest.lander_offers).
        environ = {"TURNOUT_INGEST_ATTRIBUTION_GRACE_S": "2",
                   **(os.environ if environ is None else environ),
                   "TURNOUT_DATA_DIR": str(data_dir)}
        with self.stdout_path.open("wb") as out, self.stderr_path.open("wb") as err:
            self.process = subprocess.Popen(
                [*argv, "dev", "--edge-port", "0", "--api-port", "0", *extra], cwd=cwd,
                env=environ,
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)

    def banner(self, timeout: float = 180.0) -> Banner:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.stdout_path.read_text()
            if BANNER_END in text:
                return parse_banner(text)
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"no banner (exit {self.process.poll()}):\n{self.output()}")

    def interrupt(self, timeout: float = 120.0, signum: int = signal.SIGINT) -> int:
        """Ctrl-C as a terminal sends it: SIGINT to the whole foreground process group
        (`signum` SIGTERM: as a service manager stops it)."""
        os.killpg(self.process.pid, signum)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            message = f"turnout dev did not stop in {timeout}s:\n{self.output()}"
            raise AssertionError(message) from None

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def child_pid(self, name: str) -> int:
        """The pid of dev's child `name` (ingest-api, edge, tansu...) from its pid file."""
        return int((self.data_dir / "run" / f"{name}.pid").read_text())

    def wait_said(self, text: str, timeout: float = 30.0) -> None:
        """Until dev's stderr says `text`."""
        deadline = time.monotonic() + timeout
        while text not in self.stderr_path.read_text():
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise AssertionError(f"dev never said {text!r}:\n{self.output()}")
            time.sleep(0.1)

    def logs(self) -> str:
        """stderr and every service log under the data dir."""
        parts = [self.stderr_path.read_text()]
        parts += [path.read_text(errors="replace")
                  for path in sorted((self.data_dir / "run").glob("*.log"))]
        return "\n".join(parts)

    def warnings(self) -> list[str]:
        """Python log records at WARNING or above, but the edge's note on its random
        per-run secret (expected without TURNOUT_EDGE_SECRET)."""
        return [line for line in self.logs().splitlines()
                if _PYTHON_WARNING.match(line) and "TURNOUT_EDGE_SECRET" not in line]

    def output(self) -> str:
        return f"--- stdout\n{self.stdout_path.read_text()}\n--- logs\n{self.logs()}"


def click(banner: Banner) -> str:
    """One US browser click on the banner's campaign; its click id."""
    response = httpx.get(f"{banner.edge}/c/{banner.campaign_code}", timeout=10,
                         headers={"User-Agent": BROWSER, "X-Forwarded-For": US_IP})
    assert response.status_code == 302, response.text
    # The example graph's landers carry the click id as `cid`.
    match = re.search(r"[?&]cid=([^&]+)", response.headers["location"])
    assert match is not None, response.headers["location"]
    return match.group(1)


def click_and_convert(banner: Banner) -> str:
    """One click, and one postback for it with the banner's network secret; the click id."""
    click_id = click(banner)
    with httpx.Client(timeout=10) as http:
        forwarded = {"x-forwarded-for": banner.postback_from} if banner.postback_from else {}
        postback = http.get(f"{banner.edge}/postback", params={
            "clickid": click_id, "payout": "12.50", "txid": "t1", "secret": banner.secret},
            headers=forwarded)
        assert postback.status_code == 200, postback.text
    return click_id


def pause_as_printed(banner: Banner) -> None:
    """The banner's curl: POST the pause with its key and If-Match."""
    response = httpx.post(banner.pause, timeout=10, headers={
        "Authorization": f"Bearer {banner.token}", "If-Match": banner.if_match})
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "paused"


def wait_until_not_served(banner: Banner, timeout: float = 10.0) -> float:
    """Seconds until the edge stops serving the banner's campaign (404)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        response = httpx.get(f"{banner.edge}/c/{banner.campaign_code}", timeout=10,
                             headers={"User-Agent": BROWSER, "X-Forwarded-For": US_IP})
        if response.status_code == 404:
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"the edge still serves {banner.campaign_code} after {timeout}s")


def report_clicks(banner: Banner) -> int:
    """Clicks of the banner's workspace in the report, all time."""
    response = httpx.get(f"{banner.api}/api/v1/report", timeout=10, params={
        "workspace": banner.workspace, "group_by": "campaign", "from": "all",
        "metrics": "clicks"},
        headers={"Authorization": f"Bearer {banner.token}"})
    assert response.status_code == 200, response.text
    return sum(row["clicks"] for row in response.json()["rows"])


def wait_for_clicks(banner: Banner, clicks: int, timeout: float = 30.0) -> int:
    """Poll the report until it counts `clicks` clicks (or more); the count then."""
    deadline = time.monotonic() + timeout
    while (seen := report_clicks(banner)) < clicks and time.monotonic() < deadline:
        time.sleep(0.2)
    return seen


def wait_for_report_row(banner: Banner, clicks: int = 1, conversions: int = 1,
                        timeout: float = 120.0) -> dict[str, Any]:
    """Poll the report API with the printed key until a row counts `clicks` clicks and
    `conversions` conversions (or more)."""
    params = {"workspace": banner.workspace, "group_by": "campaign", "from": "all",
              "metrics": "clicks,conversions"}
    headers = {"Authorization": f"Bearer {banner.token}"}
    deadline = time.monotonic() + timeout
    last: Any = None
    with httpx.Client(timeout=10) as http:
        while time.monotonic() < deadline:
            response = http.get(f"{banner.api}/api/v1/report", params=params, headers=headers)
            assert response.status_code == 200, response.text
            last = response.json()["rows"]
            for row in last:
                if row["clicks"] >= clicks and row["conversions"] >= conversions:
                    return row
            time.sleep(0.2)
    raise AssertionError(f"no row with {clicks} clicks and {conversions} conversions "
                         f"in {timeout}s: {last}")
