"""Run a command on a pseudo-terminal and answer its paste prompt with $PTY_SECRET, then Enter (OpenClaw 2026.5.3-1's
`models auth paste-token` reads the token only from a terminal). The secret never goes to argv or to the output;
exits with the command's code. Usage: PTY_SECRET=... python3 tests/openclaw/pty_paste.py openclaw models auth ..."""
import os
import pty
import select
import sys
import time

secret = os.environ["PTY_SECRET"].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
seen, typed, deadline = b"", False, time.time() + 120
while time.time() < deadline:
    ready, _, _ = select.select([fd], [], [], 0.5)
    if ready:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk.replace(b"\r", b"").replace(b"\n", b"")
    if not typed and b"aste" in seen:
        time.sleep(0.5)
        os.write(fd, secret)
        time.sleep(0.3)
        os.write(fd, b"\r")
        typed = True
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status) if typed else 1)
