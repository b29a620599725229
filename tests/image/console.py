#!/usr/bin/env python3
"""Boots a Weft PXE set (kernel + initramfs) under QEMU and drives its serial console.

Usage: console.py IMAGE_DIR|ISO SCENARIO
  SCENARIO "node":        two NICs and a CIDATA volume: their modules load by modalias, one NIC
                          leases by DHCP, the other takes ip='s static address, the volume's
                          meta-data names the node and its user-data registers a service,
                          agent.config=http://... is fetched and registers another; the console
                          comes up; status, services, members, ip, ps, help answer; poweroff.
  SCENARIO "maintenance": a broken key in the CIDATA volume's user-data lands the node in
                          maintenance mode with the reason on the console; `config set` and
                          `continue` bring it up; poweroff.
  SCENARIO "iso-bios", "iso-uefi": the hybrid ISO (its path instead of IMAGE_DIR) boots by
                          SeaBIOS or by OVMF to the console, the agent answers, poweroff.
  SCENARIO "disk":        the raw disk image (its path) boots by OVMF and takes the config its
                          config partition holds.
  SCENARIO "fleet", "pxe": see fleet_test.sh.
Prints one "ok: ..." or "FAIL: ..." line per check and "figure: ..." lines; exits 0 when every
check passed. Every wait has a deadline; QEMU is killed at the end whatever happened.
"""
import os
import re
import subprocess
import sys
import threading
import time

OVMF = "/usr/share/ovmf/OVMF.fd"
BOOT_DEADLINE_S = 90      # software emulation: a few seconds here, but CI machines are shared
ANSWER_DEADLINE_S = 20
POWEROFF_DEADLINE_S = 30


class Vm:
    def __init__(self, image_dir, append, nics=(), drives=(), iso=None, uefi=False, tap=None, netns=None, pxe=False,
                 disk_boot=False, guestfwd=None):
        self.start = time.monotonic()
        cmd = (["ip", "netns", "exec", netns] if netns else []) + [
            "qemu-system-x86_64", "-m", "512", "-smp", "1", "-nographic", "-no-reboot", "-nodefaults",
            "-monitor", "none", "-serial", "stdio"]
        if tap:
            # A tap device on the test's own bridge, inside the test's namespace: (ifname, mac).
            cmd += ["-netdev", "tap,id=t0,ifname=%s,script=no,downscript=no" % tap[0],
                    "-device", "virtio-net-pci,netdev=t0,mac=%s" % tap[1]]
        # NICs on QEMU's user network with restrict=on: the guest reaches nothing outside QEMU.
        for i, model in enumerate(nics):
            # guestfwd: a guest connection to that address runs a command on the host with the
            # connection as its stdio (a canned HTTP answer) -- still nothing leaves QEMU.
            extra = ",guestfwd=%s" % guestfwd if guestfwd else ""
            cmd += ["-netdev", "user,id=n%d,restrict=on%s" % (i, extra), "-device", "%s,netdev=n%d" % (model, i)]
        for path in drives:
            cmd += ["-drive", "file=%s,if=virtio,format=raw%s" % (path, "" if disk_boot else ",readonly=on")]
        if disk_boot:
            # The firmware boots the first drive's EFI system partition.
            cmd += ["-bios", OVMF]
        elif pxe:
            # The NIC's own iPXE ROM boots from the network (DHCP, then the boot file it names).
            cmd += ["-boot", "n"]
        elif iso:
            # The ISO's own boot loader and command line; UEFI by Debian's OVMF.
            cmd += ["-cdrom", iso] + (["-bios", OVMF] if uefi else [])
        else:
            cmd += ["-kernel", os.path.join(image_dir, "vmlinuz"), "-initrd", os.path.join(image_dir, "initramfs.gz"),
                    "-append", "console=ttyS0 panic=-1 quiet " + append]
        self.cmd = " ".join(cmd)
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.out = b""
        self.lock = threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        while True:
            chunk = self.proc.stdout.read1(4096)
            if not chunk:
                return
            with self.lock:
                self.out += chunk

    def text(self):
        with self.lock:
            return self.out.decode("utf-8", "replace")

    def expect(self, pattern, deadline_s, since=0):
        """Waits until `pattern` appears in the output after offset `since`; the match or None."""
        end = time.monotonic() + deadline_s
        rx = re.compile(pattern, re.M)
        while time.monotonic() < end:
            m = rx.search(self.text(), since)
            if m:
                return m
            if self.proc.poll() is not None:
                return rx.search(self.text(), since)
            time.sleep(0.05)
        return None

    def command(self, line, answer, deadline_s=ANSWER_DEADLINE_S):
        """Types `line` and waits for `answer` in what follows, then for the next prompt."""
        since = len(self.text())
        self.proc.stdin.write((line + "\n").encode())
        self.proc.stdin.flush()
        m = self.expect(answer, deadline_s, since)
        if m:
            self.expect(r"weft> ", deadline_s, m.end())
        return m

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


