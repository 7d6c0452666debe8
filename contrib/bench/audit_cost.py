#!/usr/bin/env python3
"""Cost of the access log per service hand-out: the same load loop against two clawkeep binaries (one without the
access log, one with it), alternating rounds in one run, medians reported.

usage: audit_cost.py BINARY_WITHOUT_LOG BINARY_WITH_LOG [ROUNDS] [REQUESTS_PER_ROUND]

Each binary gets its own temp vault (file store, one API key) and `serve --unlock`. A round sends REQUESTS `get`s,
one after another, on one connection (latency), then the same number spread over 8 connections at once
(throughput). Touches nothing outside its temp dirs, and removes them at the end.
"""
import json, os, shutil, socket, statistics, subprocess, sys, tempfile, threading, time

KEY = "sk-ant-api03-BENCH-0123456789abcdefghijklmnopqrstuvwxyz"


def setup(binary):
    d = tempfile.mkdtemp(prefix="ck-bench-")
    home = os.path.join(d, "home")
    os.makedirs(home)
    pw = os.path.join(d, "pass")
    with open(pw, "w") as f:
        f.write("bench-passphrase-123\n")
    os.chmod(pw, 0o600)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": home, "OPENCLAW_STATE_DIR": os.path.join(home, ".openclaw"),
           "CLAWKEEP_PASSPHRASE_FILE": pw, "CLAWKEEP_SOCKET": os.path.join(d, "run", "agent.sock")}
    subprocess.run([binary, "init", "--backend", "file"], env=env, check=True, capture_output=True)
    subprocess.run([binary, "models", "auth", "add", "--provider", "anthropic"], env=env, input=KEY.encode(),
                   check=True, capture_output=True)
    log = open(os.path.join(d, "serve.log"), "w")
    p = subprocess.Popen([binary, "serve", "--unlock", "--max-clients", "16"], env=env, stdin=subprocess.DEVNULL,
                         stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(500):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(env["CLAWKEEP_SOCKET"])
            s.close()
            break
        except OSError:
            time.sleep(0.02)
    return p, env["CLAWKEEP_SOCKET"], home, d


REQ = (json.dumps({"v": 1, "op": "get", "ids": ["main/anthropic:default"]}) + "\n").encode()


def loop(sock_path, n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    f = s.makefile("rb")
    for _ in range(n):
        s.sendall(REQ)
        line = f.readline()
        if b'"ok":true' not in line:
            raise SystemExit(f"bad answer: {line[:200]!r}")
    s.close()


def round_(sock_path, n):
    t = time.perf_counter()
    loop(sock_path, n)
    seq = (time.perf_counter() - t) / n
    threads = [threading.Thread(target=loop, args=(sock_path, n // 8)) for _ in range(8)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    par = (n // 8 * 8) / (time.perf_counter() - t)
    return seq, par


def main():
    base, new = sys.argv[1], sys.argv[2]
    rounds = int(sys.argv[3]) if len(sys.argv) > 3 else 7
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 400
    servers = {name: setup(b) for name, b in (("without log", base), ("with log", new))}
    res = {name: ([], []) for name in servers}
    try:
        for _ in range(rounds):
            for name, (_, sock, _, _) in servers.items():
                seq, par = round_(sock, n)
                res[name][0].append(seq)
                res[name][1].append(par)
    finally:
        for p, _, _, _ in servers.values():
            p.terminate()
            p.wait()
    for name, (seq, par) in res.items():
        print(f"{name:12}  median latency {statistics.median(seq) * 1e6:8.0f} µs/get (1 connection)   "
              f"median throughput {statistics.median(par):8.0f} gets/s (8 connections)")
    lines = sum(1 for _ in open(os.path.join(servers["with log"][2], ".openclaw", "clawkeep", "audit",
                                             "access-000001.log")))
    print(f"access log lines written: {lines}")
    for _, _, _, d in servers.values():
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
