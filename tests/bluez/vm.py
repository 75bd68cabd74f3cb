"""Host side of tier B: boot a small Linux VM with real BlueZ and run guest.py in it, once.

The machines the suite runs on have no Bluetooth in their kernel, so virtme-ng boots Debian's
distribution kernel (it has the hci_vhci module) under QEMU, on the host's own root file system
mounted read-only, and runs ``guest.py``. Results come back through the one directory the guest
may write (``--rwdir``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bluez.scenarios import ONLY_ENV_VAR, RESULTS_FILE

GUEST = Path(__file__).with_name("guest.py")
BLUETOOTHD = ("/usr/libexec/bluetooth/bluetoothd", "/usr/lib/bluetooth/bluetoothd")
# Boot (about 30 s under emulation) plus some fifteen CLI runs of up to a minute each on a busy
# two-core machine; a hung guest must not hang CI.
RESULTS_ENV_VAR = "TILTMON_BLUEZ_RESULTS"  # a directory of an earlier run: assert, do not boot
VM_TIMEOUT_S = float(os.environ.get("TILTMON_BLUEZ_TIMEOUT", "1500"))
INSTALL_HINT = (
    "apt-get install --no-install-recommends qemu-system-x86 linux-image-amd64 bluez dbus kmod"
    " busybox-static; pip install virtme-ng (or: pip install -e '.[bluez]')"
)


class VmError(RuntimeError):
    """The VM did not boot or the guest did not report."""


@dataclass(frozen=True, slots=True)
class Prerequisites:
    vng: str
    kernel: Path


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def _vhci_kernel() -> Path | None:
    """The newest /boot kernel whose modules include hci_vhci."""
    for image in sorted(Path("/boot").glob("vmlinuz-*"), reverse=True):
        release = image.name.removeprefix("vmlinuz-")
        dep = Path("/lib/modules") / release / "modules.dep"
        if dep.is_file() and "hci_vhci.ko" in dep.read_text(errors="replace"):
            return image
    return None


def find_prerequisites() -> tuple[Prerequisites | None, list[str]]:
    """What tier B needs on the host, or what is missing (one phrase each)."""
    missing: list[str] = []
    vng = shutil.which("vng") or shutil.which("vng", path=str(Path(sys.executable).parent))
    if vng is None:
        missing.append("vng (virtme-ng)")
    if shutil.which("qemu-system-x86_64") is None:
        missing.append("qemu-system-x86_64")
    if not any(Path(p).exists() for p in ("/bin/busybox", "/usr/bin/busybox")):
        missing.append("busybox (static, for virtme-ng's initramfs)")
    kernel = _vhci_kernel()
    if kernel is None:
        missing.append("a /boot kernel with the hci_vhci module (linux-image-amd64)")
    if not any(Path(p).exists() for p in BLUETOOTHD) or shutil.which("btmgmt") is None:
        missing.append("bluetoothd and btmgmt (bluez)")
    if shutil.which("dbus-daemon") is None:
        missing.append("dbus-daemon (dbus)")
    if shutil.which("modprobe") is None:
        missing.append("modprobe (kmod)")
    if missing or vng is None or kernel is None:
        return None, missing
    return Prerequisites(vng, kernel), []


def vm_command(pre: Prerequisites, out: Path) -> list[str]:
    guest = f"{sys.executable} {GUEST} --out {out}"
    only = os.environ.get(ONLY_ENV_VAR, "").replace(" ", "")
    if only:
        guest += f" --only {only}"
    # root in the guest: it loads a module and starts system daemons (the host may be anyone).
    command = [pre.vng, "-r", str(pre.kernel), "--user", "root", "--cpus", "2", "--memory", "2G"]
    # Nested KVM hangs on the usual cloud VMs; emulation is slow but works everywhere.
    if os.environ.get("TILTMON_BLUEZ_KVM") != "1":
        command.append("--disable-kvm")
    return [*command, "--rwdir", str(out), "--exec", guest]


def run_guest(pre: Prerequisites, out: Path) -> dict[str, Any]:
    """Boot the VM, run every scenario, return the guest's results (with the boot's cost)."""
    log = out / "vm.log"
    started = time.monotonic()
    with log.open("wb") as sink:
        try:
            finished = subprocess.run(
                vm_command(pre, out),
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                cwd=out,
                timeout=VM_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise VmError(f"the VM ran over {VM_TIMEOUT_S:.0f} s\n{_tail(log)}") from exc
    if not (out / RESULTS_FILE).exists():
        raise VmError(f"the guest wrote no results (vng exit {finished.returncode})\n{_tail(log)}")
    results = load_results(out)
    results["vm_wall_s"] = round(time.monotonic() - started, 1)
    if not results.get("complete"):
        results["incomplete"] = (
            f"the guest stopped early (vng exit {finished.returncode}):"
            f" {results.get('error', 'no error reported')}\n{_tail(log)}"
        )
    return results


def load_results(out: Path) -> dict[str, Any]:
    """What a guest reported into ``out`` (its recordings lie beside)."""
    results: dict[str, Any] = json.loads((out / RESULTS_FILE).read_text())
    results["out"] = str(out)
    return results


def _tail(log: Path, lines: int = 40) -> str:
    text = log.read_text(errors="replace") if log.exists() else ""
    # The guest console mixes in escape sequences; keep the readable part.
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    return "\n".join(text.splitlines()[-lines:])