FAILS = 0


def check(what, ok):
    global FAILS
    print(("ok: " if ok else "FAIL: ") + what, flush=True)
    if not ok:
        FAILS += 1


def poweroff(vm):
    t0 = time.monotonic()
    vm.proc.stdin.write(b"poweroff\n")
    vm.proc.stdin.flush()
    try:
        code = vm.proc.wait(timeout=POWEROFF_DEADLINE_S)
    except subprocess.TimeoutExpired:
        code = None
    check("poweroff stops the agent and powers the machine off (QEMU exits %s in %.1f s)" % (code, time.monotonic() - t0),
          code == 0 and "weft: powering off" in vm.text())


def cidata(work, meta, user):
    """A NoCloud CIDATA volume (ISO 9660) holding `meta` and `user`; its path."""
    d = os.path.join(work, "cidata")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "meta-data"), "w") as f:
        f.write(meta)
    with open(os.path.join(d, "user-data"), "w") as f:
        f.write(user)
    path = os.path.join(work, "cidata.iso")
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", "CIDATA", "-J", "-r", "-o", path, d], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path


def node(image_dir):
    volume = cidata(image_dir, "instance-id: iid-1\nlocal-hostname: qemu1\n",
                    '{"service": {"name": "web", "id": "web-1", "port": 8080, "tags": ["cidata"]}}\n')
    answer = os.path.join(image_dir, "url-answer.http")
    body = '{"service": {"name": "fromurl", "id": "fromurl-1", "port": 9090}}\n'
    with open(answer, "w") as f:
        f.write("HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    vm = Vm(image_dir, "ip=192.168.77.5:::24::eth1:off agent.config=http://10.0.2.100/node.json",
            nics=("virtio-net-pci", "e1000"), drives=(volume,), guestfwd="tcp:10.0.2.100:80-cmd:cat %s" % answer)
    print("qemu: " + vm.cmd, flush=True)
    try:
        m = vm.expect(r"weft> ", BOOT_DEADLINE_S)
        check("the console comes up on ttyS0", m is not None)
        if m is None:
            print(vm.text()[-3000:])
            return
        print("figure: QEMU start to console prompt %.1f s" % (time.monotonic() - vm.start), flush=True)
        check("init said it keeps state in memory (no data disk)", "no data disk" in vm.text())
        mods = re.search(r"kernel modules: \d+ devices, \d+ loaded:(.*)", vm.text())
        check("init loaded the NICs' modules by their modaliases, dependencies first (%s)" % (mods.group(1).strip() if mods else "none"),
              mods is not None and re.search(r"virtio_pci .*virtio_net", mods.group(1)) is not None and " e1000" in mods.group(1))
        check("... and brought their links up", re.search(r"links up: lo( eth[01]){2}", vm.text()) is not None)
        check("init found the CIDATA volume (virtio_blk loaded by modalias, isofs on demand through /sbin/modprobe)",
              re.search(r"config volume CIDATA on vda \(iso9660\): user-data is /etc/agent/60-cidata.json", vm.text()) is not None)
        healthy = None
        end = time.monotonic() + BOOT_DEADLINE_S
        while healthy is None and time.monotonic() < end:
            healthy = vm.command("status", r"health:\s+healthy", 3)
        check("`status` answers: the agent runs, healthy", healthy is not None)
        if healthy:
            print("figure: QEMU start to the agent answering healthy %.1f s" % (time.monotonic() - vm.start), flush=True)
        text = vm.text()
        check("... named by the volume's meta-data (local-hostname), with the worker profile's role",
              re.search(r"node:\s+qemu1", text) is not None and re.search(r"roles:\s+worker", text) is not None)
        check("the volume's user-data took effect: its service is registered",
              vm.command("services", r"web-1\s+web\s") is not None)
        check("`members` lists the node alive", vm.command("members", r"qemu1\s+\S+\s+alive\s+worker") is not None)
        check("`ip` shows loopback up", vm.command("ip", r"lo\s+up\s+127\.0\.0\.1") is not None)
        check("... eth0 with the address Weft's DHCP client leased from QEMU's (10.0.2.15)",
              re.search(r"eth0\s+up\s+10\.0\.2\.15", vm.text()) is not None)
        check("... and eth1 with the static address from ip= (out of DHCP)", re.search(r"eth1\s+up\s+192\.168\.77\.5", vm.text()) is not None)
        check("init fetched agent.config=http://... once the network was up",
              "agent.config: fetched http://10.0.2.100/node.json into /etc/agent/70-url.json" in vm.text())
        check("... and the fetched config took effect: its service is registered",
              vm.command("services", r"fromurl-1\s+fromurl\s") is not None)
        ps = vm.command("ps", r"^\s*(\d+)\s+(\d+)\s+agent\s*$")
        check("`ps` lists the agent with its resident memory", ps is not None)
        if ps:
            print("figure: agent resident memory on the booted worker %s KiB" % ps.group(2), flush=True)
        check("`help` lists the console's own commands", vm.command("help", r"maintenance\s+why the node") is not None)
        check("an unknown command is agentctl's usage error, and the console carries on",
              vm.command("frobnicate", r"\(exit 2\)") is not None)
        check("`maintenance` says the node is not in maintenance mode",
              vm.command("maintenance", r"not in maintenance mode") is not None)
        poweroff(vm)
    finally:
        vm.stop()


