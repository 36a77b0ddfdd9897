"""Check an uploaded SSH public key (A2's input): one public key line, fingerprinted by
`ssh-keygen -lf`, so the fingerprint is the one sshd reports for it.

Refused: private keys, several lines, options in front of the key (`command=...`
would be ours to set, never the uploader's), unknown types, files over 16 KiB,
anything ssh-keygen cannot read."""

from __future__ import annotations

import re
import subprocess
import tempfile

from shipway.errors import PlatformError, UsageError

MAX_BYTES = 16 * 1024
TYPES = re.compile(r"(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|"
                   r"sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)")
BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,3}")
COMMENT_SAFE = re.compile(r"[^A-Za-z0-9 ._@+:-]")


def parse_public_key(data: bytes) -> tuple[str, str]:
    """-> (fingerprint 'SHA256:...', normalised line 'TYPE BASE64 comment')."""
    if len(data) > MAX_BYTES:
        raise UsageError(f"the key file is {len(data)} bytes; a public key is under {MAX_BYTES}")
    text = data.decode("ascii", "replace")
    if "PRIVATE KEY" in text:
        raise UsageError("that is a PRIVATE key: never give it away; add the .pub file instead")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")]
    if len(lines) != 1:
        raise UsageError(f"a key file holds one public key line; this one has {len(lines)}")
    parts = lines[0].split(None, 2)
    if len(parts) < 2 or not TYPES.fullmatch(parts[0]) or not BASE64.fullmatch(parts[1]):
        raise UsageError("not an OpenSSH public key line ('ssh-ed25519 AAAA... comment'); "
                         "options in front of the key are not accepted")
    comment = COMMENT_SAFE.sub("", parts[2])[:80].strip() if len(parts) > 2 else ""
    line = " ".join(p for p in (parts[0], parts[1], comment) if p)
    return _fingerprint(line), line


def _fingerprint(line: str) -> str:
    with tempfile.NamedTemporaryFile("w", suffix=".pub") as f:
        f.write(line + "\n")
        f.flush()
        try:
            proc = subprocess.run(["ssh-keygen", "-lf", f.name], capture_output=True, text=True,
                                  check=False, timeout=10)
        except FileNotFoundError:
            raise PlatformError("ssh-keygen is missing; apt-get install openssh-client") from None
    fields = proc.stdout.split()
    if proc.returncode != 0 or len(fields) < 2 or not fields[1].startswith("SHA256:"):
        raise UsageError("ssh-keygen cannot read that public key (damaged or truncated?)")
    return fields[1]
