"""How the service playbooks reach the department servers: one SSH key per estate.

govcloud makes the key itself (``ssh-keygen``, ed25519, no passphrase) the first time the
playbooks need the servers, in the state folder: ``services/ssh/id_ed25519`` (mode 0600, in a
0700 folder) beside ``known_hosts``, where the servers' host keys are recorded on first
contact (``StrictHostKeyChecking=accept-new``). The private key never enters the inventory,
the state store, a report or a log: the inventory names its path only. The public key
(``id_ed25519.pub``) is what the cloud gives the servers (an OpenStack keypair, cloud-init).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from govcloud.errors import GovcloudError

KEY_NAME = "id_ed25519"


@dataclass(frozen=True)
class ServerAccess:
    """The estate's key and the servers' known host keys, as Ansible is given them."""

    key: Path
    known_hosts: Path

    @property
    def public_key(self) -> str:
        return Path(f"{self.key}.pub").read_text(encoding="utf-8").strip()

    def ansible_vars(self) -> dict[str, str | bool]:
        """The connection variables of the ``department_servers`` group: host keys checked
        against the estate's known_hosts, as the runner checks every host's (Ansible's
        StrictHostKeyChecking set to "no", were checking off, would come before and beat
        ``accept-new`` here)."""
        return {"ansible_ssh_host_key_checking": True,
                "ansible_ssh_private_key_file": str(self.key),
                "ansible_ssh_common_args": "-o StrictHostKeyChecking=accept-new "
                                           f"-o UserKnownHostsFile={self.known_hosts} "
                                           "-o IdentitiesOnly=yes -o BatchMode=yes"}


def estate_access(folder: Path, comment: str) -> ServerAccess:
    """The estate's key in ``folder`` (made there when missing) and its known_hosts file."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    key = folder / KEY_NAME
    if not key.exists():
        keygen = shutil.which("ssh-keygen")
        if keygen is None:
            raise GovcloudError("ssh-keygen is not installed: govcloud needs it to make the "
                                "estate's SSH key for the department servers",
                                "install openssh-client (apt-get install openssh-client), or "
                                "turn services.servers off in govcloud.yaml")
        tmp = folder / f".{KEY_NAME}.new"
        tmp_pub = folder / f".{KEY_NAME}.new.pub"
        for stale in (tmp, tmp_pub):
            stale.unlink(missing_ok=True)
        made = subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-C", comment,
                               "-f", str(tmp)], capture_output=True, text=True)
        if made.returncode != 0:
            raise GovcloudError(f"ssh-keygen could not make the estate's key in {folder}: "
                                f"{made.stderr.strip()}",
                                f"check that {folder} is writable by this user")
        tmp.chmod(0o600)
        os.replace(tmp_pub, folder / f"{KEY_NAME}.pub")
        os.replace(tmp, key)  # last: a key without its .pub is never left behind
    if key.stat().st_mode & 0o077:
        key.chmod(0o600)
    return ServerAccess(key, known_hosts(folder))


def known_hosts(folder: Path) -> Path:
    """The estate's known_hosts in ``folder`` (made owner-only when missing): the host keys
    of every host the playbooks reach over SSH, recorded on first contact."""
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    known = folder / "known_hosts"
    known.touch(mode=0o600, exist_ok=True)
    return known