def maintenance(image_dir):
    work = os.path.join(image_dir, "broken")
    os.makedirs(work, exist_ok=True)
    volume = cidata(work, "local-hostname: qemu2\n", '{"log_level": "shouting"}\n')
    vm = Vm(image_dir, "", drives=(volume,))
    try:
        m = vm.expect(r"maintenance mode: the agent's configuration is wrong", BOOT_DEADLINE_S)
        check("a broken config (the CIDATA volume's user-data) lands the node in maintenance mode, said on the console", m is not None)
        if m is None:
            print(vm.text()[-3000:])
            return
        vm.expect(r"weft> ", ANSWER_DEADLINE_S)
        check("`maintenance` tells why and what to do",
              vm.command("maintenance", r"configuration is wrong \(exit 2\)") is not None)
        check("`log` shows the agent's own message naming the key",
              vm.command("log", r"configuration error:[\s\S]*log_level") is not None)
        check("the agent is not restarted in a loop (no restart message)", "starting it again" not in vm.text())
        check("`config show` lists the volume's file with the bad value",
              vm.command("config show", r"60-cidata\.json\s+\{\"log_level\": \"shouting\"\}") is not None)
        check("`config set log_level info` keeps the fix in 90-console.json",
              vm.command("config set log_level info", r'log_level = "info" \(in /etc/agent/90-console\.json') is not None)
        vm.command("continue", r"starting the agent again")
        healthy = None
        end = time.monotonic() + BOOT_DEADLINE_S
        while healthy is None and time.monotonic() < end:
            healthy = vm.command("status", r"health:\s+healthy", 3)
        check("`continue` brings the node up: the agent answers `status`, healthy", healthy is not None)
        check("... and `maintenance` says the node left it", vm.command("maintenance", r"not in maintenance mode") is not None)
        poweroff(vm)
    finally:
        vm.stop()


