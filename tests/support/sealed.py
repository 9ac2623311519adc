"""Run pytest against the catalog emulator inside a loopback-only network namespace.

``run_sealed(scenario)`` (outer side) starts ``unshare -rn python sealed.py IN OUT``: a
new user + network namespace where only ``lo`` exists, so nothing the SDK tries can
leave the machine.  Inside, ``main`` brings ``lo`` up, starts one :class:`FakeCatalog`
and runs the scenario's steps one after the other, each an inner ``python -m pytest``
subprocess with its own faults and wiring, optionally interrupted with SIGINT once the
emulator has seen a given request.  It writes, per step, the exit status, duration,
output and the emulator's request log, as JSON, for the outer test to assert on.
``Sealed`` is one inner project (a copy of ``bench_tests``) with its own model cache.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
# Proxy and CA settings of the machine must not reach the inner runs.
_SCRUBBED = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
_SCRUBBED += ("NO_PROXY", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def sealing_problem() -> str | None:
    """Why this machine cannot make a loopback-only namespace (None when it can)."""
    if shutil.which("openssl") is None:
        return "the openssl command (for the emulator's CA) is missing"
    if shutil.which("unshare") is None:
        return "the unshare command is missing"
    try:
        done = subprocess.run(["unshare", "-rn", "true"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unshare -rn failed: {exc}"
    if done.returncode != 0:
        return f"unshare -rn is not permitted here: {done.stderr.strip() or done.returncode}"
    return None


def run_sealed(scenario: dict[str, Any], work: Path, timeout_s: float = 240) -> list[dict[str, Any]]:
    """Run ``scenario`` in a fresh namespace; returns one result dict per step."""
    work.mkdir(parents=True, exist_ok=True)
    given, result = work / "scenario.json", work / "result.json"
    given.write_text(json.dumps({**scenario, "work": str(work)}))
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    done = subprocess.run(
        ["unshare", "-rn", sys.executable, str(Path(__file__).resolve()), str(given), str(result)],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        env=env,
    )
    if done.returncode != 0 or not result.is_file():
        raise AssertionError(f"sealed driver failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    steps: list[dict[str, Any]] = json.loads(result.read_text())
    return steps


TINY = REPO / "pytest_foundry" / "runtime" / "models" / "tiny"
TINY_B = REPO / "tests" / "models" / "tiny-b"
# Two short prompts keep each inner bench run to a few seconds.
PROMPTS = [
    {"id": "rag", "prompt": "Explain retrieval augmented generation in one sentence."},
    {"id": "privacy", "prompt": "Name one privacy benefit of local inference."},
]


@dataclass
class Sealed:
    """One inner project (a copy of bench_tests) run in sealed namespaces."""

    root: Path
    work: Path
    cache_dir: Path
    report_dir: Path

    def args(self, *extra: str, report: bool = False) -> list[str]:
        return [
            "bench_tests",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:hypothesispytest",
            f"--foundry-cache-dir={self.cache_dir}",
            f"--foundry-snapshot-dir={self.root / 'snapshots'}",
            f"--foundry-prompts={self.root / 'prompts.json'}",
            f"--foundry-report={self.report_dir if report else 'none'}",
            f"--basetemp={self.work / 'basetemp'}",
            "--foundry-rounds=2",
            "--foundry-warmup=0",
            "--foundry-cold-starts=1",
            "--foundry-max-tokens=8",
            *extra,
        ]

    def run(self, *steps: dict[str, Any], name: str = "run") -> list[dict[str, Any]]:
        scenario = {
            "tiny": str(TINY),
            "tiny_b": str(TINY_B),
            "steps": [{"cwd": str(self.root), **step} for step in steps],
        }
        return run_sealed(scenario, self.work / name)

    def cached_model_folders(self) -> list[Path]:
        return sorted(p.parent for p in self.cache_dir.rglob("inference_model.json"))


def make_sealed(tmp_path: Path) -> Sealed:
    root = tmp_path / "project"
    shutil.copytree(REPO / "bench_tests", root / "bench_tests")
    (root / "prompts.json").write_text(json.dumps({"prompts": PROMPTS}))
    # An ini file of its own: the inner rootdir is this folder, not the repository.
    (root / "pytest.ini").write_text("[pytest]\n")
    return Sealed(root=root, work=tmp_path / "work", cache_dir=tmp_path / "cache", report_dir=root / "report")


def _loopback_up() -> None:
    siocgifflags, siocsifflags, iff_up = 0x8913, 0x8914, 0x1
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack("16sh", b"lo", 0)
        flags = struct.unpack("16sh", fcntl.ioctl(sock, siocgifflags, request))[1]
        fcntl.ioctl(sock, siocsifflags, struct.pack("16sh", b"lo", flags | iff_up))


def _run_step(fake: Any, step: dict[str, Any], work: Path, index: int) -> dict[str, Any]:
    from fake_catalog import Faults

    fake.faults = Faults(
        catalog_status=step.get("catalog_status"),
        registry_404=set(step.get("registry_404", [])),
        stall=dict(step.get("stall", {})),
        truncate=dict(step.get("truncate", {})),
        stall_s=float(step.get("stall_s", 20.0)),
        slow=dict(step.get("slow", {})),
    )
    fake.clear()
    env = {key: value for key, value in os.environ.items() if key not in _SCRUBBED}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    args = [arg.format(**_wiring(fake)) for arg in step["args"]]
    if step.get("wiring") == "proxy":
        env.update(fake.proxy_env())
    elif step.get("wiring") == "region":
        env["SSL_CERT_FILE"] = str(fake.ca_file)
        args += [f"--foundry-catalog-url={fake.catalog_url}", f"--foundry-catalog-region={fake.region}"]
    out, err = work / f"step{index}.out", work / f"step{index}.err"
    start = time.monotonic()
    with out.open("wb") as stdout, err.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-X", "faulthandler", "-m", "pytest", *args],
            cwd=step.get("cwd", work),
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
        interrupted_at = None
        trigger = step.get("interrupt_on")
        deadline = start + float(step.get("timeout_s", 120))
        while child.poll() is None and time.monotonic() < deadline:
            if trigger and interrupted_at is None:
                seen = [r for r in fake.requests(trigger["kind"]) if r.file == trigger.get("file", r.file)]
                if seen:
                    time.sleep(float(trigger.get("after_s", 0.5)))
                    child.send_signal(signal.SIGINT)
                    interrupted_at = time.monotonic() - start
            time.sleep(0.05)
        if child.poll() is None:
            # faulthandler (-X faulthandler) prints every thread's stack on SIGABRT:
            # a hung run says where it hung.
            child.send_signal(signal.SIGABRT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                child.wait(5)
            child.kill()
        returncode = child.wait(10)
    return {
        "returncode": returncode,
        "duration_s": time.monotonic() - start,
        "interrupted_at_s": interrupted_at,
        "stdout": out.read_text(errors="replace"),
        "stderr": err.read_text(errors="replace"),
        "requests": [asdict(r) for r in fake.requests()],
        # The files under a folder (the model cache) as this step left them.
        "files": sorted(
            p.relative_to(step["inspect"]).as_posix() for p in Path(step["inspect"]).rglob("*") if p.is_file()
        )
        if step.get("inspect") and Path(step["inspect"]).is_dir()
        else [],
        "wiring": _wiring(fake),
        "args": args,
    }


def _wiring(fake: Any) -> dict[str, str]:
    return {"catalog_url": fake.catalog_url, "region": fake.region, "ca_file": str(fake.ca_file)}


def main(argv: list[str]) -> int:
    scenario = json.loads(Path(argv[0]).read_text())
    work = Path(scenario["work"])
    _loopback_up()
    sys.path.insert(0, str(HERE))
    from fake_catalog import FakeCatalog, standard_variants

    variants = standard_variants(Path(scenario["tiny"]), Path(scenario["tiny_b"]))
    results = []
    with FakeCatalog(variants, work / "tls", lifetime_s=float(scenario.get("lifetime_s", 230))) as fake:
        for index, step in enumerate(scenario["steps"]):
            results.append(_run_step(fake, step, work, index))
    Path(argv[1]).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main(sys.argv[1:]))
