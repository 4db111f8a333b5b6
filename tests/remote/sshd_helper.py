"""A private OpenSSH sshd for the tests, on 127.0.0.1 and a free port.

Everything it uses lives in one temporary directory: its host keys, its
sshd_config (passed with -f), its pid file, its log (-E, LogLevel VERBOSE,
so that handshakes can be counted), the authorized_keys file and the user
key the tests log in with. It never reads or changes /etc/ssh and never
touches the system's sshd. The tests run as root (so does CI): the private
sshd lets root in with a key only (PermitRootLogin prohibit-password).

Usable from pytest (import it) and from anything else:
    python3 sshd_helper.py DIR    starts one, prints "PORT", runs until killed
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SSHD = shutil.which("sshd", path="/usr/sbin:/usr/bin:/sbin:/bin") or "/usr/sbin/sshd"
SSH_KEYGEN = shutil.which("ssh-keygen") or "/usr/bin/ssh-keygen"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def keygen(path, kind="ed25519", passphrase=""):
    path = Path(path)
    for p in (path, Path(str(path) + ".pub")):
        if p.exists():
            p.unlink()
    subprocess.run([SSH_KEYGEN, "-q", "-t", kind, "-N", passphrase, "-C", "homelab-test", "-f", str(path)],
                   check=True, stdin=subprocess.DEVNULL)
    return path


def fingerprint(pubkey_path):
    """SHA256:... of a public key file, as ssh-keygen -l prints it."""
    out = subprocess.run([SSH_KEYGEN, "-l", "-E", "sha256", "-f", str(pubkey_path)],
                         check=True, capture_output=True, text=True).stdout
    return out.split()[1]


def _children(pid):
    """Every live descendant of pid (from /proc)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for k in kids.get(p, []):
            out.append(k)
            todo.append(k)
    return out


class Sshd:
    def __init__(self, directory, port=None, path_prepend=None):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.path_prepend = path_prepend
        self.proc = None
        self.host_key = self.dir / "host_ed25519"
        self.user_key = self.dir / "id_ed25519"
        self.authorized_keys = self.dir / "authorized_keys"
        self.log = self.dir / "sshd.log"
        self.pidfile = self.dir / "sshd.pid"
        self.config = self.dir / "sshd_config"
        if not self.host_key.exists():
            keygen(self.host_key)
        if not self.user_key.exists():
            keygen(self.user_key)
            self.authorized_keys.write_text(Path(str(self.user_key) + ".pub").read_text())
        self._write_config()

    @property
    def host_pub(self):
        return Path(str(self.host_key) + ".pub")

    def host_fingerprint(self):
        return fingerprint(self.host_pub)

    def authorize(self, pubkey_path):
        with open(self.authorized_keys, "a") as f:
            f.write(Path(pubkey_path).read_text())

    def _write_config(self):
        path = "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
        if self.path_prepend:
            path = f"{self.path_prepend}:{path}"
        self.config.write_text("\n".join([
            f"Port {self.port}",
            "ListenAddress 127.0.0.1",
            f"HostKey {self.host_key}",
            f"PidFile {self.pidfile}",
            f"AuthorizedKeysFile {self.authorized_keys}",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM no",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            "MaxStartups 100",
            "MaxSessions 100",
            "MaxAuthTries 20",
            # SHLVL=1: bash (root's shell here) then does not read ~/.bashrc as
            # it does for sshd's commands (this machine's runs pyenv: 100 ms)
            f"SetEnv PATH={path} SHLVL=1",
            "Subsystem sftp internal-sftp",
            "LogLevel VERBOSE",
            "",
        ]))

    def start(self, timeout=10):
        # the privilege separation directory the package expects
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
        self.proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(self.config), "-E", str(self.log)],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace")
                log = self.log.read_text(errors="replace") if self.log.exists() else ""
                raise RuntimeError(f"sshd exited with {self.proc.returncode}: {err}{log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.settimeout(2)
                    if s.recv(4).startswith(b"SSH-"):
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"sshd did not listen on 127.0.0.1:{self.port}")

    def kill_all(self):
        """SIGKILL the listener and every connection it forked (a crash of the server)."""
        if not self.proc:
            return
        pids = _children(self.proc.pid) + [self.proc.pid]
        for p in pids:
            try:
                os.kill(p, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait(timeout=10)
        self.proc.stderr.close()
        self.proc = None

    def stop(self):
        self.kill_all()

    def restart(self):
        self.kill_all()
        return self.start()

    def connection_processes(self):
        """The sshd processes serving connections (children of the listener)."""
        return _children(self.proc.pid) if self.proc else []

    def log_text(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def handshakes(self):
        """Logins accepted so far (one per SSH connection that authenticated)."""
        return self.log_text().count("Accepted publickey for ")

    def connections(self):
        return self.log_text().count("Connection from 127.0.0.1 ")

    def known_hosts_line(self, hashed=False, host="127.0.0.1"):
        """A known_hosts line for this server's host key ([host]:port form)."""
        name = host if self.port == 22 else f"[{host}]:{self.port}"
        key = self.host_pub.read_text().split()
        line = f"{name} {key[0]} {key[1]}\n"
        if not hashed:
            return line
        tmp = self.dir / "kh_hash_tmp"
        tmp.write_text(line)
        subprocess.run([SSH_KEYGEN, "-q", "-H", "-f", str(tmp)], check=True, capture_output=True)
        out = tmp.read_text()
        tmp.unlink()
        Path(str(tmp) + ".old").unlink(missing_ok=True)
        return out

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    d = Sshd(sys.argv[1])
    d.start()
    print(d.port, flush=True)
    signal.signal(signal.SIGTERM, lambda *a: (d.stop(), sys.exit(0)))
    while True:
        time.sleep(3600)