def iso_boot(iso_path, uefi):
    how = "UEFI (OVMF)" if uefi else "BIOS (SeaBIOS)"
    vm = Vm(os.path.dirname(iso_path), "", iso=iso_path, uefi=uefi)
    try:
        m = vm.expect(r"weft> ", BOOT_DEADLINE_S)
        check("the hybrid ISO boots by %s to the console" % how, m is not None)
        if m is None:
            print(vm.text()[-3000:])
            return
        print("figure: ISO by %s: QEMU start to console prompt %.1f s" % (how, time.monotonic() - vm.start), flush=True)
        healthy = None
        end = time.monotonic() + BOOT_DEADLINE_S
        while healthy is None and time.monotonic() < end:
            healthy = vm.command("status", r"health:\s+healthy", 3)
        check("... and its agent answers `status`, healthy", healthy is not None)
        poweroff(vm)
    finally:
        vm.stop()


def disk(disk_path):
    """The raw GPT disk image, its config partition's node.json written after the build (as an
    operator would), boots by UEFI (OVMF) and takes that config."""
    vm = Vm(os.path.dirname(disk_path), "", drives=(disk_path,), iso=None, uefi=True, disk_boot=True)
    try:
        m = vm.expect(r"weft> ", BOOT_DEADLINE_S)
        check("the raw disk image boots by UEFI (OVMF) to the console", m is not None)
        if m is None:
            print(vm.text()[-3000:])
            return
        print("figure: disk image by UEFI (OVMF): QEMU start to console prompt %.1f s" % (time.monotonic() - vm.start), flush=True)
        check("init read the config partition (WEFTCONFIG, FAT) on the disk",
              re.search(r"config partition WEFTCONFIG on vda2 \(vfat\): node\.json", vm.text()) is not None)
        healthy = None
        end = time.monotonic() + BOOT_DEADLINE_S
        while healthy is None and time.monotonic() < end:
            healthy = vm.command("status", r"health:\s+healthy", 3)
        check("the agent answers, named by the partition's node.json",
              healthy is not None and re.search(r"node:\s+disk1", vm.text()) is not None)
        check("... and runs its service", vm.command("services", r"db-1\s+db\s") is not None)
        check("init mounted the image's data partition (ext4, WEFT-DATA) at the agent's data_dir",
              re.search(r"data disk WEFT-DATA on vda3 \(ext4\) at /var/lib/agent", vm.text()) is not None)
        first = re.search(r"node id:\s+(\S+)", vm.text())
        poweroff(vm)
    finally:
        vm.stop()
    # A reboot keeps the node's state: the same node id, read from the data disk.
    vm = Vm(os.path.dirname(disk_path), "", drives=(disk_path,), uefi=True, disk_boot=True)
    try:
        again = None
        if vm.expect(r"weft> ", BOOT_DEADLINE_S):
            end = time.monotonic() + BOOT_DEADLINE_S
            while again is None and time.monotonic() < end:
                again = vm.command("status", r"node id:\s+(\S+)", 3)
        check("after a reboot the node keeps its state on the data disk (node id %s, then %s)"
              % (first.group(1) if first else "?", again.group(1) if again else "?"),
              first is not None and again is not None and first.group(1) == again.group(1))
        poweroff(vm)
    finally:
        vm.stop()


def fleet(image_dir):
    """Three VMs on the bridge of the namespace FLEET_NETNS (made by fleet_test.sh, with dnsmasq
    handing out 10.88.0.1N to MAC 52:54:00:88:00:0N), each with its CIDATA volume in
    FLEET_DIR/vmN.iso; vm1 a foundation with the service "web"."""
    netns, work = os.environ["FLEET_NETNS"], os.environ["FLEET_DIR"]
    vms = []
    try:
        for n in (1, 2, 3):
            vms.append(Vm(image_dir, "", drives=(os.path.join(work, "vm%d.iso" % n),),
                          tap=("tap%d" % n, "52:54:00:88:00:0%d" % n), netns=netns))
        for n, vm in enumerate(vms, 1):
            m = vm.expect(r"weft> ", BOOT_DEADLINE_S * 2)
            check("vm%d boots to its console" % n, m is not None)
            if m is None:
                print(vm.text()[-3000:])
                return
        for n, vm in enumerate(vms, 1):
            lease = re.search(r"dhcp: eth0: leased (10\.88\.0\.\d+)/24 10\.88\.0\.1 from 10\.88\.0\.1", vm.text())
            check("vm%d leased its address by Weft's DHCP client from dnsmasq (%s)" % (n, lease.group(1) if lease else "none"),
                  lease is not None and lease.group(1) == "10.88.0.1%d" % n)
        joined = None
        end = time.monotonic() + BOOT_DEADLINE_S * 2
        while joined is None and time.monotonic() < end:
            joined = vms[0].command("members -status alive", r"vm3\s+10\.88\.0\.13:\d+\s+alive", 3)
            if joined:
                joined = re.search(r"vm2\s+10\.88\.0\.12:\d+\s+alive", vms[0].text()) and joined
        check("all three are alive members, joined by agent.retry_join with the gossip key from their config", joined is not None)
        answer = None
        while answer is None and time.monotonic() < end:
            answer = vms[2].command("dns web.service.weft", r"10\.88\.0\.11", 3)
        check("vm3's DNS server answers for the service registered on vm1", answer is not None)
        if answer is None:
            vms[2].command("log 15", r"weft> ", 5)
            vms[0].command("catalog services", r"weft> ", 5)
            print(vms[2].text()[-2500:])
            print(vms[0].text()[-1500:])
        if answer:
            print("figure: QEMU start to three nodes joined and vm3 answering DNS for vm1's service %.1f s"
                  % (time.monotonic() - vms[0].start), flush=True)
        for vm in vms:
            vm.proc.stdin.write(b"poweroff\n")
            vm.proc.stdin.flush()
        for n, vm in enumerate(vms, 1):
            try:
                code = vm.proc.wait(timeout=POWEROFF_DEADLINE_S)
            except subprocess.TimeoutExpired:
                code = None
            check("vm%d powers off (QEMU exits %s)" % (n, code), code == 0)
    finally:
        for vm in vms:
            vm.stop()


def pxe(image_dir):
    """A fourth VM with no disk boots by PXE: QEMU's iPXE leases from dnsmasq in FLEET_NETNS,
    which names http://10.88.0.1:8080/boot.ipxe, a Weft foundation (agent dev with boot.dir)
    whose socket is FOUNDATION_SOCK; the worker it boots joins that foundation's fleet."""
    netns, sock = os.environ["FLEET_NETNS"], os.environ["FOUNDATION_SOCK"]
    ctl = os.path.join(os.path.dirname(os.environ["AGENT"]), "agentctl")
    vm = Vm(image_dir, "", tap=("tap4", "52:54:00:88:00:04"), netns=netns, pxe=True)
    try:
        m = vm.expect(r"weft> ", BOOT_DEADLINE_S * 2)
        check("a diskless VM boots by PXE from the foundation's /boot.ipxe to its console", m is not None)
        if m is None:
            print(vm.text()[-3000:])
            return
        print("figure: PXE (iPXE over HTTP from the foundation) to console prompt %.1f s" % (time.monotonic() - vm.start), flush=True)
        check("iPXE fetched the kernel and initramfs from the foundation (http://10.88.0.1:8080/boot/...)",
              "10.88.0.1:8080/boot" in vm.text() or "boot/worker" in vm.text())
        joined = False
        end = time.monotonic() + BOOT_DEADLINE_S
        while not joined and time.monotonic() < end:
            out = subprocess.run([ctl, "-socket", sock, "members", "-status", "alive"], capture_output=True, text=True).stdout
            joined = re.search(r"weft-880004\s+10\.88\.0\.14:\d+\s+alive", out) is not None
            if not joined:
                time.sleep(1)
        check("the PXE-booted worker (named by its MAC) joined the foundation's fleet (retry_join from the boot script)", joined)
        poweroff(vm)
    finally:
        vm.stop()


if __name__ == "__main__":
    scenarios = {"node": node, "maintenance": maintenance, "iso-bios": lambda p: iso_boot(p, False),
                 "iso-uefi": lambda p: iso_boot(p, True), "fleet": fleet, "pxe": pxe, "disk": disk}
    if len(sys.argv) != 3 or sys.argv[2] not in scenarios:
        print(__doc__)
        sys.exit(2)
    scenarios[sys.argv[2]](sys.argv[1])
    sys.exit(1 if FAILS else 0)
