#!/usr/bin/env python3
"""Held-out battery of hostile inputs for the `aumann` command-line tool.

Usage:
    python benches/hostile.py --aumann PATH_TO_BINARY --work DIR [--only CATEGORY[,CATEGORY]]
                              [--jobs 2] [--timeout 60] [--report report.json] [--keep]

Needs Python 3.11 with numpy (and zstandard for the zstd cases; without it they are
skipped), e.g. `python3 -m venv venv && venv/bin/pip install numpy zstandard`.

Every case runs in its own directory WORK/cases/<id>/c (the parent WORK/cases/<id> is
watched too) holding in/ (inputs), out/ (where outputs are asked to go) and victim/
(sentinel files). The binary runs with cwd = that directory, stdin from /dev/null,
TMPDIR and HOME inside the case's parent, an address-space limit (--mem-gb, default
8 GiB) and a wall-clock limit; a timed-out case's process group is killed.

Checks, per case:
  crash          exit code other than 0 or 2 (101 = Rust panic, SIGABRT = allocation
                 failure, SIGSEGV, ...) or "panicked at" in stderr
  timeout        the case ran past its limit (a hang, or a signal that was not obeyed)
  slow (soft)    timeout on a case that asks for an enormous amount of work
  unclear (soft) a failing run whose stderr is not one line starting with `error:`
                 (clap's usage errors count as clear)
  outside-write  anything under the case directory but outside out/ (and the paths the
                 case declares as allowed outputs) changed, vanished or appeared
  tempfile       names containing .tmp / .partial or starting with `.` left in out/ or
                 in/, or anything left in TMPDIR
  nonfinite      NaN/inf in an output .npy / .csv / .json (and JSON null in a numeric
                 summary field or in a list of numbers)
  corrupt-output an output that does not parse (.npy, .json, .png, .jsonl(.zst))
  silent-loss    bad records dropped without a word on stderr, events lost, two requested
                 outputs silently clobbering each other, results differing from a
                 reference run on an equivalent input
  partial-output an interrupted run left a partial output at the target path (hard), or
                 a failing run left new outputs behind (soft)

A clap usage error (exit 2 with "unexpected argument", "invalid value", ...) passes but is
counted apart as "usage" so coverage can be read off the summary. Case ids are stable:
inputs are generated deterministically from the id and a fixed seed.

Categories: control (valid runs of every subcommand: must all pass), npy (file format),
values (array contents and baselines), flags (every numeric option at its extremes), model
(DeepSet folders), scenario (simulate folders), panel (study --panel folders), events
(Jetstream files, zstd, folders), topics (topics TOML), csv (import tables, followers
snapshots), capture (a local websocket server, cursor files), signals (SIGINT/SIGTERM
mid-run), paths (where outputs go), args (argument combinations).

Valid fixtures (a trained model, scenarios, panels, events) are made first by the binary
under test in WORK/fixtures; a case whose fixture could not be made is a setup error.
Each failing case's directory is kept under WORK/cases/<id> (big files truncated).
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as cf
import csv
import hashlib
import io
import json
import math
import os
import re
import resource
import shlex
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import zlib

import numpy as np

try:
    import zstandard
except ImportError:  # the zstd cases are skipped
    zstandard = None

SEED = 20251203
IS_ROOT = os.geteuid() == 0
MAGIC = b"\x93NUMPY"
I64_MAX = 2**63 - 1
I64_MIN = -(2**63)
JETSTREAM_DICT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "jetstream-samples", "zstd", "jetstream_v1_dictionary.zdict")
GOLDEN_EVENTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "jetstream-samples", "subscribe_golden_v1.jsonl")

HARD = ("crash", "timeout", "outside-write", "tempfile", "nonfinite", "corrupt-output",
        "silent-loss", "partial-output")
SOFT = ("unclear", "slow", "soft-partial", "soft-silent", "soft-corrupt", "soft-outside")


def rng_for(case_id: str) -> np.random.Generator:
    return np.random.default_rng((zlib.crc32(case_id.encode()) << 32) ^ SEED)


# The base population every array case starts from: [T=3, n=20, d=3], positive.
X3 = np.random.default_rng(1).lognormal(size=(3, 20, 3)).astype("<f4")


# --------------------------------------------------------------------------- .npy crafting

def npy_raw(header: str | bytes, data: bytes = b"", version=(1, 0), magic: bytes = MAGIC,
            hlen: int | None = None, newline: bool = True, pad: bool = True) -> bytes:
    """An .npy file with an arbitrary header text (padded as numpy does unless pad=False)."""
    hb = header if isinstance(header, bytes) else header.encode("utf-8" if version[0] >= 3 else "latin-1")
    lenfield = 2 if version[0] < 2 else 4
    pre = len(magic) + 2 + lenfield
    if pad:
        total = pre + len(hb) + (1 if newline else 0)
        hb = hb + b" " * ((-total) % 64)
    if newline:
        hb = hb + b"\n"
    n = len(hb) if hlen is None else hlen
    lf = struct.pack("<H", n & 0xFFFF) if lenfield == 2 else struct.pack("<I", n & 0xFFFFFFFF)
    return magic + bytes(version) + lf + hb + data


def npy_hdr(descr, shape, fortran=False) -> str:
    shp = "(%s,)" % shape[0] if len(shape) == 1 else "(" + ", ".join(str(s) for s in shape) + ")"
    return "{'descr': %r, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shp)


def npy_bytes(arr: np.ndarray, version=None) -> bytes:
    buf = io.BytesIO()
    if version is None:
        np.save(buf, arr, allow_pickle=True)
    else:
        np.lib.format.write_array(buf, arr, version=version, allow_pickle=True)
    return buf.getvalue()


# --------------------------------------------------------------------------- case model

class Case:
    def __init__(self, id, cat, args, setup=None, allowed=(), post=None, kind="run",
                 timeout=None, huge=False, pre=(), needs=(), nan_ok=(), plan=None,
                 server=None, main_out=None, complete=(), skip=None, wait_s=1.5,
                 content_check=True, symlink_dir=False):
        self.id = id
        self.cat = cat
        self.args = list(args)
        self.setup = setup
        self.allowed = list(allowed)
        self.post = post
        self.kind = kind            # run | signal | capture
        self.timeout = timeout
        self.huge = huge            # asks for enormous work: a timeout is "slow" (soft)
        self.pre = list(pre)        # reference runs before the main one (outputs in out/)
        self.needs = tuple(needs)   # fixtures
        self.nan_ok = set(nan_ok)   # CSV fields that are names, not numbers
        self.plan = plan            # signal plan: (when, sig) when = seconds | "poll"
        self.server = server        # capture: dict for the websocket server
        self.main_out = main_out    # signal: the target output
        self.complete = tuple(complete)  # signal: files a complete output folder holds
        self.skip = skip            # reason to skip
        self.wait_s = wait_s
        self.content_check = content_check  # parse the allowed outputs outside out/
        self.symlink_dir = symlink_dir      # the user named a symlinked folder: writes through it are soft


class Ctx:
    """What a case's setup and post-checks get: paths and helpers rooted at the case dir."""

    def __init__(self, c: str, fx: "Fixtures", case: Case):
        self.c = c
        self.fx = fx
        self.case = case
        self.rc = None
        self.stderr = ""
        self.stdout = ""
        self.server = None

    def p(self, rel: str) -> str:
        return os.path.join(self.c, rel)

    def write(self, rel: str, data) -> str:
        path = self.p(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data.encode() if isinstance(data, str) else data)
        return path

    def npy(self, rel: str, arr: np.ndarray) -> str:
        return self.write(rel, npy_bytes(arr))

    def copy(self, name: str, rel: str) -> str:
        src = self.fx.path(name)
        dst = self.p(rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.isdir(src):
            shutil.copytree(src, dst, symlinks=True)
        else:
            shutil.copyfile(src, dst)
        return dst

    def mkfifo(self, rel: str) -> str:
        path = self.p(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.mkfifo(path)
        return path

    def symlink(self, target: str, rel: str) -> str:
        path = self.p(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.symlink(target, path)
        return path

    def mkdir(self, rel: str) -> str:
        os.makedirs(self.p(rel), exist_ok=True)
        return self.p(rel)

    def read_json(self, rel: str):
        with open(self.p(rel), "rb") as f:
            return json.loads(f.read())

    def write_json(self, rel: str, obj, raw: str | None = None) -> None:
        self.write(rel, raw if raw is not None else json.dumps(obj, indent=2))

    def edit_json(self, rel: str, fn) -> None:
        obj = self.read_json(rel)
        res = fn(obj)
        self.write_json(rel, obj if res is None else res)

    def load(self, rel: str):
        return np.load(self.p(rel), allow_pickle=False)


def F(check: str, detail: str):
    return (check, detail)


# --------------------------------------------------------------------------- fixtures

class Fixtures:
    """Valid inputs, built once per battery run (some by the binary under test)."""

    def __init__(self, binary: str, root: str, log):
        self.binary = binary
        self.root = root
        self.log = log
        self.ok: dict[str, str] = {}
        self.failed: dict[str, str] = {}
        self.meta: dict[str, object] = {}

    def path(self, name: str) -> str:
        if name not in self.ok:
            raise FixtureMissing(name)
        return self.ok[name]

    def run(self, name: str, args: list[str], path: str, timeout=300) -> None:
        if os.path.exists(path):
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
        try:
            p = subprocess.run([self.binary] + args, cwd=self.root, capture_output=True,
                               timeout=timeout, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            self.failed[name] = "timeout: " + shlex.join(args)
            return
        if p.returncode == 0 and os.path.exists(path):
            self.ok[name] = path
        else:
            self.failed[name] = "rc %d: %s: %s" % (p.returncode, shlex.join(args),
                                                   p.stderr.decode(errors="replace")[-300:])

    def save(self, name: str, arr: np.ndarray) -> None:
        path = os.path.join(self.root, name + ".npy")
        np.save(path, arr)
        self.ok[name] = path

    def build(self, cats: set[str]) -> None:
        os.makedirs(self.root, exist_ok=True)
        r = os.path.join
        self.save("x3", X3)
        self.save("x2", X3[0])
        g = np.random.default_rng(2)
        tr = g.lognormal(size=(40, 16, 3)).astype("<f4")
        self.save("train", tr)
        self.save("train_y", tr.mean(axis=(1, 2)).astype("<f4"))
        self.run("model", ["train", "--features", "train.npy", "--target-indicator", "linear",
                           "--out", "model", "--hidden", "4", "--depth", "2", "--epochs", "3",
                           "--threads", "1", "--quiet"], r(self.root, "model"))
        for s in ("econ", "social", "cascade"):
            extra = ["--runs", "2"] if s == "cascade" else []
            self.run("scen_" + s, ["simulate", s, "--agents", "12", "--steps", "6", "--out",
                                   "scen_" + s, "--threads", "1", "--quiet"] + extra,
                     r(self.root, "scen_" + s))
        self.run("panel", ["panel", "synth", "--agents", "200", "--days", "3", "--seed", "3",
                           "--out", "panel", "--threads", "1"], r(self.root, "panel"))
        self.run("ev", ["panel", "synth", "--agents", "50", "--days", "3", "--seed", "3",
                        "--events", "ev", "--threads", "1"], r(self.root, "ev"))
        self.run("evz", ["panel", "synth", "--agents", "50", "--days", "3", "--seed", "3",
                         "--events", "evz", "--compress", "--threads", "1"], r(self.root, "evz"))
        if "ev" in self.ok:
            files = sorted(os.listdir(r(self.root, "ev", "events")))
            lines = []
            for fn in files:
                with open(r(self.root, "ev", "events", fn), "rb") as f:
                    lines += [l for l in f.read().split(b"\n") if l.strip()]
            self.meta["ev_files"] = files
            self.meta["ev_lines"] = lines
            self.meta["ev_n"] = len(lines)
        if "evz" in self.ok:
            self.meta["evz_files"] = sorted(os.listdir(r(self.root, "evz", "events")))
        if cats & {"signals"}:
            g = np.random.default_rng(3)
            self.save("big", g.lognormal(size=(4, 1_000_000, 3)).astype("<f4"))
            self.run("bigev", ["panel", "synth", "--agents", "40000", "--days", "7", "--seed", "3",
                               "--events", "bigev", "--threads", "1"], r(self.root, "bigev"),
                     timeout=600)
        self.log("fixtures: %d built, %d failed%s" % (
            len(self.ok), len(self.failed),
            "".join("\n  fixture %s FAILED: %s" % kv for kv in self.failed.items())))


class FixtureMissing(Exception):
    pass


# --------------------------------------------------------------------------- websocket server (capture)

def ws_frame(payload: bytes, opcode: int = 1, fin: bool = True, length: int | None = None) -> bytes:
    n = len(payload) if length is None else length
    b0 = (0x80 if fin else 0) | opcode
    if n < 126:
        hdr = bytes([b0, n])
    elif n < 65536:
        hdr = bytes([b0, 126]) + n.to_bytes(2, "big")
    else:
        hdr = bytes([b0, 127]) + n.to_bytes(8, "big")
    return hdr + payload


class WSServer(threading.Thread):
    """A tiny local server: `mode` ws (handshake, then `frames` once), close (accept and
    close), http404, garbage (random bytes instead of a handshake)."""

    def __init__(self, mode: str = "ws", frames: list[bytes] = ()):
        super().__init__(daemon=True)
        self.mode = mode
        self.frames = list(frames)
        self.requests: list[str] = []
        self.stop_ev = threading.Event()
        self.sent_first = False
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]

    def run(self) -> None:
        while not self.stop_ev.is_set():
            try:
                c, _ = self.sock.accept()
            except (socket.timeout, OSError):
                continue
            try:
                self.handle(c)
            except OSError:
                pass
            finally:
                try:
                    c.close()
                except OSError:
                    pass
        self.sock.close()

    def handle(self, c: socket.socket) -> None:
        c.settimeout(2)
        if self.mode == "close":
            return
        req = b""
        while b"\r\n\r\n" not in req and len(req) < 65536:
            d = c.recv(4096)
            if not d:
                return
            req += d
        text = req.decode("latin-1")
        self.requests.append(text.split("\r\n", 1)[0])
        if self.mode == "http404":
            c.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            return
        if self.mode == "garbage":
            c.sendall(bytes(range(256)) * 4)
            return
        key = ""
        for line in text.split("\r\n"):
            if line.lower().startswith("sec-websocket-key:"):
                key = line.split(":", 1)[1].strip()
        acc = base64.b64encode(hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")
                                            .encode()).digest()).decode()
        c.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                   "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n" % acc).encode())
        if not self.sent_first:
            self.sent_first = True
            for fr in self.frames:
                c.sendall(fr)
        c.settimeout(0.1)
        while not self.stop_ev.is_set():
            try:
                d = c.recv(65536)
                if not d:
                    return
            except socket.timeout:
                continue


# --------------------------------------------------------------------------- running a case

CLAP_RE = re.compile(r"error: (unexpected argument|invalid value|a value is required|the following "
                     r"required arguments|unrecognized subcommand|the argument '.*' cannot be used|"
                     r"the argument '.*' cannot be used multiple times|unexpected value|"
                     r"equal sign is needed|invalid UTF-8)")
TEMP_RE = re.compile(r"(\.tmp|\.partial)")


def is_temp_name(name: str) -> bool:
    return bool(TEMP_RE.search(name)) or name.startswith(".")


def is_clap(stderr: str) -> bool:
    """clap's usage errors (the tool may print only their first line), or its help on no arguments."""
    return bool(CLAP_RE.search(stderr)) or ("Usage:" in stderr and ("Commands:" in stderr or
                                                                     "For more information, try" in stderr))


def clarity(stderr: str) -> str | None:
    lines = [l for l in stderr.splitlines() if l.strip()]
    if not lines:
        return "empty stderr"
    errs = [i for i, l in enumerate(lines) if l.startswith("error:")]
    if errs and lines[errs[0]].rstrip().endswith(":") and not lines[errs[0] + 1:]:
        return "the error ends with a colon and names nothing: %s" % lines[errs[0]][:160]
    if is_clap(stderr):
        return None
    if not errs:
        return "no line starts with 'error:' (last: %s)" % lines[-1][:160]
    if len(errs) > 1:
        return "%d lines start with 'error:'" % len(errs)
    trailing = lines[errs[0] + 1:]
    if trailing:
        return "the error goes on for %d more lines (%s)" % (len(trailing), trailing[0][:120])
    if len(lines[errs[0]]) > 1500:
        return "the error line is %d characters long" % len(lines[errs[0]])
    return None


def snapshot(parent: str, skip_rel: tuple[str, ...]) -> dict[str, tuple]:
    """Everything under the case's parent dir but the skipped subtrees: type, mode, size,
    mtime and content hash (files), link target (symlinks)."""
    snap = {}
    for root, dirs, files in os.walk(parent):
        rel_root = os.path.relpath(root, parent)
        keep = []
        for d in dirs:
            rel = os.path.normpath(os.path.join(rel_root, d))
            if rel in skip_rel:
                continue
            keep.append(d)
        dirs[:] = keep
        for name in dirs + files:
            full = os.path.join(root, name)
            rel = os.path.normpath(os.path.join(rel_root, name))
            if rel in skip_rel:
                continue
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                snap[rel] = ("link", os.readlink(full))
            elif stat.S_ISDIR(st.st_mode):
                snap[rel] = ("dir", stat.S_IMODE(st.st_mode))
            elif stat.S_ISREG(st.st_mode):
                h = hashlib.sha256()
                try:
                    with open(full, "rb") as f:
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            h.update(chunk)
                except OSError as e:
                    h.update(repr(e).encode())
                snap[rel] = ("file", stat.S_IMODE(st.st_mode), st.st_size, st.st_mtime_ns, h.hexdigest())
            else:
                snap[rel] = ("special", stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode))
    return snap


def listing(top: str) -> dict[str, tuple]:
    """Relative path -> (type, size, mtime) of everything under top (no hashing)."""
    res = {}
    if not os.path.lexists(top):
        return res
    if not os.path.isdir(top) or os.path.islink(top):
        st = os.lstat(top)
        return {".": (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)}
    for root, dirs, files in os.walk(top):
        for name in dirs + files:
            full = os.path.join(root, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            res[os.path.relpath(full, top)] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns)
    return res


def allowed_rel(rel: str, allowed: list[str]) -> bool:
    for a in allowed:
        a = os.path.normpath(a)
        if rel == a or rel.startswith(a + os.sep):
            return True
        # a temp sibling of an allowed output is judged by the temp-file check
    return False


def limits(mem_bytes: int):
    def fn():
        resource.setrlimit(resource.RLIMIT_AS, (mem_bytes, mem_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return fn


NUMERIC_SUMMARY_KEYS = {"v_x", "v_b", "efficiency_gap", "relative_efficiency_gap"}


def json_nonfinite(obj, path="$", out=None):
    if out is None:
        out = []
    if isinstance(obj, float):
        if not math.isfinite(obj):
            out.append("%s = %r" % (path, obj))
    elif isinstance(obj, list):
        has_num = any(isinstance(v, (int, float)) and not isinstance(v, bool) for v in obj)
        for i, v in enumerate(obj):
            if v is None and has_num:
                out.append("%s[%d] = null in a list of numbers" % (path, i))
            else:
                json_nonfinite(v, "%s[%d]" % (path, i), out)
    elif isinstance(obj, dict):
        for k, v in obj.items():
            if v is None and k in NUMERIC_SUMMARY_KEYS:
                out.append("%s.%s = null" % (path, k))
            elif isinstance(v, list) and k in NUMERIC_SUMMARY_KEYS and any(x is None for x in v):
                # The one documented null: a relative gap where V(x) = V(b) exactly (no change
                # to relate the gap to). Anywhere else a null stands for a NaN.
                v_x, v_b = obj.get("v_x"), obj.get("v_b")
                documented = (
                    k == "relative_efficiency_gap"
                    and isinstance(v_x, list) and isinstance(v_b, list)
                    and len(v_x) == len(v_b) == len(v)
                    and all(x is not None or (v_x[i] == v_b[i] and v_x[i] is not None)
                            for i, x in enumerate(v))
                )
                if not documented:
                    out.append("%s.%s holds null" % (path, k))
                json_nonfinite([x for x in v if x is not None], "%s.%s" % (path, k), out)
            else:
                json_nonfinite(v, "%s.%s" % (path, k), out)
    return out


def check_output_file(full: str, rel: str, nan_ok: set[str], soft_jsonl: bool) -> list[tuple]:
    """Parse one output file by its extension; NaN/inf and unparsable content are findings."""
    fs = []
    name = os.path.basename(full)
    try:
        st = os.lstat(full)
    except OSError:
        return fs
    if not stat.S_ISREG(st.st_mode):
        return fs
    try:
        if name.endswith(".npy"):
            try:
                a = np.load(full, allow_pickle=False)
            except Exception as e:
                return [F("corrupt-output", "%s: numpy cannot load it: %s" % (rel, str(e)[:160]))]
            if a.dtype.kind in "fc":
                bad = int(np.size(a) - np.count_nonzero(np.isfinite(a)))
                if bad:
                    fs.append(F("nonfinite", "%s: %d of %d values NaN/inf" % (rel, bad, a.size)))
        elif name.endswith(".json"):
            with open(full, "rb") as f:
                raw = f.read()
            try:
                obj = json.loads(raw)
            except Exception as e:
                return [F("corrupt-output", "%s: not JSON: %s" % (rel, str(e)[:160]))]
            bad = json_nonfinite(obj)
            if bad:
                fs.append(F("nonfinite", "%s: %s%s" % (rel, "; ".join(bad[:3]),
                                                        " (+%d)" % (len(bad) - 3) if len(bad) > 3 else "")))
        elif name.endswith(".csv"):
            with open(full, "r", encoding="utf-8", errors="replace", newline="") as f:
                text = f.read()
            bad = []
            for ln, row in enumerate(csv.reader(io.StringIO(text)), 1):
                for field in row:
                    v = field.strip()
                    if not v or v in nan_ok:
                        continue
                    try:
                        x = float(v)
                    except ValueError:
                        continue
                    if not math.isfinite(x):
                        bad.append("line %d: %r" % (ln, v))
            if bad:
                fs.append(F("nonfinite", "%s: %d non-finite fields (%s)" % (rel, len(bad), ", ".join(bad[:3]))))
        elif name.endswith(".png"):
            with open(full, "rb") as f:
                raw = f.read()
            if not raw.startswith(b"\x89PNG\r\n\x1a\n") or b"IEND" not in raw[-16:]:
                fs.append(F("corrupt-output", "%s: not a complete PNG (%d bytes)" % (rel, len(raw))))
        elif name.endswith(".jsonl") or name.endswith(".jsonl.zst"):
            with open(full, "rb") as f:
                raw = f.read()
            if name.endswith(".zst"):
                if zstandard is None:
                    return fs
                try:
                    raw = zstd_decompress_all(raw)
                except Exception as e:
                    return [F("soft-corrupt" if soft_jsonl else "corrupt-output",
                              "%s: zstd cannot decompress it: %s" % (rel, str(e)[:120]))]
            badl = 0
            first = None
            for i, line in enumerate(raw.split(b"\n"), 1):
                if not line.strip():
                    continue
                try:
                    json.loads(line)
                except Exception:
                    badl += 1
                    first = first or i
            if badl:
                fs.append(F("soft-corrupt" if soft_jsonl else "corrupt-output",
                            "%s: %d lines are not JSON (first: line %d)" % (rel, badl, first)))
    except OSError as e:
        fs.append(F("corrupt-output", "%s: unreadable: %s" % (rel, e)))
    return fs


def zstd_decompress_all(raw: bytes) -> bytes:
    d = zstandard.ZstdDecompressor()
    out = io.BytesIO()
    with d.stream_reader(io.BytesIO(raw), read_across_frames=True) as r:
        while True:
            chunk = r.read(1 << 20)
            if not chunk:
                break
            out.write(chunk)
    return out.getvalue()


class Runner:
    def __init__(self, binary: str, work: str, fx: Fixtures, timeout: float, mem_gb: float,
                 keep: bool):
        self.binary = os.path.abspath(binary)
        self.work = work
        self.fx = fx
        self.timeout = timeout
        self.mem = int(mem_gb * (1 << 30))
        self.keep = keep

    def prepare(self, case: Case):
        parent = os.path.join(self.work, "cases", case.id)
        if os.path.lexists(parent):
            for root, dirs, files in os.walk(parent):
                for d in dirs:
                    try:
                        os.chmod(os.path.join(root, d), 0o755)
                    except OSError:
                        pass
            shutil.rmtree(parent, ignore_errors=True)
        c = os.path.join(parent, "c")
        for d in ("in", "out", "victim", "victim/sub"):
            os.makedirs(os.path.join(c, d))
        os.makedirs(os.path.join(parent, "tmp"))
        os.makedirs(os.path.join(parent, "home"))
        # sentinels, with known content and old mtimes
        sentinels = {
            "c/victim/v.npy": npy_bytes(np.arange(6, dtype="<f4").reshape(2, 3)),
            "c/victim/v.txt": b"victim: must not change\n",
            "c/victim/v.jsonl": b'{"victim": true}\n',
            "c/victim/v.json": b'{"victim": true}\n',
            "c/victim/v.csv": b"did,followers\nvictim,1\n",
            "c/victim/sub/w.txt": b"victim sub\n",
            "pv.txt": b"parent victim\n",
        }
        for rel, data in sentinels.items():
            with open(os.path.join(parent, rel), "wb") as f:
                f.write(data)
            os.utime(os.path.join(parent, rel), (1_000_000_000, 1_000_000_000))
        return parent, c

    def argv(self, case: Case, c: str, parent: str, args: list[str]) -> list[str]:
        return [self.binary] + [a.replace("{C}", c).replace("{P}", parent) if isinstance(a, str) else a
                                for a in args]

    def env(self, parent: str) -> dict:
        e = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TERM")}
        e["TMPDIR"] = os.path.join(parent, "tmp")
        e["HOME"] = os.path.join(parent, "home")
        e["RUST_BACKTRACE"] = "0"
        e["NO_COLOR"] = "1"
        return e

    def run_case(self, case: Case) -> dict:
        res = {"id": case.id, "category": case.cat, "cmd": "aumann " + shlex.join(
            [a if isinstance(a, str) else a.decode("latin-1") for a in case.args]),
               "rc": None, "seconds": 0.0, "stderr_first": "", "findings": [], "status": ""}
        if case.skip:
            res["status"] = "skip"
            res["findings"] = [("skip", case.skip)]
            return res
        try:
            parent, c = self.prepare(case)
            ctx = Ctx(c, self.fx, case)
            res["dir"] = c
            for n in case.needs:
                self.fx.path(n)
            if case.setup:
                case.setup(ctx)
        except FixtureMissing as e:
            res["status"] = "setup-error"
            res["findings"] = [("setup", "fixture %s missing: %s" % (e, self.fx.failed.get(str(e), "")))]
            return res
        except Exception as e:
            res["status"] = "setup-error"
            res["findings"] = [("setup", "%s: %s" % (type(e).__name__, e))]
            return res
        env = self.env(parent)
        for pre in case.pre:
            try:
                subprocess.run(self.argv(case, c, parent, pre), cwd=c, env=env, capture_output=True,
                               stdin=subprocess.DEVNULL, timeout=120, preexec_fn=limits(self.mem))
            except subprocess.TimeoutExpired:
                pass
        skip_rel = ("c/out", "tmp")
        before = snapshot(parent, skip_rel)
        out_before = listing(os.path.join(c, "out"))
        in_before = listing(os.path.join(c, "in"))
        timeout = min(case.timeout or self.timeout, self.timeout)
        if case.kind == "capture":
            ctx.server = WSServer(**case.server) if case.server is not None else None
            if ctx.server:
                ctx.server.start()
        argv = self.argv(case, c, parent, [a.replace("{PORT}", str(ctx.server.port))
                                           if ctx.server and isinstance(a, str) else a
                                           for a in case.args])
        t0 = time.monotonic()
        timed_out = False
        sig_note = ""
        try:
            p = subprocess.Popen(argv, cwd=c, env=env, stdin=subprocess.DEVNULL,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 preexec_fn=limits(self.mem), start_new_session=True)
        except OSError as e:
            res["status"] = "setup-error"
            res["findings"] = [("setup", "cannot start: %s" % e)]
            return res
        # drain the pipes in threads so a chatty process never blocks
        bufs = {"out": [], "err": []}

        def drain(stream, key):
            for chunk in iter(lambda: stream.read(65536), b""):
                if sum(len(b) for b in bufs[key]) < (8 << 20):
                    bufs[key].append(chunk)
        ths = [threading.Thread(target=drain, args=(p.stdout, "out"), daemon=True),
               threading.Thread(target=drain, args=(p.stderr, "err"), daemon=True)]
        for th in ths:
            th.start()
        try:
            if case.kind == "signal":
                when, sig = case.plan
                if when == "poll":
                    outdir = os.path.join(c, "out")
                    seen = False
                    while p.poll() is None and time.monotonic() - t0 < timeout:
                        try:
                            names = os.listdir(outdir)
                        except OSError:
                            names = []
                        if any(is_temp_name(n) for n in names):
                            seen = True
                            break
                        time.sleep(0.0005)
                    sig_note = "temp file seen" if seen else "no temp file seen before exit"
                else:
                    try:
                        p.wait(timeout=when)
                    except subprocess.TimeoutExpired:
                        pass
                if p.poll() is None:
                    os.kill(p.pid, sig)
                    sig_note = (sig_note + "; " if sig_note else "") + "sent %s at %.2fs" % (
                        signal.Signals(sig).name, time.monotonic() - t0)
                    try:
                        p.wait(timeout=min(timeout, 20))
                    except subprocess.TimeoutExpired:
                        timed_out = True
                else:
                    sig_note = (sig_note + "; " if sig_note else "") + "exited before the signal"
            elif case.kind == "capture":
                try:
                    p.wait(timeout=case.wait_s)
                except subprocess.TimeoutExpired:
                    os.kill(p.pid, signal.SIGINT)
                    sig_note = "SIGINT at %.1fs" % (time.monotonic() - t0)
                    try:
                        p.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        timed_out = True
            else:
                try:
                    p.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    timed_out = True
        finally:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
                p.wait()
            else:
                try:  # stray children of the group
                    os.killpg(p.pid, signal.SIGKILL)
                except OSError:
                    pass
            for th in ths:
                th.join(timeout=5)
            if ctx.server:
                ctx.server.stop_ev.set()
                ctx.server.join(timeout=3)
        dur = time.monotonic() - t0
        rc = p.returncode
        stderr = b"".join(bufs["err"]).decode("utf-8", errors="replace")
        ctx.rc, ctx.stderr = rc, stderr
        ctx.stdout = b"".join(bufs["out"]).decode("utf-8", errors="replace")
        ctx.timed_out = timed_out
        res.update(rc=rc, seconds=round(dur, 3), timed_out=timed_out,
                   stderr_first=next((l for l in stderr.splitlines() if l.strip()), "")[:300])
        if sig_note:
            res["signal"] = sig_note
        fs = self.check(case, ctx, parent, c, before, out_before, in_before, rc, stderr, timed_out)
        res["findings"] = fs
        hard = [f for f in fs if f[0] in HARD]
        if hard:
            res["status"] = "fail"
        elif timed_out:
            res["status"] = "slow"
        elif case.kind == "signal":
            res["status"] = "sig"
        elif rc == 0:
            res["status"] = "ok"
        elif rc == 2 and is_clap(stderr):
            res["status"] = "usage"
        else:
            res["status"] = "err"
        if not self.keep and not hard:
            shutil.rmtree(parent, ignore_errors=True)
        elif not self.keep:
            self.trim(parent)
        return res

    def trim(self, parent: str) -> None:
        """Keep a failing case's dir for inspection, minus its big files."""
        for root, dirs, files in os.walk(parent):
            for fn in files:
                full = os.path.join(root, fn)
                try:
                    if os.lstat(full).st_size > (16 << 20):
                        os.truncate(full, 0)
                except OSError:
                    pass

    def check(self, case, ctx, parent, c, before, out_before, in_before, rc, stderr, timed_out):
        fs = []
        ok_rc = {0, 2}
        if case.args and case.args[0] == "demo" and "tolerance" in (ctx.stdout + stderr):
            ok_rc = {0, 1, 2}  # demo's documented verdict: an indicator missed its tolerance
        if case.kind == "signal":
            ok_rc = {0, 2, 130, 143, -signal.SIGINT, -signal.SIGTERM}
        # 1. no crash
        if timed_out:
            if case.huge:
                fs.append(F("slow", "no answer within the limit for a request of enormous work"))
            else:
                fs.append(F("timeout", "killed after the time limit" +
                            (" (did not stop on SIGINT/SIGTERM)" if case.kind != "run" else "")))
        elif rc not in ok_rc:
            if rc == 101:
                what = "Rust panic (exit 101)"
            elif rc < 0:
                what = "killed by %s" % signal.Signals(-rc).name if -rc in signal.valid_signals() else "signal %d" % -rc
                if -rc == signal.SIGABRT:
                    what += " (allocation failure / abort)"
            elif rc > 128 and rc - 128 in (6, 9, 11, 7):
                what = "exit %d (signal %d)" % (rc, rc - 128)
            else:
                what = "exit code %d" % rc
            fs.append(F("crash", what))
        if "panicked at" in stderr and not any(f[0] == "crash" and "panic" in f[1] for f in fs):
            m = re.search(r"panicked at [^\n]*\n?[^\n]*", stderr)
            fs.append(F("crash", "panic message in stderr: %s" % (m.group(0)[:200].replace("\n", " ") if m else "")))
        if "memory allocation of" in stderr and not any(f[0] == "crash" for f in fs):
            fs.append(F("crash", "allocation failure message in stderr"))
        # 2. one clear line (for a failing run that did not crash)
        if rc not in (0, None) and not timed_out and case.kind != "signal" and not any(f[0] == "crash" for f in fs):
            msg = clarity(stderr)
            if msg:
                fs.append(F("unclear", msg))
        # 3. nothing written outside out/ and the allowed outputs
        after = snapshot(parent, ("c/out", "tmp"))
        allowed = [os.path.normpath(os.path.join("c", a)) for a in case.allowed]
        outside = []
        temps = []
        for rel in sorted(set(before) | set(after)):
            b, a = before.get(rel), after.get(rel)
            if b == a:
                continue
            if b and a and b[0] == "dir" and a[0] == "dir":
                continue
            if allowed_rel(rel, allowed):
                continue
            what = "created" if b is None else ("deleted" if a is None else "modified")
            if what == "created" and is_temp_name(os.path.basename(rel)):
                temps.append(rel)
                continue
            outside.append("%s %s" % (what, rel))
        if outside:
            fs.append(F("soft-outside" if case.symlink_dir else "outside-write", "; ".join(outside[:4]) + (" (+%d more)" % (len(outside) - 4)
                                                                   if len(outside) > 4 else "")))
        # 4. no temp files
        out_after = listing(os.path.join(c, "out"))
        for rel in out_after:
            if rel not in out_before and any(is_temp_name(part) for part in rel.split(os.sep)):
                temps.append("out/" + rel)
        tmp_left = os.listdir(os.path.join(parent, "tmp")) if os.path.isdir(os.path.join(parent, "tmp")) else []
        temps += ["$TMPDIR/" + n for n in tmp_left]
        if temps and not timed_out:  # a process killed with SIGKILL cannot clean up: see the signals category
            fs.append(F("tempfile", ", ".join(sorted(set(temps))[:5])))
        # 5. outputs parse and hold no NaN/inf (new or changed files only)
        changed = [rel for rel, v in out_after.items() if out_before.get(rel) != v]
        soft_jsonl = case.cat == "capture"
        for rel in changed:
            full = os.path.join(c, "out", rel)
            if any(is_temp_name(part) for part in rel.split(os.sep)):
                continue
            fs += check_output_file(full, "out/" + rel, case.nan_ok, soft_jsonl)
        for a in (case.allowed if case.content_check else []):
            if a.startswith("out/") or a.startswith("out" + os.sep):
                continue
            rel = os.path.normpath(os.path.join("c", a))
            if before.get(rel) != after.get(rel) and os.path.isfile(os.path.join(parent, rel)):
                fs += check_output_file(os.path.join(parent, rel), a, case.nan_ok, soft_jsonl)
        # partial outputs
        new_files = [rel for rel in changed if out_after[rel][0] == stat.S_IFREG]
        if case.kind == "signal" and case.main_out:
            target = ctx.p(case.main_out)
            if os.path.lexists(target) and rc != 0:
                if os.path.isdir(target):
                    missing = [x for x in case.complete if not os.path.exists(os.path.join(target, x))]
                    if missing:
                        fs.append(F("partial-output", "%s exists without %s" % (case.main_out, ", ".join(missing))))
                elif target.endswith(".npy"):
                    try:
                        np.load(target, allow_pickle=False)
                    except Exception as e:
                        fs.append(F("partial-output", "%s is incomplete: %s" % (case.main_out, str(e)[:100])))
        elif rc not in (0, None) and case.kind == "run" and new_files and not timed_out:
            fs.append(F("soft-partial", "failed but left %s" % ", ".join("out/" + r for r in new_files[:3])))
        # 6. case-specific: silent loss
        if case.post:
            try:
                fs += case.post(ctx) or []
            except Exception as e:
                fs.append(F("soft-silent", "post-check raised %s: %s" % (type(e).__name__, str(e)[:160])))
        return fs


# --------------------------------------------------------------------------- post-checks

REPORT_RE = re.compile(r"warning|skipp|malformed|invalid|ignor|discard|unpars|could not|cannot|"
                       r"bad (line|row|record|frame)|truncat|corrupt|not json|error", re.I)


def post_reports(what: str):
    """A run that succeeds on an input with bad records must say so on stderr."""
    def post(ctx):
        if ctx.rc == 0 and not REPORT_RE.search(ctx.stderr):
            return [F("silent-loss", "exit 0 and no word on stderr about %s" % what)]
        return []
    return post


def post_shape(rel: str, shape: tuple):
    def post(ctx):
        if ctx.rc != 0 or not os.path.isfile(ctx.p(rel)):
            return []
        try:
            a = ctx.load(rel)
        except Exception:
            return []
        if tuple(a.shape) != tuple(shape):
            return [F("silent-loss", "%s has shape %s, expected %s" % (rel, a.shape, shape))]
        return []
    return post


def post_ref(rel: str, ref: str, rtol=2e-3):
    """The output must match a reference run on an equivalent plain input."""
    def post(ctx):
        if ctx.rc != 0 or not os.path.isfile(ctx.p(rel)):
            return []
        if not os.path.isfile(ctx.p(ref)):
            return [F("soft-silent", "the reference run wrote no %s" % ref)]
        a, b = ctx.load(rel), ctx.load(ref)
        if a.shape != b.shape:
            return [F("silent-loss", "%s shape %s differs from the reference's %s" % (rel, a.shape, b.shape))]
        if not np.allclose(a.astype("f8"), b.astype("f8"), rtol=rtol, atol=1e-5, equal_nan=True):
            d = float(np.nanmax(np.abs(a.astype("f8") - b.astype("f8"))))
            return [F("silent-loss", "%s differs from the plain-input reference (max |diff| %.3g): input "
                      "misread silently" % (rel, d))]
        return []
    return post


def posts(*fns):
    fns = [f for f in fns if f]

    def post(ctx):
        out = []
        for f in fns:
            out += f(ctx) or []
        return out
    return post


def S(*steps):
    """Chain setup steps."""
    def setup(ctx):
        for s in steps:
            if s:
                s(ctx)
    return setup


def put(rel, data):
    return lambda ctx: ctx.write(rel, data() if callable(data) else data)


def put_npy(rel, arr):
    return lambda ctx: ctx.npy(rel, arr)


def cp(name, rel):
    return lambda ctx: ctx.copy(name, rel)


# --------------------------------------------------------------------------- category: npy

def npy_variants():
    """(name, setup-for-'in/x.npy', kind) where kind says which consumers get it."""
    x = X3
    data = x.tobytes()
    h = npy_hdr("<f4", x.shape)
    v = []

    def raw(name, b, grp="fmt"):
        v.append((name, put("in/x.npy", b), grp))
    raw("empty-file", b"")
    raw("magic-only", MAGIC)
    raw("bad-magic", npy_raw(h, data, magic=b"\x93NUMPX"))
    raw("text-file", b"hello, this is not an array\n")
    raw("gzip", b"\x1f\x8b\x08\x00" + b"\x00" * 64)
    raw("ver-2-0", npy_bytes(x, version=(2, 0)), "ok")
    raw("ver-3-0", npy_bytes(x, version=(3, 0)), "ok")
    raw("ver-9-9", npy_raw(h, data, version=(9, 9)))
    raw("ver-0-0", npy_raw(h, data, version=(0, 0)))
    raw("hlen-past-eof", npy_raw(h, b"", hlen=65535))
    raw("hlen-huge-v2", npy_raw(h, data, version=(2, 0), hlen=0xFFFFFFFF))
    raw("header-cut", npy_raw(h, data)[:40])
    raw("unterminated-dict", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 20, 3), ", data))
    raw("header-not-dict", npy_raw("[1, 2, 3]", data))
    raw("header-code", npy_raw("__import__('os').system('touch victim/pwned')", data))
    raw("header-nonascii", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 20, 3), 'é': 1}", data))
    raw("header-nul", npy_raw("{'descr': '<f4',\x00 'fortran_order': False, 'shape': (3, 20, 3), }", data))
    raw("missing-descr", npy_raw("{'fortran_order': False, 'shape': (3, 20, 3), }", data))
    raw("missing-shape", npy_raw("{'descr': '<f4', 'fortran_order': False, }", data))
    raw("missing-fortran", npy_raw("{'descr': '<f4', 'shape': (3, 20, 3), }", data))
    raw("extra-key", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 20, 3), 'x': [1, {2: 3}]}", data), "ok")
    raw("dupe-key", npy_raw("{'descr': '<f8', 'descr': '<f4', 'fortran_order': False, 'shape': (3, 20, 3), }", data))
    raw("header-crlf", npy_raw(h + "\r", data))
    raw("header-no-newline", npy_raw(h, data, newline=False))
    raw("header-unpadded", npy_raw(h, data, pad=False), "ok")
    raw("shape-bigger", npy_raw(h, data[: len(data) * 2 // 3]))
    raw("shape-smaller", npy_raw(h, data + b"\x00" * 1000))
    raw("data-empty", npy_raw(h, b""))
    raw("data-odd-bytes", npy_raw(h, data[:-1]))
    raw("shape-overflow-u64", npy_raw(npy_hdr("<f4", (4294967296, 4294967296, 3)), data))
    raw("shape-overflow-bytes", npy_raw(npy_hdr("<f4", (2305843009213693952, 1, 1)), data))
    raw("shape-huge-int", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999, 3), }", data))
    raw("shape-neg", npy_raw(npy_hdr("<f4", (-1, 20, 3)), data))
    raw("shape-float", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': (3.0, 20, 3), }", data))
    raw("shape-str", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': ('3', 20, 3), }", data))
    raw("shape-scalar", npy_raw(npy_hdr("<f4", ()).replace("()", "()"), data[:4]))
    raw("shape-int", npy_raw("{'descr': '<f4', 'fortran_order': False, 'shape': 180, }", data))
    raw("descr-garbage", npy_raw(npy_hdr("<f3", x.shape), data))
    raw("descr-empty", npy_raw(npy_hdr("", x.shape), data))
    raw("descr-name", npy_raw(npy_hdr("float32", x.shape), data))
    raw("descr-native-f4", npy_raw(npy_hdr("=f4", x.shape), data))
    # valid files the tool may or may not support: if it reads them, it must read them right
    v.append(("fortran-order", put_npy("in/x.npy", np.asfortranarray(x)), "ref"))
    v.append(("big-endian-f4", put_npy("in/x.npy", x.astype(">f4")), "ref"))
    v.append(("big-endian-f8", put_npy("in/x.npy", x.astype(">f8")), "ref"))
    v.append(("dtype-f8", put_npy("in/x.npy", x.astype("<f8")), "ref"))
    v.append(("dtype-f2", put_npy("in/x.npy", x.astype("<f2")), "dtype"))
    v.append(("dtype-c8", put_npy("in/x.npy", x.astype("<c8")), "dtype"))
    v.append(("dtype-c16", put_npy("in/x.npy", x.astype("<c16")), "dtype"))
    v.append(("dtype-b1", put_npy("in/x.npy", x > 1), "dtype"))
    v.append(("dtype-i8", put_npy("in/x.npy", (x * 10).astype("<i8")), "dtype"))
    v.append(("dtype-u1", put_npy("in/x.npy", (x * 10).astype("u1")), "dtype"))
    v.append(("dtype-object", put("in/x.npy", npy_bytes(np.array([[1.0, None]], dtype=object))), "dtype"))
    v.append(("dtype-struct", put_npy("in/x.npy", np.zeros((3, 20), dtype=[("a", "<f4"), ("b", "<f4"), ("c", "<f4")])), "dtype"))
    v.append(("dtype-bytes", put_npy("in/x.npy", np.full((3, 20, 3), b"ab", dtype="S2")), "dtype"))
    v.append(("dtype-unicode", put_npy("in/x.npy", np.full((3, 20, 3), "a", dtype="<U1")), "dtype"))
    v.append(("dtype-datetime", put_npy("in/x.npy", np.zeros((3, 20, 3), dtype="<M8[s]")), "dtype"))
    v.append(("dtype-longdouble", put_npy("in/x.npy", x.astype(np.longdouble)), "dtype"))
    v.append(("rank-1", put_npy("in/x.npy", x.reshape(-1)), "rank"))
    v.append(("rank-4", put_npy("in/x.npy", x.reshape(1, 3, 20, 3)), "rank"))
    v.append(("rank-5", put_npy("in/x.npy", x.reshape(1, 1, 3, 20, 3)), "rank"))
    v.append(("rank-0", put_npy("in/x.npy", np.float32(1.5)), "rank"))
    # the file itself
    v.append(("symlink-loop", lambda ctx: ctx.symlink("x.npy", "in/x.npy"), "file"))
    v.append(("symlink-dangling", lambda ctx: ctx.symlink("nowhere.npy", "in/x.npy"), "file"))
    v.append(("is-directory", lambda ctx: ctx.mkdir("in/x.npy"), "file"))
    v.append(("fifo", lambda ctx: ctx.mkfifo("in/x.npy"), "file"))
    v.append(("unreadable", lambda ctx: (ctx.npy("in/x.npy", x), os.chmod(ctx.p("in/x.npy"), 0)), "root"))
    v.append(("sparse-10g", sparse_npy, "huge"))
    return v


def sparse_npy(ctx):
    hdr = npy_raw(npy_hdr("<f4", (1, 900_000_000, 3)), b"")
    ctx.write("in/x.npy", hdr)
    os.truncate(ctx.p("in/x.npy"), len(hdr) + 4 * 900_000_000 * 3)


def consumers_npy():
    A = ["attribute", "--features", "in/x.npy", "--indicator", "linear", "--steps", "4", "--out", "out/phi.npy",
         "--summary", "out/s.json", "--quiet", "--threads", "1"]
    E = ["eval", "--features", "in/x.npy", "--indicator", "gini", "--out", "out/v.npy", "--quiet", "--threads", "1"]
    C = ["compare", "--features", "in/x.npy", "--step", "0", "--indicator", "mult", "--samples", "8", "--steps", "4",
         "--methods", "as-exact,as-path,loo,shapley-sampled", "--out", "out/cmp", "--quiet", "--threads", "1"]
    T = ["train", "--features", "in/x.npy", "--target-indicator", "linear", "--out", "out/model", "--hidden", "4",
         "--depth", "1", "--epochs", "2", "--batch", "2", "--quiet", "--threads", "1"]
    B = ["attribute", "--features", "in/good.npy", "--baseline", "in/x.npy", "--indicator", "variance", "--steps",
         "4", "--out", "out/phi.npy", "--summary", "out/s.json", "--quiet", "--threads", "1"]
    Y = ["train", "--features", "in/train.npy", "--target", "in/x.npy", "--out", "out/model", "--hidden", "4",
         "--depth", "1", "--epochs", "2", "--quiet", "--threads", "1"]
    return {"attribute": A, "eval": E, "compare": C, "train": T, "baseline": B, "target": Y}


def gen_npy(fx):
    cases = []
    cons = consumers_npy()
    fmt_subset = {"empty-file", "bad-magic", "ver-3-0", "hlen-huge-v2", "unterminated-dict", "header-code",
                  "shape-bigger", "shape-overflow-u64", "shape-overflow-bytes", "shape-neg", "data-empty", "fifo"}
    dtype_eval = {"dtype-f2", "dtype-c8", "dtype-b1", "dtype-i8", "dtype-object", "dtype-struct", "rank-1", "rank-4"}
    for name, setup, grp in npy_variants():
        if grp in ("root", "huge"):
            targets = ["attribute"]
        elif grp == "ref":
            targets = ["attribute", "eval", "baseline"]
        elif grp in ("ok", "file"):
            targets = ["attribute", "eval"]
        elif grp in ("dtype", "rank"):
            targets = ["attribute"] + (["eval"] if name in dtype_eval else [])
        else:
            targets = ["attribute"] + (["eval", "train", "baseline"] if name in fmt_subset else [])
        if name in ("fifo",):
            targets = ["attribute", "eval", "train"]
        for t in targets:
            args = cons[t]
            extra = [put_npy("in/good.npy", X3 * 2)] if t == "baseline" else ([cp("train", "in/train.npy")] if t == "target" else [])
            pre = []
            post = None
            if grp == "ref" and t in ("attribute", "eval", "baseline"):
                refargs = [a.replace("in/x.npy", "in/ref.npy").replace("out/phi.npy", "out/ref.npy")
                           .replace("out/v.npy", "out/ref.npy").replace("out/s.json", "out/ref.json") for a in args]
                extra.append(cp("x3", "in/ref.npy"))
                pre = [refargs]
                post = post_ref("out/phi.npy" if t != "eval" else "out/v.npy", "out/ref.npy")
            cases.append(Case(
                "npy-%s-%s" % (name, t), "npy", args, setup=S(setup, *extra), pre=pre, post=post,
                needs=("x3", "train"),
                timeout=15 if name == "fifo" else None, huge=(grp == "huge"),
                skip="running as root: permissions are not enforced" if grp == "root" and IS_ROOT else None))
    return cases


# --------------------------------------------------------------------------- category: values

def value_arrays():
    x = X3.copy()
    out = []

    def mod(name, fn, dtype="<f4"):
        a = x.astype(dtype).copy()
        r = fn(a)
        out.append((name, a if r is None else r))
    mod("nan-one", lambda a: a.__setitem__((1, 3, 0), np.nan))
    mod("nan-all", lambda a: a.fill(np.nan))
    mod("inf-one", lambda a: a.__setitem__((0, 0, 0), np.inf))
    mod("ninf-one", lambda a: a.__setitem__((2, 5, 1), -np.inf))
    mod("subnormal", lambda a: a.fill(1e-45))
    mod("huge-f32", lambda a: a.fill(3e38))
    mod("huge-one", lambda a: a.__setitem__((0, 1, 2), 3.4e38))
    mod("f64-1e300", lambda a: a.__setitem__((0, 2, 0), 1e300), "<f8")
    mod("negative", lambda a: a.__imul__(-1))
    mod("all-zero", lambda a: a.fill(0))
    mod("all-equal", lambda a: a.fill(1.0))
    out.append(("n0", np.zeros((3, 0, 3), "<f4")))
    out.append(("n1", x[:, :1].copy()))
    out.append(("n2", x[:, :2].copy()))
    out.append(("t0", np.zeros((0, 20, 3), "<f4")))
    out.append(("d0", np.zeros((3, 20, 0), "<f4")))
    out.append(("d1", x[:, :, :1].copy()))
    out.append(("thin-long-n", np.random.default_rng(5).lognormal(size=(1, 2_000_000, 1)).astype("<f4")))
    out.append(("thin-long-t", np.random.default_rng(6).lognormal(size=(20_000, 2, 1)).astype("<f4")))
    out.append(("wide-d", np.random.default_rng(7).lognormal(size=(1, 3, 4000)).astype("<f4")))
    return out


def gen_values(fx):
    cases = []
    four = {"nan-one", "inf-one", "huge-f32", "huge-one", "f64-1e300", "subnormal", "all-zero", "all-equal", "negative"}
    also = {"nan-one", "huge-f32", "all-zero", "f64-1e300", "n0", "t0", "d0", "n1"}
    for name, arr in value_arrays():
        T, n = arr.shape[0], arr.shape[1]
        shp_phi = (T, n)
        inds = ("linear", "mult", "variance", "gini") if name in four else (("gini", "mult") if arr.size <= 1000 and
                                                                             arr.shape[1] > 2 else ("gini",))
        runs = []
        for ind in inds:
            runs.append(("attr-%s" % ind, ["attribute", "--features", "in/x.npy", "--indicator", ind, "--steps", "4",
                                           "--out", "out/phi.npy", "--summary", "out/s.json", "--quiet", "--threads", "1"],
                         post_shape("out/phi.npy", shp_phi)))
        runs.append(("exact-gini-norm", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--method", "exact",
                                         "--normalize", "--out", "out/phi.npy", "--summary", "out/s.json", "--quiet"],
                     post_shape("out/phi.npy", shp_phi)))
        if name in also:
            runs.append(("eval-variance", ["eval", "--features", "in/x.npy", "--indicator", "variance", "--out",
                                           "out/v.npy", "--quiet", "--threads", "1"], post_shape("out/v.npy", (T,))))
            runs.append(("compare-gini", ["compare", "--features", "in/x.npy", "--step", "0", "--indicator", "gini",
                                          "--samples", "6", "--steps", "4", "--methods",
                                          "as-exact,as-path,loo,shapley-sampled,banzhaf-sampled", "--out", "out/cmp",
                                          "--quiet", "--threads", "1"], None))
        for rname, args, post in runs:
            cases.append(Case("values-%s-%s" % (name, rname), "values", args, setup=put_npy("in/x.npy", arr), post=post))
    # baselines
    one = X3[:1].copy()
    bl = [
        ("first-T1", one, ["--baseline", "first"]),
        ("first-T1-normalize", one, ["--baseline", "first", "--normalize"]),
        ("mean-n1-normalize", X3[:, :1].copy(), ["--baseline", "mean", "--normalize"]),
        ("mean-all-equal", np.ones((2, 5, 3), "<f4"), ["--baseline", "mean"]),
        ("zero-normalize-zero", np.zeros((2, 5, 3), "<f4"), ["--normalize"]),
        ("self-baseline", X3, ["--baseline", "in/x.npy"]),
        ("self-baseline-normalize", X3, ["--baseline", "in/x.npy", "--normalize"]),
        ("baseline-nan", X3, ["--baseline", "in/b.npy"]),
        ("baseline-shape-d", X3, ["--baseline", "in/bd.npy"]),
        ("baseline-shape-n", X3, ["--baseline", "in/bn.npy"]),
        ("baseline-shape-T", X3, ["--baseline", "in/bt.npy"]),
        ("baseline-d-vector", X3, ["--baseline", "in/bv.npy"]),
        ("baseline-empty-name", X3, ["--baseline", ""]),
        ("baseline-word", X3, ["--baseline", "median"]),
    ]

    def bsetup(arr):
        def s(ctx):
            ctx.npy("in/x.npy", arr)
            b = X3.copy()
            b[0, 0, 0] = np.nan
            ctx.npy("in/b.npy", b)
            ctx.npy("in/bd.npy", np.zeros((3, 20, 4), "<f4"))
            ctx.npy("in/bn.npy", np.zeros((3, 21, 3), "<f4"))
            ctx.npy("in/bt.npy", np.zeros((4, 20, 3), "<f4"))
            ctx.npy("in/bv.npy", np.array([0.5, 0.5, 0.5], "<f4"))
        return s
    for name, arr, extra in bl:
        for ind in (("linear", "gini") if "normalize" in name else ("gini",)):
            cases.append(Case("values-baseline-%s-%s" % (name, ind), "values",
                              ["attribute", "--features", "in/x.npy", "--indicator", ind, "--steps", "4", "--out",
                               "out/phi.npy", "--summary", "out/s.json", "--quiet", "--threads", "1"] + extra,
                              setup=bsetup(arr)))
    return cases


# --------------------------------------------------------------------------- category: flags

# value sets: P for sizes and counts, Q for the secondary counts, FL for floats
P = ["0", "4294967296", "9223372036854775808", "1000000000"]
PA = ["1", "-1"] + P  # agent counts: one agent is a boundary of its own; -1 probes signedness
Q = ["0", "9223372036854775808"]
FL = ["0", "-1", "nan", "inf", "1e300"]
SEEDS = ["-1", "18446744073709551616"]
THREADS = ["0", "100000", "4294967296"]
LISTS = ["0", "", "5,,10", "4294967296", "1000000000"]


def flag_bases():
    """name -> (base args, needs, setup, {flag: value-set}); every base is small and valid."""
    att = ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--steps", "4", "--out", "out/phi.npy",
           "--summary", "out/s.json", "--quiet", "--threads", "1"]
    att_sc = ["attribute", "--scenario", "in/scen", "--indicator", "rollout", "--steps", "4", "--out", "out/phi.npy",
              "--summary", "out/s.json", "--quiet", "--threads", "1", "--step", "2", "--run", "0"]
    ev_sc = ["eval", "--scenario", "in/scen", "--features", "in/scen/features.npy", "--step", "1", "--run", "0",
             "--out", "out/v.npy", "--quiet", "--threads", "1"]
    cmpb = ["compare", "--features", "in/x.npy", "--step", "0", "--indicator", "mult", "--samples", "8", "--steps", "4",
            "--seed", "3", "--out", "out/cmp", "--quiet", "--threads", "1"]
    cmp_sc = ["compare", "--scenario", "in/scen", "--step", "1", "--run", "0", "--methods", "as-path,loo",
              "--steps", "4", "--out", "out/cmp", "--quiet", "--threads", "1"]
    demo = ["demo", "--agents", "50", "--steps", "32", "--seed", "3", "--quiet", "--threads", "1"]
    syn = ["synth", "--agents", "20", "--time-steps", "2", "--seed", "3", "--out", "out/x.npy"]
    trn = ["train", "--features", "in/train.npy", "--target-indicator", "linear", "--out", "out/model", "--hidden", "4",
           "--depth", "1", "--epochs", "2", "--batch", "8", "--seed", "3", "--lr", "0.01", "--val-fraction", "0.2",
           "--patience", "5", "--quiet", "--threads", "1"]
    bsyn = ["bench", "synthetic", "--out", "out/b", "--sizes", "5,10", "--seeds", "1", "--samples", "10", "--steps",
            "4", "--quiet", "--threads", "1"]
    bsc = ["bench", "scaling", "--out", "out/b", "--sizes", "5,10", "--samples", "10", "--budget", "1", "--methods",
           "as-exact,as-path,loo,shapley-sampled", "--quiet", "--threads", "1"]
    psyn = ["panel", "synth", "--agents", "50", "--days", "3", "--seed", "3", "--out", "out/p", "--events", "out/ev",
            "--likes-per-post", "1", "--threads", "1"]
    ping = ["panel", "ingest", "--events", "in/ev/events", "--topics", "in/ev/topics.toml", "--followers",
            "in/ev/followers.csv", "--out", "out/p", "--max-daily-posts", "100", "--quiet"]
    ping_w = ping + ["--from", "2026-04-08", "--days", "3"]
    st = ["study", "--out", "out/st", "--agents", "200", "--days", "3", "--seed", "3", "--panel-seed", "3", "--seeds",
          "2", "--sizes", "10,50", "--top-k", "5", "--quiet", "--threads", "1"]
    sw = ["study", "sweep", "--out", "out/sw", "--agents", "200", "--seed", "3", "--panel-seed", "3", "--seeds", "2",
          "--sizes", "10,50", "--quiet"]
    sim = ["simulate", "econ", "--agents", "12", "--steps", "6", "--seed", "3", "--horizon", "2", "--temperature",
           "0.05", "--out", "out/sc", "--quiet", "--threads", "1"]
    simc = ["simulate", "cascade", "--agents", "12", "--steps", "6", "--runs", "2", "--out", "out/sc", "--quiet",
            "--threads", "1"]
    imp = ["import", "--csv", "in/long.csv", "--step", "step", "--agent", "agent", "--features", "a,b", "--fill", "0",
           "--out", "out/x.npy"]
    fth = ["faithfulness", "--scenario", "in/scen", "--out", "out/f", "--samples", "10", "--seeds", "1", "--seed", "3",
           "--k-max", "3", "--orders", "1", "--steps", "4", "--budget", "5", "--run", "0", "--step", "3",
           "--no-sweeps", "--quiet", "--threads", "1"]
    x3 = cp("x3", "in/x.npy")
    long_csv = put("in/long.csv", "step,agent,a,b\n0,1,1.0,2.0\n0,2,3,4\n1,1,5,6\n1,2,7,8\n")
    return {
        "attribute": (att, ("x3",), x3, {"--steps": P, "--threads": THREADS}),
        "attribute-scenario": (att_sc, ("scen_econ",), cp("scen_econ", "in/scen"),
                               {"--step": P, "--run": Q}),
        "eval-scenario": (ev_sc, ("scen_cascade",), cp("scen_cascade", "in/scen"),
                          {"--step": Q}),
        "compare": (cmpb, ("x3",), x3, {"--samples": P, "--steps": Q, "--step": Q, "--seed": SEEDS}),
        "compare-scenario": (cmp_sc, ("scen_cascade",), cp("scen_cascade", "in/scen"), {"--run": Q}),
        "demo": (demo, (), None, {"--agents": PA, "--steps": P, "--seed": SEEDS}),
        "synth": (syn, (), None, {"--agents": PA, "--time-steps": P, "--seed": SEEDS}),
        "train": (trn, ("train",), cp("train", "in/train.npy"),
                  {"--hidden": P, "--depth": P, "--epochs": Q, "--batch": Q, "--patience": Q, "--lr": FL + ["1e-300"],
                   "--val-fraction": FL + ["1", "0.999999"], "--seed": SEEDS}),
        "train-pathcopies": (trn + ["--path-copies", "1"], ("train",), cp("train", "in/train.npy"),
                             {"--path-copies": Q + ["1000000000"]}),
        "bench-synthetic": (bsyn, (), None, {"--sizes": LISTS, "--seeds": Q, "--samples": Q, "--steps": Q}),
        "bench-scaling": (bsc, (), None, {"--sizes": LISTS, "--budget": FL, "--samples": Q}),
        "panel-synth": (psyn, (), None, {"--agents": PA, "--days": P, "--likes-per-post": Q + ["1000000000"]}),
        "panel-ingest": (ping_w, ("ev",), cp("ev", "in/ev"),
                         {"--days": P, "--from": ["2026-02-30", "0000-01-01", "-0001-01-01", "99999-01-01", "today",
                                                  "1970-01-01", "2262-04-12", ""],
                          "--max-daily-posts": Q}),
        "study": (st, (), None, {"--agents": P, "--days": P, "--seeds": Q, "--sizes": LISTS,
                                 "--tiers": ["0,0", "1,0", "0.5,0.6", "nan,0.1"],
                                 "--visibility-pool": FL + ["1"], "--top-k": LISTS, "--threads": THREADS}),
        "study-sweep": (sw, (), None, {"--agents": Q, "--sizes": ["0", "5,,10"]}),
        "simulate": (sim, (), None, {"--agents": PA, "--steps": P, "--horizon": P, "--temperature": FL + ["1e-300"], "--seed": SEEDS}),
        "simulate-cascade": (simc, (), None, {"--runs": P, "--agents": ["1", "2"]}),
        "import": (imp, (), long_csv, {"--fill": FL + ["RAISE", "1e39"]}),
        "faithfulness": (fth, ("scen_econ",), cp("scen_econ", "in/scen"),
                         {"--samples": Q, "--k-max": P, "--seeds": Q, "--steps": Q, "--orders": Q, "--budget": FL,
                          "--step": Q, "--run": Q}),
    }


HUGE_WORK = {"1000000000", "2147483648", "4294967296", "9223372036854775808", "1e300", "inf"}


def slug(v: str) -> str:
    if v == "":
        return "empty"
    s = re.sub(r"[^A-Za-z0-9]+", "_", v).strip("_")
    return (s or "x")[:24] + ("" if not v.startswith("-") else "_neg")


def gen_flags(fx):
    cases = []
    for base, (args, needs, setup, flags) in flag_bases().items():
        for flag, values in flags.items():
            for v in values:
                a = list(args)
                if flag in a:
                    a[a.index(flag) + 1] = v
                else:
                    a += [flag, v]
                cid = "flags-%s-%s-%s" % (base, flag.lstrip("-"), slug(v))
                huge = v in HUGE_WORK and flag not in ("--threads", "--seed", "--panel-seed")
                cases.append(Case(cid, "flags", a, setup=setup, needs=needs, huge=huge,
                                  timeout=10 if huge else 30))
    return cases


# --------------------------------------------------------------------------- category: model

def bpk_weights(data: bytes, fill: bytes | None = None, first_only=False) -> bytes:
    """Overwrite the tensor data of a burn .bpk ("NRUB", u16 version, u32 metadata length,
    metadata, then aligned little-endian f32 data) with `fill` (4 bytes)."""
    b = bytearray(data)
    if len(b) < 10 or b[:4] != b"NRUB":
        return bytes(b)
    meta_end = 10 + struct.unpack("<I", b[6:10])[0]
    start = (meta_end + 3) // 4 * 4
    for i in range(start, len(b) - 3, 4):
        if b[i:i + 4] != b"\x00\x00\x00\x00":
            b[i:i + 4] = fill
            if first_only:
                break
    return bytes(b)


def model_mutations():
    NAN, INF, HUGE = struct.pack("<f", float("nan")), struct.pack("<f", float("inf")), struct.pack("<f", 3.0e38)
    m = []

    def cfg(name, fn):
        m.append((name, lambda ctx: ctx.edit_json("in/model/config.json", fn)))

    def setk(k, v):
        return lambda o: o.__setitem__(k, v)

    def delk(k):
        return lambda o: o.pop(k, None)
    cfg("depth-1e9", setk("depth", 10**9))
    cfg("depth-0", setk("depth", 0))
    cfg("depth-neg", setk("depth", -1))
    cfg("depth-3", setk("depth", 3))
    cfg("depth-string", setk("depth", "2"))
    cfg("depth-2pow64", setk("depth", 2**64))
    cfg("hidden-0", setk("hidden", 0))
    cfg("hidden-1e9", setk("hidden", 10**9))
    cfg("hidden-neg", setk("hidden", -4))
    cfg("hidden-8", setk("hidden", 8))
    cfg("features-0", setk("features", 0))
    cfg("features-5", setk("features", 5))
    cfg("features-1e12", setk("features", 10**12))
    cfg("activation-relu", setk("activation", "ReLU"))
    cfg("activation-unknown", setk("activation", "Banana"))
    cfg("missing-depth", delk("depth"))
    cfg("missing-features", delk("features"))
    cfg("extra-field", setk("unexpected", {"a": [1, 2]}))
    cfg("as-array", lambda o: [o])
    m.append(("config-empty", put("in/model/config.json", b"")))
    m.append(("config-garbage", put("in/model/config.json", b"{not json")))
    m.append(("config-nan-literal", put("in/model/config.json", b'{"features": 3, "hidden": NaN, "depth": 2, "activation": "Tanh"}')))
    m.append(("config-deep", put("in/model/config.json", b"[" * 100000 + b"]" * 100000)))
    m.append(("config-missing", lambda ctx: os.remove(ctx.p("in/model/config.json"))))
    m.append(("config-is-dir", lambda ctx: (os.remove(ctx.p("in/model/config.json")), ctx.mkdir("in/model/config.json"))))
    m.append(("config-fifo", lambda ctx: (os.remove(ctx.p("in/model/config.json")), ctx.mkfifo("in/model/config.json"))))

    def bpk(name, fn):
        def s(ctx):
            with open(ctx.p("in/model/model.bpk"), "rb") as f:
                d = f.read()
            ctx.write("in/model/model.bpk", fn(d))
        m.append((name, s))
    bpk("bpk-empty", lambda d: b"")
    bpk("bpk-cut-100", lambda d: d[:100])
    bpk("bpk-cut-half", lambda d: d[: len(d) // 2])
    bpk("bpk-garbage", lambda d: bytes((i * 37 + 11) % 256 for i in range(len(d))))
    bpk("bpk-bad-magic", lambda d: b"BURN" + d[4:])
    bpk("bpk-version-99", lambda d: d[:4] + struct.pack("<H", 99) + d[6:])
    bpk("bpk-metalen-huge", lambda d: d[:6] + struct.pack("<I", 0xFFFFFFFF) + d[10:])
    bpk("bpk-meta-flipped", lambda d: d[:40] + bytes(255 - c for c in d[40:120]) + d[120:])
    bpk("bpk-nan-weights", lambda d: bpk_weights(d, NAN))
    bpk("bpk-one-nan", lambda d: bpk_weights(d, NAN, first_only=True))
    bpk("bpk-inf-weights", lambda d: bpk_weights(d, INF))
    bpk("bpk-huge-weights", lambda d: bpk_weights(d, HUGE))
    bpk("bpk-trailing-junk", lambda d: d + b"\x00junk" * 100)
    m.append(("bpk-missing", lambda ctx: os.remove(ctx.p("in/model/model.bpk"))))
    m.append(("bpk-is-dir", lambda ctx: (os.remove(ctx.p("in/model/model.bpk")), ctx.mkdir("in/model/model.bpk"))))
    m.append(("bpk-symlink-victim", lambda ctx: (os.remove(ctx.p("in/model/model.bpk")),
                                                 ctx.symlink("../../victim/v.npy", "in/model/model.bpk"))))
    m.append(("bpk-from-other-model", None))  # filled in gen_model: config of a wider model
    m.append(("dir-is-file", lambda ctx: (shutil.rmtree(ctx.p("in/model")), ctx.write("in/model", b"not a dir"))))
    return m


def gen_model(fx):
    cases = []
    A = ["attribute", "--features", "in/x.npy", "--indicator", "deepset", "--model", "in/model", "--steps", "4",
         "--out", "out/phi.npy", "--summary", "out/s.json", "--quiet", "--threads", "1"]
    E = ["eval", "--features", "in/x.npy", "--model", "in/model", "--out", "out/v.npy", "--quiet", "--threads", "1"]
    C = ["compare", "--features", "in/x.npy", "--step", "0", "--indicator", "deepset", "--model", "in/model",
         "--methods", "as-path,loo,shapley-sampled", "--samples", "4", "--steps", "4", "--out", "out/cmp", "--quiet",
         "--threads", "1"]
    eval_too = {"depth-1e9", "hidden-1e9", "features-5", "bpk-cut-half", "bpk-nan-weights", "bpk-huge-weights",
                "hidden-0"}
    for name, mut in model_mutations():
        if mut is None:
            def mut(ctx):  # a model.bpk whose tensors do not match config.json (hidden 4 vs 8)
                cfgp = ctx.p("in/model/config.json")
                o = json.load(open(cfgp))
                o["hidden"] = 8
                json.dump(o, open(cfgp, "w"))
        for cname, args in (("attribute", A), ("eval", E), ("compare", C)):
            if cname != "attribute" and name not in eval_too:
                continue
            if cname == "compare" and name not in {"bpk-nan-weights", "hidden-1e9", "features-5", "bpk-huge-weights",
                                                   "depth-1e9", "bpk-cut-half"}:
                continue
            cases.append(Case("model-%s-%s" % (name, cname), "model", args,
                              setup=S(cp("x3", "in/x.npy"), cp("model", "in/model"), mut),
                              needs=("x3", "model"), timeout=15 if "fifo" in name else None))
    # data that does not fit the model
    for name, arr in (("x-d4", np.ones((2, 5, 4), "<f4")), ("x-d1", np.ones((2, 5, 1), "<f4")),
                      ("x-n0", np.ones((2, 0, 3), "<f4")), ("x-nan", np.full((2, 5, 3), np.nan, "<f4")),
                      ("x-huge", np.full((2, 5, 3), 3e38, "<f4"))):
        cases.append(Case("model-%s-attribute" % name, "model", A,
                          setup=S(put_npy("in/x.npy", arr), cp("model", "in/model")), needs=("model",)))
    # train writing over / next to things
    cases.append(Case("model-train-target-wrong-len", "model",
                      ["train", "--features", "in/train.npy", "--target", "in/y.npy", "--out", "out/model", "--epochs",
                       "2", "--hidden", "4", "--quiet", "--threads", "1"],
                      setup=S(cp("train", "in/train.npy"), put_npy("in/y.npy", np.ones(39, "<f4"))), needs=("train",)))
    cases.append(Case("model-train-target-nan", "model",
                      ["train", "--features", "in/train.npy", "--target", "in/y.npy", "--out", "out/model", "--epochs",
                       "2", "--hidden", "4", "--quiet", "--threads", "1"],
                      setup=S(cp("train", "in/train.npy"), put_npy("in/y.npy", np.full(40, np.nan, "<f4"))),
                      needs=("train",)))
    cases.append(Case("model-train-target-huge", "model",
                      ["train", "--features", "in/train.npy", "--target", "in/y.npy", "--out", "out/model", "--epochs",
                       "3", "--hidden", "4", "--quiet", "--threads", "1"],
                      setup=S(cp("train", "in/train.npy"), put_npy("in/y.npy", np.full(40, 3e38, "<f4"))),
                      needs=("train",)))
    cases.append(Case("model-train-features-nan", "model",
                      ["train", "--features", "in/x.npy", "--target-indicator", "gini", "--out", "out/model",
                       "--epochs", "3", "--hidden", "4", "--quiet", "--threads", "1"],
                      setup=put_npy("in/x.npy", np.where(np.arange(40 * 16 * 3).reshape(40, 16, 3) % 7 == 0, np.nan,
                                                         1.0).astype("<f4")), needs=()))
    cases.append(Case("model-train-one-population", "model",
                      ["train", "--features", "in/x.npy", "--target-indicator", "variance", "--out", "out/model",
                       "--epochs", "3", "--hidden", "4", "--quiet", "--threads", "1"],
                      setup=put_npy("in/x.npy", X3[:1]), needs=()))
    cases.append(Case("model-train-constant-target", "model",
                      ["train", "--features", "in/x.npy", "--target", "in/y.npy", "--out", "out/model",
                       "--epochs", "3", "--hidden", "4", "--quiet", "--threads", "1"],
                      setup=S(cp("train", "in/x.npy"), put_npy("in/y.npy", np.ones(40, "<f4"))), needs=("train",)))
    cases.append(Case("model-train-out-is-model", "model",
                      ["train", "--features", "in/train.npy", "--target-indicator", "linear", "--out", "in/model",
                       "--epochs", "2", "--hidden", "4", "--quiet", "--threads", "1"],
                      setup=S(cp("train", "in/train.npy"), cp("model", "in/model")), needs=("train", "model"),
                      allowed=["in/model"]))
    return cases


# --------------------------------------------------------------------------- category: scenario

def scen_mutations(kind: str):
    m = []

    def js(name, fn):
        m.append((name, lambda ctx: ctx.edit_json("in/scen/scenario.json", fn)))

    def par(k, v):
        def f(o):
            o.setdefault("parameters", {})[k] = v
        return f

    def npyf(rel, fn):
        def s(ctx):
            a = ctx.load("in/scen/" + rel)
            r = fn(a)
            ctx.npy("in/scen/" + rel, a if r is None else r)
        return s
    js("horizon-1e9", par("horizon", 10**9))
    js("horizon-0", par("horizon", 0))
    js("horizon-neg", par("horizon", -3))
    js("temperature-0", par("temperature", 0.0))
    js("temperature-neg", par("temperature", -1.0))
    js("temperature-tiny", par("temperature", 1e-300))
    js("threshold-huge", par("threshold", 1e300))
    js("agents-mismatch", lambda o: o.__setitem__("agents", o["agents"] + 5))
    js("steps-mismatch", lambda o: o.__setitem__("steps", o["steps"] * 10))
    js("runs-mismatch", lambda o: o.__setitem__("runs", 7))
    js("runs-0", lambda o: o.__setitem__("runs", 0))
    js("name-unknown", lambda o: o.__setitem__("scenario", "weather"))
    js("name-escape", lambda o: o.__setitem__("scenario", "../../../victim/x"))
    js("name-abs", lambda o: o.__setitem__("scenario", "/proc/self/aumann-hostile"))
    js("format-wrong", lambda o: o.__setitem__("format", "aumann-panel"))
    js("version-99", lambda o: o.__setitem__("version", 99))
    js("features-short", lambda o: o.__setitem__("features", o["features"][:-1]))
    js("features-path-names", lambda o: o.__setitem__("features", ["../../../victim/f%d" % i for i in range(len(o["features"]))]))
    js("no-parameters", lambda o: o.pop("parameters", None))
    js("context-extra", lambda o: o.__setitem__("context", list(o.get("context", [])) + ["ghost"]))
    js("edges-count-lie", lambda o: o.__setitem__("edges", 10**12))
    m.append(("json-garbage", put("in/scen/scenario.json", b"{]")))
    m.append(("json-missing", lambda ctx: os.remove(ctx.p("in/scen/scenario.json"))))
    m.append(("json-nan", lambda ctx: ctx.write("in/scen/scenario.json", open(ctx.p("in/scen/scenario.json")).read()
                                                 .replace('"temperature": 0.05', '"temperature": NaN'))))
    m.append(("features-missing", lambda ctx: os.remove(ctx.p("in/scen/features.npy"))))
    m.append(("features-nan", npyf("features.npy", lambda a: a.__setitem__((Ellipsis, 0), np.nan))))
    m.append(("features-huge", npyf("features.npy", lambda a: a.fill(3e38))))
    m.append(("features-shape", npyf("features.npy", lambda a: a[..., :-1].copy())))
    m.append(("features-f64", npyf("features.npy", lambda a: a.astype("<f8"))))
    m.append(("features-i8", npyf("features.npy", lambda a: a.astype("<i8"))))
    m.append(("features-one-step", npyf("features.npy", lambda a: a[..., :1, :, :].copy())))
    m.append(("baseline-missing", lambda ctx: os.remove(ctx.p("in/scen/baseline.npy"))))
    m.append(("baseline-nan", npyf("baseline.npy", lambda a: a.fill(np.nan))))
    m.append(("baseline-shape", npyf("baseline.npy", lambda a: a[..., :3, :].copy())))
    m.append(("baseline-equals-features", lambda ctx: shutil.copyfile(ctx.p("in/scen/features.npy"), ctx.p("in/scen/baseline.npy"))))
    m.append(("macro-missing", lambda ctx: os.remove(ctx.p("in/scen/macro.npy"))))
    m.append(("macro-nan", npyf("macro.npy", lambda a: a.fill(np.nan))))
    m.append(("edges-missing", lambda ctx: os.remove(ctx.p("in/scen/context/edges.npy"))))
    if kind != "econ":
        m.append(("edges-out-of-range", npyf("context/edges.npy", lambda a: a.__setitem__((0, 1), 12))))
        m.append(("edges-negative", npyf("context/edges.npy", lambda a: a.__setitem__((0, 0), -1))))
        m.append(("edges-2pow40", npyf("context/edges.npy", lambda a: a.__setitem__((1, 1), 2**40))))
        m.append(("edges-i64-min", npyf("context/edges.npy", lambda a: a.__setitem__((1, 0), I64_MIN))))
        m.append(("edges-self-loops", npyf("context/edges.npy", lambda a: a.__setitem__((Ellipsis, 1), a[:, 0]))))
        m.append(("edges-3-cols", npyf("context/edges.npy", lambda a: np.concatenate([a, a[:, :1]], axis=1))))
        m.append(("edges-transposed", npyf("context/edges.npy", lambda a: a.T.copy())))
        m.append(("edges-f32", npyf("context/edges.npy", lambda a: a.astype("<f4"))))
        m.append(("edges-f32-nan", npyf("context/edges.npy", lambda a: np.full(a.shape, np.nan, "<f4"))))
        m.append(("edges-empty", npyf("context/edges.npy", lambda a: np.zeros((0, 2), "<i8"))))
        m.append(("edges-million", npyf("context/edges.npy", lambda a: np.tile(a, (20000, 1)))))
    else:
        m.append(("price-nan", npyf("context/price.npy", lambda a: a.fill(np.nan))))
        m.append(("price-zero", npyf("context/price.npy", lambda a: a.fill(0))))
        m.append(("price-short", npyf("context/price.npy", lambda a: a[:2].copy())))
        m.append(("interest-inf", npyf("context/interest.npy", lambda a: a.fill(np.inf))))
        m.append(("inventory-missing", lambda ctx: os.remove(ctx.p("in/scen/context/inventory.npy"))))
        m.append(("edges-out-of-range", npyf("context/edges.npy", lambda a: np.array([[0, 99]], "<i8"))))
    m.append(("context-symlink-victim", lambda ctx: (shutil.rmtree(ctx.p("in/scen/context")),
                                                     ctx.symlink("../../victim", "in/scen/context"))))
    return m


def gen_scenario(fx):
    cases = []
    rollout = ["attribute", "--scenario", "in/scen", "--indicator", "rollout", "--step", "2", "--steps", "3", "--out",
               "out/phi.npy", "--summary", "out/s.json", "--quiet", "--threads", "1"]
    static = ["attribute", "--scenario", "in/scen", "--indicator", "static", "--steps", "4", "--out", "out/phi.npy",
              "--summary", "out/s.json", "--quiet", "--threads", "1"]
    faith = ["faithfulness", "--scenario", "in/scen", "--out", "out/f", "--samples", "8", "--seeds", "1", "--k-max", "3",
             "--orders", "1", "--steps", "4", "--no-sweeps", "--quiet", "--threads", "1"]
    ev = ["eval", "--scenario", "in/scen", "--features", "in/scen/features.npy", "--step", "1", "--indicator", "rollout",
          "--out", "out/v.npy", "--quiet", "--threads", "1"]
    cmp_ = ["compare", "--scenario", "in/scen", "--step", "2", "--run", "1", "--methods", "as-path,loo,shapley-sampled",
            "--samples", "4", "--steps", "4", "--out", "out/cmp", "--quiet", "--threads", "1"]
    edge_names = {"edges-out-of-range", "edges-negative", "edges-2pow40", "edges-i64-min", "edges-self-loops",
                  "edges-3-cols", "edges-transposed", "edges-f32", "edges-f32-nan", "edges-empty", "edges-million"}
    plan = {
        # social: every general mutation and the edge lists
        "social": ({"horizon-1e9", "horizon-neg", "temperature-0", "temperature-neg", "agents-mismatch",
                    "steps-mismatch", "name-unknown", "name-escape", "name-abs", "format-wrong", "features-short",
                    "features-path-names", "json-garbage", "json-missing", "json-nan", "features-missing",
                    "features-nan", "features-shape", "baseline-missing", "baseline-nan", "baseline-shape",
                    "baseline-equals-features", "macro-missing", "edges-missing", "context-symlink-victim",
                    "no-parameters"} | edge_names, {"rollout"}, {"name-escape", "name-abs", "name-unknown", "horizon-1e9", "features-nan",
                                       "temperature-0", "edges-out-of-range", "agents-mismatch",
                                       "baseline-equals-features", "features-path-names"}),
        # cascade: runs and edges
        "cascade": ({"runs-mismatch", "runs-0", "steps-mismatch", "agents-mismatch", "features-one-step",
                     "features-shape", "baseline-shape", "horizon-1e9", "temperature-0", "features-nan",
                     "edges-out-of-range", "edges-negative", "edges-2pow40", "edges-f32-nan", "edges-million"},
                    {"rollout"}, {"runs-mismatch", "runs-0", "features-one-step", "edges-out-of-range", "horizon-1e9",
                                  "baseline-shape"}),
        # econ: its context series
        "econ": ({"price-nan", "price-zero", "price-short", "interest-inf", "inventory-missing", "edges-out-of-range",
                  "horizon-1e9", "temperature-0", "features-nan", "name-escape", "baseline-equals-features"},
                 {"rollout", "static"}, set()),
    }
    for kind, (subset, runs, extra) in plan.items():
        for name, mut in scen_mutations(kind):
            if subset is not None and name not in subset:
                continue
            sel = [("attr-rollout", rollout)]
            if "static" in runs and name in ("price-nan", "price-zero", "features-nan", "baseline-equals-features"):
                sel.append(("attr-static", static))
            if name in extra:
                sel.append(("faith", faith) if kind != "cascade" else ("compare", cmp_))
                if kind == "social":
                    sel.append(("eval", ev))
            post = None
            if name == "edges-f32-nan":
                post = lambda ctx: [F("silent-loss", "NaN agent ids in the edge list were accepted")] if ctx.rc == 0 else []
            for rname, args in sel:
                cases.append(Case("scenario-%s-%s-%s" % (kind, name, rname), "scenario", args, post=post,
                                  setup=S(cp("scen_" + kind, "in/scen"), mut), needs=("scen_" + kind,),
                                  huge=name == "horizon-1e9", timeout=10 if name == "horizon-1e9" else None))
    return cases


# --------------------------------------------------------------------------- category: panel (study --panel)

def gen_panel(fx):
    cases = []
    base = ["study", "--panel", "in/panel", "--out", "out/st", "--seeds", "2", "--sizes", "10,50", "--quiet",
            "--threads", "1"]

    def man(fn):
        return lambda ctx: ctx.edit_json("in/panel/manifest.json", fn)

    def topic_npy(fn, topic="mythos"):
        def s(ctx):
            rel = "in/panel/topics/%s.npy" % topic
            a = ctx.load(rel)
            r = fn(a)
            ctx.npy(rel, a if r is None else r)
        return s

    def rename_topic(new):
        def s(ctx, new=new):
            new = new.replace("{C}", ctx.c)
            o = ctx.read_json("in/panel/manifest.json")
            o["topics"][0] = new
            ctx.write_json("in/panel/manifest.json", o)
            src = ctx.p("in/panel/topics/mythos.npy")
            dst = os.path.join(ctx.p("in/panel/topics"), new + ".npy")
            try:
                os.makedirs(os.path.dirname(os.path.abspath(dst)), exist_ok=True)
                if os.path.abspath(dst).startswith(ctx.p("in/panel")):
                    shutil.copyfile(src, dst)
            except OSError:
                pass
        return s
    muts = [
        ("manifest-missing", lambda ctx: os.remove(ctx.p("in/panel/manifest.json"))),
        ("manifest-garbage", put("in/panel/manifest.json", b"\x00\x01garbage")),
        ("manifest-agents-more", man(lambda o: o.__setitem__("agents", o["agents"] * 2))),
        ("manifest-agents-1e12", man(lambda o: o.__setitem__("agents", 10**12))),
        ("manifest-days-0", man(lambda o: o.__setitem__("days", 0))),
        ("manifest-days-1e9", man(lambda o: o.__setitem__("days", 10**9))),
        ("manifest-topics-empty", man(lambda o: o.__setitem__("topics", []))),
        ("manifest-topics-dupe", man(lambda o: o.__setitem__("topics", o["topics"] + [o["topics"][0]]))),
        ("manifest-topic-ghost", man(lambda o: o["topics"].append("ghost"))),
        ("manifest-labels-short", man(lambda o: o.__setitem__("day_labels", o["day_labels"][:1]))),
        ("manifest-features-other", man(lambda o: o.__setitem__("features", ["a", "b"]))),
        ("manifest-format", man(lambda o: o.__setitem__("format", "aumann-scenario"))),
        ("manifest-version-99", man(lambda o: o.__setitem__("version", 99))),
        ("topic-escape", rename_topic("../../../victim/v")),
        ("topic-abs", rename_topic("{C}/victim/abs")),
        ("topic-slash", rename_topic("a/b")),
        ("topic-dotdot", rename_topic("..")),
        ("topic-empty-name", rename_topic("")),
        ("topic-nan-name", rename_topic("nan")),
        ("topic-newline", rename_topic("my\nthos")),
        ("topic-comma-quote", rename_topic('my,th"os')),
        ("topic-nan-values", topic_npy(lambda a: a.__setitem__((0, slice(None), 1), np.nan))),
        ("topic-inf-values", topic_npy(lambda a: a.__setitem__((1, 0, 0), np.inf))),
        ("topic-negative", topic_npy(lambda a: a.__imul__(-1))),
        ("topic-all-zero", topic_npy(lambda a: a.fill(0))),
        ("topic-shape-days", topic_npy(lambda a: a[:2].copy())),
        ("topic-shape-agents", topic_npy(lambda a: a[:, :150].copy())),
        ("topic-f64", topic_npy(lambda a: a.astype("<f8"))),
        ("topic-missing", lambda ctx: os.remove(ctx.p("in/panel/topics/mythos.npy"))),
        ("followers-negative", lambda ctx: ctx.npy("in/panel/followers.npy", -np.ones(200, "<i8"))),
        ("followers-huge", lambda ctx: ctx.npy("in/panel/followers.npy", np.full(200, I64_MAX, "<i8"))),
        ("followers-f32-nan", lambda ctx: ctx.npy("in/panel/followers.npy", np.full(200, np.nan, "<f4"))),
        ("followers-short", lambda ctx: ctx.npy("in/panel/followers.npy", np.ones(10, "<i8"))),
        ("followers-missing", lambda ctx: os.remove(ctx.p("in/panel/followers.npy"))),
        ("posts-missing", lambda ctx: os.remove(ctx.p("in/panel/posts_7d.npy"))),
        ("panel-is-file", lambda ctx: (shutil.rmtree(ctx.p("in/panel")), ctx.write("in/panel", b"x"))),
    ]
    for name, mut in muts:
        cases.append(Case("panel-%s" % name, "panel", base, setup=S(cp("panel", "in/panel"), mut), needs=("panel",),
                          nan_ok={"nan"}, huge=name in ("manifest-days-1e9", "manifest-agents-1e12")))
    # study --panel writing per-agent attributions
    cases.append(Case("panel-per-agent-escape", "panel", base + ["--per-agent"],
                      setup=S(cp("panel", "in/panel"), rename_topic("../../../../victim/pa")), needs=("panel",)))
    return cases


# --------------------------------------------------------------------------- category: events (panel ingest)

T0 = 1775606400000001  # 2026-04-08, inside the fixture's window


def ev_post(did, t, text, tags=(), facets=None, reply=None, **rec_extra):
    rec = {"$type": "app.bsky.feed.post", "createdAt": "2026-04-08T12:00:00.000Z", "text": text, "langs": ["en"]}
    if facets is not None:
        rec["facets"] = facets
    elif tags:
        rec["facets"] = [{"index": {"byteStart": 0, "byteEnd": 1},
                          "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": t_}]} for t_ in tags]
    if reply:
        rec["reply"] = reply
    rec.update(rec_extra)
    return {"did": did, "time_us": t, "kind": "commit",
            "commit": {"rev": "3miwyefrc2322", "operation": "create", "collection": "app.bsky.feed.post",
                       "rkey": "3mhostile%05d" % (t % 100000), "record": rec, "cid": "bafyreihostile"}}


DID0 = "did:plc:000000000000000000000000"
DID1 = "did:plc:000000000000000000000001"


def hostile_lines():
    """(name, bytes line(s), malformed?) to splice into a valid events file."""
    P = lambda **kw: json.dumps(ev_post(DID0, T0 + 7, "mythos #mythos", tags=["mythos"], **kw)).encode()
    good = json.loads(P())

    def with_(path, value, base=None):
        e = json.loads(json.dumps(base or good))
        cur = e
        for k in path[:-1]:
            cur = cur[k]
        if value is KeyError:
            cur.pop(path[-1], None)
        else:
            cur[path[-1]] = value
        return json.dumps(e).encode()
    L = []
    L += [("malformed", b"{garbage", True), ("truncated", P()[:70], True), ("empty-object", b"{}", True),
          ("null", b"null", True), ("array", b"[]", True),
          ("deep-array", b"[" * 100000, True), ("deep-object", b'{"a":' * 100000 + b"1" + b"}" * 100000, True),
          ("deep-in-record", P()[:-3] + b', "deep": ' + b"[" * 50000 + b"]" * 50000 + b"}}}", True),
          ("huge-text-20mb", with_(("commit", "record", "text"), "mythos " + "a" * 20_000_000), False),
          ("invalid-utf8", P().replace(b"mythos #mythos", b"myth\xff\xfeos #mythos"), True),
          ("lone-surrogate", P().replace(b"mythos #mythos", b"mythos \\ud800 #mythos"), True),
          ("nul-byte", P().replace(b"mythos #mythos", b"my\x00thos"), True),
          ("time-i64-max", with_(("time_us",), I64_MAX), False),
          ("time-i64-min", with_(("time_us",), I64_MIN), False),
          ("time-2pow64", with_(("time_us",), 2**64), True),
          ("time-negative", with_(("time_us",), -1), False),
          ("time-year-3000", with_(("time_us",), 32503680000000000), False),
          ("time-year-1600", with_(("time_us",), -11676096000000000), False),
          ("time-float", with_(("time_us",), 1.7756064e15), True),
          ("time-exp", P().replace(b'"time_us": %d' % (T0 + 7), b'"time_us": 1e300'), True),
          ("time-string", with_(("time_us",), str(T0 + 7)), True),
          ("time-null", with_(("time_us",), None), True),
          ("time-missing", with_(("time_us",), KeyError), True),
          ("kind-sync", with_(("kind",), "sync"), False),
          ("kind-number", with_(("kind",), 7), True),
          ("kind-missing", with_(("kind",), KeyError), True),
          ("error-frame", b'{"error":"ConsumerTooSlow","message":"slow"}', False),
          ("did-empty", with_(("did",), ""), False),
          ("did-1mb", with_(("did",), "did:plc:" + "x" * 1_000_000), False),
          ("did-newline-comma", with_(("did",), 'did:plc:evil\n,"x",\r\n'), False),
          ("commit-missing", with_(("commit",), KeyError), True),
          ("operation-unknown", with_(("commit", "operation"), "upsert"), False),
          ("record-missing", with_(("commit", "record"), KeyError), False),
          ("record-string", with_(("commit", "record"), "text"), True),
          ("facet-start-after-end", with_(("commit", "record", "facets"), [{"index": {"byteStart": 9, "byteEnd": 2},
                                                                            "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "mythos"}]}]), False),
          ("facet-end-past-text", with_(("commit", "record", "facets"), [{"index": {"byteStart": 0, "byteEnd": 10**9},
                                                                          "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": "mythos"}]}]), False),
          ("facet-mid-utf8", json.dumps(ev_post(DID0, T0 + 7, "é#mythos ü", facets=[
              {"index": {"byteStart": 1, "byteEnd": 8}, "features": [{"$type": "app.bsky.richtext.facet#link",
                                                                        "uri": "https://x"}]},
              {"index": {"byteStart": 1, "byteEnd": 10}, "features": [{"$type": "app.bsky.richtext.facet#mention",
                                                                         "did": DID1}]}])).encode(), False),
          ("facet-negative", with_(("commit", "record", "facets"), [{"index": {"byteStart": -5, "byteEnd": -1},
                                                                     "features": []}]), False),
          ("facet-u64-overflow", with_(("commit", "record", "facets"), [{"index": {"byteStart": 2**64, "byteEnd": 2**65},
                                                                         "features": []}]), False),
          ("facets-not-list", with_(("commit", "record", "facets"), {"a": 1}), False),
          ("tag-not-string", with_(("commit", "record", "facets"), [{"index": {"byteStart": 0, "byteEnd": 1},
                                                                     "features": [{"$type": "app.bsky.richtext.facet#tag", "tag": 7}]}]), False),
          ("tags-100k", with_(("commit", "record", "tags"), ["mythos"] * 100000), False),
          ("fullwidth-hashtag", json.dumps(ev_post(DID0, T0 + 7, "＃ｍｙｔｈｏｓ")).encode(), False),
          ("reply-uri-empty", json.dumps(ev_post(DID1, T0 + 8, "mythos", reply={"parent": {"uri": "", "cid": "x"},
                                                                                   "root": {"uri": "", "cid": "x"}})).encode(), False),
          ("reply-uri-bare", json.dumps(ev_post(DID1, T0 + 8, "mythos", reply={"parent": {"uri": "at://", "cid": "x"},
                                                                                  "root": {"uri": "at://", "cid": "x"}})).encode(), False),
          ("reply-uri-garbage", json.dumps(ev_post(DID1, T0 + 8, "mythos", reply={"parent": {"uri": "at://did:plc:\u0000/../..", "cid": 1},
                                                                                     "root": None})).encode(), False),
          ("repost-no-subject", b'{"did":"%s","time_us":%d,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.repost","rkey":"k","record":{"$type":"app.bsky.feed.repost"},"cid":"c"}}' % (DID0.encode(), T0 + 9), False),
          ("repost-subject-string", b'{"did":"%s","time_us":%d,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.feed.repost","rkey":"k","record":{"$type":"app.bsky.feed.repost","subject":"at://x"},"cid":"c"}}' % (DID0.encode(), T0 + 9), False),
          ("follow-subject-object", b'{"did":"%s","time_us":%d,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.graph.follow","rkey":"k","record":{"$type":"app.bsky.graph.follow","subject":{"uri":"x"}},"cid":"c"}}' % (DID0.encode(), T0 + 9), False),
          ("follow-self", b'{"did":"%s","time_us":%d,"kind":"commit","commit":{"rev":"r","operation":"create","collection":"app.bsky.graph.follow","rkey":"k","record":{"$type":"app.bsky.graph.follow","subject":"%s"},"cid":"c"}}' % (DID0.encode(), T0 + 9, DID0.encode()), False),
          ("account-active-string", b'{"did":"%s","time_us":%d,"kind":"account","account":{"active":"no","did":"%s","seq":1,"time":"x","status":"deleted"}}' % (DID0.encode(), T0 + 9, DID0.encode()), True),
          ("account-missing", b'{"did":"%s","time_us":%d,"kind":"account"}' % (DID0.encode(), T0 + 9), True),
          ("account-deleted", b'{"did":"%s","time_us":%d,"kind":"account","account":{"active":false,"did":"%s","seq":1,"time":"2026-04-08T00:00:00Z","status":"deleted"}}' % (DID1.encode(), T0 + 9, DID1.encode()), False),
          ("many-keys", json.dumps(dict(good, **{"k%d" % i: i for i in range(20000)})).encode(), False),
          ("dupe-keys", P()[:-1] + b', "time_us": "again"}', True),
          ]
    return L


def ingest_base(extra=()):
    return (["panel", "ingest", "--events", "in/ev/events", "--topics", "in/ev/topics.toml", "--followers",
             "in/ev/followers.csv", "--out", "out/p", "--quiet"] + list(extra))


def post_ingest_count(n_expected: int | None, dupes_ok=False):
    """A successful ingest of N valid events must account for all of them."""
    def post(ctx):
        if ctx.rc != 0:
            return []
        n = n_expected if n_expected is not None else ctx.fx.meta.get("ev_n")
        mp = ctx.p("out/p/manifest.json")
        got = None
        try:
            m = json.load(open(mp))
            ing = m.get("ingest", {})
            got = ing.get("events")
            if got is None:
                got = ing.get("reading", {}).get("lines")
        except Exception:
            pass
        if got is None:
            mm = re.search(r"(\d+) events", ctx.stderr)
            got = int(mm.group(1)) if mm else None
        if got is None:
            return [F("soft-silent", "cannot find an event count to check")]
        if got < n and not REPORT_RE.search(ctx.stderr):
            return [F("silent-loss", "%d valid events in, %d counted, nothing said on stderr" % (n, got))]
        return []
    return post


def post_idmap(ctx):
    """id_map.csv (row,did) must parse back: two fields a row, one row per agent."""
    p = ctx.p("out/p/id_map.csv")
    if ctx.rc != 0 or not os.path.isfile(p):
        return []
    rows = list(csv.reader(open(p, encoding="utf-8", errors="replace", newline="")))
    bad = [i for i, r in enumerate(rows) if len(r) != 2]
    try:
        agents = json.load(open(ctx.p("out/p/manifest.json")))["agents"]
    except Exception:
        agents = None
    if bad:
        return [F("corrupt-output", "out/p/id_map.csv: %d rows without exactly two fields (first: row %d)" % (len(bad), bad[0] + 1))]
    if agents is not None and len(rows) - 1 != agents:
        return [F("corrupt-output", "out/p/id_map.csv: %d rows for %d agents" % (len(rows) - 1, agents))]
    return []


def post_window(ctx):
    """One event with a far-off time_us should not silently stretch the window to centuries."""
    if ctx.rc != 0:
        return []
    try:
        days = json.load(open(ctx.p("out/p/manifest.json")))["days"]
    except Exception:
        return []
    if days > 1000 and not REPORT_RE.search(ctx.stderr):
        return [F("soft-silent", "one stray time_us stretched the window to %d days without a word" % days)]
    return []


def splice(lines_fn, where=10, file_index=0, crlf=False, bom=False, no_final_nl=False):
    """Rewrite one fixture events file, inserting hostile lines after line `where`."""
    def s(ctx):
        files = ctx.fx.meta["ev_files"]
        rel = "in/ev/events/" + files[file_index]
        with open(ctx.p(rel), "rb") as f:
            lines = [l for l in f.read().split(b"\n") if l]
        extra = lines_fn(ctx) if callable(lines_fn) else lines_fn
        lines = lines[:where] + list(extra) + lines[where:]
        nl = b"\r\n" if crlf else b"\n"
        data = nl.join(lines) + (b"" if no_final_nl else nl)
        if bom:
            data = b"\xef\xbb\xbf" + data
        ctx.write(rel, data)
    return s


def zc(data: bytes, level=3, **kw) -> bytes:
    return zstandard.ZstdCompressor(level=level, **kw).compress(data)


def zstd_cases():
    """(name, setup, post, extra args)"""
    if zstandard is None:
        return []
    out = []

    def onefile(fn, keep=False):
        """Events as one .zst file (keep=True: next to the valid plain files, so the run can succeed and must
        then say what it could not read)."""
        def s(ctx):
            if not keep:
                shutil.rmtree(ctx.p("in/ev/events"))
                ctx.mkdir("in/ev/events")
            data = b"\n".join(ctx.fx.meta["ev_lines"]) + b"\n"
            fn(ctx, data)
        return s
    out.append(("zst-valid", cp_evz_events, post_ingest_count(None), []))
    out.append(("zst-one-frame", onefile(lambda ctx, d: ctx.write("in/ev/events/a.jsonl.zst", zc(d))),
                post_ingest_count(None), []))
    out.append(("zst-concat-frames", onefile(lambda ctx, d: ctx.write("in/ev/events/a.jsonl.zst",
                                                                      zc(d[: len(d) // 2]) + zc(d[len(d) // 2:]))),
                post_ingest_count(None), []))
    out.append(("zst-skippable-frame", onefile(lambda ctx, d: ctx.write(
        "in/ev/events/a.jsonl.zst", struct.pack("<II", 0x184D2A50, 8) + b"skipthis" + zc(d))),
        post_ingest_count(None), []))
    out.append(("zst-truncated", onefile(lambda ctx, d: ctx.write("in/ev/events/a.jsonl.zst", zc(d)[:-40]), keep=True),
                post_reports("a truncated zstd file"), []))
    out.append(("zst-broken-middle", onefile(lambda ctx, d: ctx.write(
        "in/ev/events/a.jsonl.zst", zc(d[: len(d) // 3]) + b"\x28\xb5\x2f\xfd" + b"\xee" * 200 + zc(d[len(d) // 3:])),
        keep=True),
        post_reports("a broken zstd frame"), []))
    out.append(("zst-garbage", onefile(lambda ctx, d: ctx.write("in/ev/events/a.jsonl.zst", bytes(range(256)) * 40), keep=True),
                post_reports("an undecodable file"), []))
    out.append(("zst-plain-json", onefile(lambda ctx, d: ctx.write("in/ev/events/a.jsonl.zst", d), keep=True),
                post_reports("a plain file named .zst"), []))
    out.append(("zst-empty", onefile(lambda ctx, d: ctx.write("in/ev/events/a.jsonl.zst", b"")), None, []))
    out.append(("zst-empty-frame", onefile(lambda ctx, d: (ctx.write("in/ev/events/a.jsonl.zst", zc(b"")),
                                                           ctx.write("in/ev/events/b.jsonl", d))),
                post_ingest_count(None), []))
    out.append(("zst-bomb-512mb", onefile(lambda ctx, d: ctx.write("in/ev/events/a.jsonl.zst",
                                                                    zc_stream_zeros(512 << 20))), None, []))
    out.append(("zst-newline-bomb", onefile(lambda ctx, d: (ctx.write("in/ev/events/a.jsonl.zst",
                                                                      zc_stream_zeros(200 << 20, b"\n")),
                                                            ctx.write("in/ev/events/b.jsonl", d))),
                post_ingest_count(None), []))
    out.append(("zst-window-2gb", onefile(lambda ctx, d: ctx.write("in/ev/events/a.jsonl.zst", zc(
        d, compression_params=zstandard.ZstdCompressionParameters(window_log=31, enable_ldm=True)))), None, []))

    def dict_frames(ctx, d):
        dd = zstandard.ZstdCompressionDict(open(JETSTREAM_DICT, "rb").read())
        c = zstandard.ZstdCompressor(dict_data=dd)
        ctx.write("in/ev/events/a.jsonl.zst", b"".join(c.compress(l + b"\n") for l in d.split(b"\n") if l))
    out.append(("zst-dict-frames-no-dict", onefile(dict_frames, keep=True), post_reports("frames it cannot decode"), []))
    out.append(("zst-dict-frames", onefile(dict_frames), post_ingest_count(None),
                ["--zstd-dictionary", JETSTREAM_DICT]))
    out.append(("zst-dict-garbage", onefile(lambda ctx, d: (dict_frames(ctx, d), ctx.write("in/dict", b"\x37\xa4\x30\xec" + b"\x01" * 300))),
                None, ["--zstd-dictionary", "in/dict"]))
    out.append(("zst-dict-fifo", onefile(lambda ctx, d: (dict_frames(ctx, d), ctx.mkfifo("in/dict"))), None,
                ["--zstd-dictionary", "in/dict"]))
    out.append(("zst-dict-wrong-dict", onefile(lambda ctx, d: (ctx.write("in/ev/events/a.jsonl.zst", b"".join(
        zstandard.ZstdCompressor(dict_data=zstandard.train_dictionary(4096, [l for l in d.split(b"\n") if l] * 4))
        .compress(l + b"\n") for l in d.split(b"\n") if l)),)), post_reports("frames it cannot decode"),
        ["--zstd-dictionary", JETSTREAM_DICT]))
    return out


def zc_stream_zeros(n: int, byte=b"\x00") -> bytes:
    c = zstandard.ZstdCompressor(level=3)
    buf = io.BytesIO()
    with c.stream_writer(buf, closefd=False) as w:
        chunk = byte * (1 << 20)
        for _ in range(n >> 20):
            w.write(chunk)
    return buf.getvalue()


def cp_evz_events(ctx):
    shutil.rmtree(ctx.p("in/ev/events"))
    shutil.copytree(os.path.join(ctx.fx.path("evz"), "events"), ctx.p("in/ev/events"))


def gen_events(fx):
    cases = []
    needs = ("ev",)
    for name, line, malformed in hostile_lines():
        post = posts(post_reports("the malformed line") if malformed else None, post_idmap,
                     post_window if name.startswith("time-") else None)
        big = name in ("huge-text-20mb", "did-1mb")
        cases.append(Case("events-line-%s" % name, "events", ingest_base(["--write-id-map"]),
                          setup=S(cp("ev", "in/ev"), splice([line])), needs=needs, post=post,
                          timeout=40 if big else None))
    # whole-file shapes; N valid events must all be counted
    file_cases = [
        ("valid", None, post_ingest_count(None)),
        ("crlf", splice([], crlf=True), post_ingest_count(None)),
        ("bom", splice([], bom=True), post_ingest_count(None)),
        ("no-final-newline", splice([], no_final_nl=True, file_index=-1), post_ingest_count(None)),
        ("blank-lines", splice([b"", b"   ", b"\t"]), post_ingest_count(None)),
        ("dupes-1000", splice(lambda ctx: [ctx.fx.meta["ev_lines"][0]] * 1000), None),
        ("cr-only-lines", lambda ctx: ctx.write("in/ev/events/" + ctx.fx.meta["ev_files"][0], b"\r".join(
            ctx.fx.meta["ev_lines"][:20])), None),
        ("huge-line-no-newline", lambda ctx: ctx.write("in/ev/events/zz.jsonl", b"{" + b"a" * 30_000_000), None),
        ("only-garbage", lambda ctx: [ctx.write("in/ev/events/" + f, b"garbage\n" * 50) for f in ctx.fx.meta["ev_files"]], None),
        ("all-empty-files", lambda ctx: [ctx.write("in/ev/events/" + f, b"") for f in ctx.fx.meta["ev_files"]], None),
        ("all-bad-time", lambda ctx: [ctx.write("in/ev/events/" + f, b"\n".join(
            l.replace(b'"time_us":', b'"time_us":"') .replace(b',"kind"', b'","kind"') for l in ctx.fx.meta["ev_lines"])) for f in ctx.fx.meta["ev_files"][:1]], None),
        ("nul-file", lambda ctx: ctx.write("in/ev/events/zz.jsonl", b"\x00" * 100000), None),
    ]
    for name, setup, post in file_cases:
        cases.append(Case("events-file-%s" % name, "events", ingest_base(), setup=S(cp("ev", "in/ev"), setup),
                          needs=needs, post=post))
    for name, setup, post, extra in zstd_cases():
        cases.append(Case("events-%s" % name, "events", ingest_base(extra), setup=S(cp("ev", "in/ev"), setup),
                          needs=("ev", "evz"), post=post, timeout=20 if "fifo" in name else None))
    # folders
    fold = [
        ("symlink-loop", lambda ctx: ctx.symlink(".", "in/ev/events/loop"), post_ingest_count(None)),
        ("symlink-parent", lambda ctx: ctx.symlink("..", "in/ev/events/up"), None),
        ("symlink-victim", lambda ctx: ctx.symlink("../../../victim/v.jsonl", "in/ev/events/v.jsonl"), None),
        ("symlink-dangling", lambda ctx: ctx.symlink("nowhere.jsonl", "in/ev/events/gone.jsonl"), None),
        ("fifo-in-folder", lambda ctx: ctx.mkfifo("in/ev/events/fifo.jsonl"), None),
        ("dir-named-jsonl", lambda ctx: ctx.mkdir("in/ev/events/d.jsonl"), post_ingest_count(None)),
        ("hidden-file", lambda ctx: ctx.write("in/ev/events/.hidden.jsonl", b"{bad\n"), None),
        ("nested-100", nested_events, post_ingest_count(None)),
        ("split-2000-files", split_events, post_ingest_count(None)),
        ("empty-folder", lambda ctx: (shutil.rmtree(ctx.p("in/ev/events")), ctx.mkdir("in/ev/events")), None),
        ("unreadable-file", lambda ctx: os.chmod(ctx.p("in/ev/events/" + ctx.fx.meta["ev_files"][0]), 0), None),
        ("newline-in-filename", lambda ctx: os.rename(ctx.p("in/ev/events/" + ctx.fx.meta["ev_files"][0]),
                                                      ctx.p("in/ev/events/a\nb.jsonl")), post_ingest_count(None)),
        ("nonutf8-filename", lambda ctx: os.rename(ctx.p("in/ev/events/" + ctx.fx.meta["ev_files"][0]),
                                                   os.path.join(ctx.p("in/ev/events").encode(), b"\xff\xfe.jsonl")),
         post_ingest_count(None)),
    ]
    for name, setup, post in fold:
        cases.append(Case("events-folder-%s" % name, "events", ingest_base(), setup=S(cp("ev", "in/ev"), setup),
                          needs=needs, post=post, timeout=15 if "fifo" in name else None,
                          skip="running as root" if name == "unreadable-file" and IS_ROOT else None))
    # the --events arguments themselves
    argsets = [
        ("path-missing", ["--events", "in/nope"]),
        ("path-empty", ["--events", ""]),
        ("path-fifo", ["--events", "in/fifo.jsonl"]),
        ("path-victim-dir", ["--events", "victim"]),
        ("path-twice", ["--events", "in/ev/events", "in/ev/events"]),
        ("path-file-and-dir", ["--events", "in/ev/events", "in/ev/events/" + "{F0}"]),
        ("path-dev-fifo-topics", ["--topics", "in/fifo.jsonl"]),
        ("followers-fifo", ["--followers", "in/fifo.jsonl"]),
        ("from-before", ["--from", "2020-01-01", "--days", "3"]),
        ("from-after", ["--from", "2030-01-01", "--days", "3"]),
        ("window-10y", ["--from", "2020-01-01", "--days", "3650"]),
    ]
    for name, extra in argsets:
        def s(ctx, extra=extra):
            ctx.mkfifo("in/fifo.jsonl")
            ctx.write("in/ev.json", b"\n".join(ctx.fx.meta["ev_lines"]))
        base = ingest_base()
        args = list(base)
        # replace flags present in the base, append the others
        j = 0
        while j < len(extra):
            flag = extra[j]
            vals = []
            j += 1
            while j < len(extra) and not extra[j].startswith("--"):
                vals.append(extra[j])
                j += 1
            if flag in args:
                k = args.index(flag)
                args[k + 1:k + 2] = vals
            else:
                args += [flag] + vals
        F0 = fx.meta.get("ev_files", ["x"])[0]
        args = [a.replace("{F0}", F0) for a in args]
        cases.append(Case("events-args-%s" % name, "events", args, setup=S(cp("ev", "in/ev"), s), needs=needs,
                          timeout=15 if "fifo" in name else None))
    return cases


def nested_events(ctx):
    files = ctx.fx.meta["ev_files"]
    deep = "in/ev/events/" + "/".join("d%d" % i for i in range(100))
    ctx.mkdir(deep)
    for f in files:
        os.rename(ctx.p("in/ev/events/" + f), os.path.join(ctx.p(deep), f))


def split_events(ctx):
    shutil.rmtree(ctx.p("in/ev/events"))
    ctx.mkdir("in/ev/events")
    lines = ctx.fx.meta["ev_lines"]
    per = max(1, len(lines) // 2000 + 1)
    for i in range(0, len(lines), per):
        ctx.write("in/ev/events/f%05d.jsonl" % (i // per), b"\n".join(lines[i:i + per]) + b"\n")


# --------------------------------------------------------------------------- category: topics

def toml_str(s: str) -> str:
    out = []
    for ch in s:
        o = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif o < 0x20 or o == 0x7F:
            out.append("\\u%04X" % o)
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def topics_toml(topics) -> str:
    parts = []
    for t in topics:
        lines = ["[[topic]]"]
        for k, v in t.items():
            if isinstance(v, list):
                lines.append("%s = [%s]" % (k, ", ".join(toml_str(x) if isinstance(x, str) else str(x) for x in v)))
            elif isinstance(v, str):
                lines.append("%s = %s" % (k, toml_str(v)))
            else:
                lines.append("%s = %s" % (k, v))
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def post_topics(expected_names):
    """Two topics that share an output file, or a topic lost without a word, is silent loss."""
    def post(ctx):
        if ctx.rc != 0:
            return []
        try:
            m = json.load(open(ctx.p("out/p/manifest.json")))
        except Exception:
            return []
        got = m.get("topics", [])
        fs = []
        if len(set(got)) != len(got):
            fs.append(F("silent-loss", "manifest lists a topic twice: %s" % got))
        tdir = ctx.p("out/p/topics")
        if os.path.isdir(tdir):
            files = [f for f in os.listdir(tdir) if f.endswith(".npy")]
            if len(files) < len(set(got)):
                fs.append(F("silent-loss", "%d topics in the manifest, %d topic files" % (len(set(got)), len(files))))
        if expected_names is not None and len(got) < len(expected_names) and not REPORT_RE.search(ctx.stderr):
            fs.append(F("silent-loss", "%d topics asked, %d written, nothing said" % (len(expected_names), len(got))))
        return fs
    return post


def gen_topics(fx):
    cases = []
    good = [{"name": n, "keywords": [n], "hashtags": [n]} for n in ("mythos", "tariffs", "masters")]

    def named(n):
        return [{"name": n, "keywords": ["mythos"], "hashtags": ["mythos"]}] + good[1:]
    names = [
        ("escape", "../../../victim/v"), ("escape-parent", "../../../../escaped"),
        ("absolute", "{C}/victim/abs"), ("slash", "a/b"), ("dot", "."), ("dotdot", ".."), ("empty", ""),
        ("long-300", "t" * 300), ("long-5000", "t" * 5000), ("nul", "my\x00thos"), ("newline", "my\nthos"),
        ("unicode", "神話🐉"), ("rtl", "\u202emythos"), ("backslash", "..\\..\\victim\\v"), ("nan", "nan"),
        ("inf", "inf"), ("csv-chars", 'a,"b"\r\nc'), ("spaces", "  "), ("dash", "-rf"), ("tilde", "~"),
        ("case-dupe", "MYTHOS"),
    ]
    for name, n in names:
        topics = named(n)

        def s(ctx, topics=topics):
            t = json.loads(json.dumps(topics))
            t[0]["name"] = t[0]["name"].replace("{C}", ctx.c)
            ctx.write("in/topics.toml", topics_toml(t))
        cases.append(Case("topics-name-%s" % name, "topics", ingest_base()[:5] + ["in/topics.toml"] + ingest_base()[6:],
                          setup=S(cp("ev", "in/ev"), s), needs=("ev",), nan_ok={"nan", "inf"},
                          post=post_topics(topics)))
    other = [
        ("dupe-names", topics_toml(good + [good[0]])),
        ("dupe-names-diff-keywords", topics_toml(good + [{"name": "mythos", "keywords": ["tariffs"], "hashtags": []}])),
        ("huge-keywords", topics_toml([{"name": "big", "keywords": ["k%d" % i for i in range(200000)],
                                        "hashtags": ["h%d" % i for i in range(50000)]}] + good)),
        ("keyword-empty-string", topics_toml([{"name": "all", "keywords": [""], "hashtags": [""]}] + good)),
        ("keyword-regex", topics_toml([{"name": "re", "keywords": [".*", "[", "(?", "\\"], "hashtags": ["#", "*"]}] + good)),
        ("keyword-long", topics_toml([{"name": "long", "keywords": ["x" * 1_000_000], "hashtags": []}] + good)),
        ("no-keywords", topics_toml([{"name": "bare"}] + good)),
        ("keywords-not-list", '[[topic]]\nname = "a"\nkeywords = "mythos"\nhashtags = 3\n'),
        ("name-int", '[[topic]]\nname = 5\nkeywords = ["mythos"]\nhashtags = []\n'),
        ("name-missing", '[[topic]]\nkeywords = ["mythos"]\nhashtags = []\n'),
        ("no-topics", "# nothing\n"),
        ("empty-file", ""),
        ("bad-syntax", "[[topic]\nname = \n"),
        ("topic-not-array", 'topic = "mythos"\n'),
        ("thousand-topics", topics_toml([{"name": "t%04d" % i, "keywords": ["mythos"], "hashtags": []} for i in range(1000)])),
        ("binary", "\x00\xff\xfe garbage"),
        ("bom", "\ufeff" + topics_toml(good)),
        ("deep-inline", "x = " + "[" * 10000 + "]" * 10000 + "\n" + topics_toml(good)),
        ("unknown-fields", topics_toml([dict(good[0], weight=3, extra=["a"])] + good[1:])),
    ]
    for name, text in other:
        cases.append(Case("topics-%s" % name, "topics", ingest_base()[:5] + ["in/topics.toml"] + ingest_base()[6:],
                          setup=S(cp("ev", "in/ev"), put("in/topics.toml", text.encode("utf-8", "surrogatepass")
                                                         if isinstance(text, str) else text)),
                          needs=("ev",), post=post_topics(None), timeout=40 if "huge" in name or "long" in name else None))
    return cases


# --------------------------------------------------------------------------- category: csv (import, followers)

def gen_csv(fx):
    cases = []
    imp = ["import", "--csv", "in/t.csv", "--step", "step", "--agent", "agent", "--features", "a,b", "--out", "out/x.npy"]
    H = "step,agent,a,b\n"
    good_rows = "0,1,1.0,2.0\n0,2,3,4\n1,1,5,6\n1,2,7,8\n"
    tables = [
        # name, text, bad-records?, expected shape on success
        ("valid", H + good_rows, False, (2, 2, 2)),
        ("header-only", H, False, None),
        ("empty-file", "", False, None),
        ("no-header", good_rows, False, None),
        ("ragged-short", H + good_rows + "2,1,9\n", True, None),
        ("ragged-long", H + good_rows + "2,1,9,9,9\n", True, None),
        ("quoted-fields", H + '"0","1","1.0","2.0"\n0,2,3,4\n', True, None),
        ("quoted-comma", H + '0,1,"1,5",2\n0,2,3,4\n', True, None),
        ("bom", "\ufeff" + H + good_rows, False, (2, 2, 2)),
        ("crlf", (H + good_rows).replace("\n", "\r\n"), False, (2, 2, 2)),
        ("cr-only", (H + good_rows).replace("\n", "\r"), False, None),
        ("f32-overflow", H + "0,1,1e39,2\n0,2,3,4\n", True, None),
        ("f64-overflow", H + "0,1,1e400,2\n0,2,3,4\n", True, None),
        ("nan-value", H + "0,1,nan,2\n0,2,3,4\n", True, None),
        ("inf-value", H + "0,1,inf,2\n0,2,-infinity,4\n", True, None),
        ("negative", H + "0,1,-1,-2\n0,2,-3,-4\n", False, (1, 2, 2)),
        ("subnormal", H + "0,1,1e-50,2\n0,2,3,4\n", False, (1, 2, 2)),
        ("empty-cell", H + "0,1,,2\n0,2,3,4\n", True, None),
        ("space-padded", H + "0, 1, 1.0 ,2\n0,2,3,4\n", False, None),
        ("thousands-sep", H + '0,1,"1,000",2\n0,2,3,4\n', True, None),
        ("non-numeric-value", H + "0,1,abc,2\n0,2,3,4\n", True, None),
        ("duplicate-rows", H + good_rows + "1,2,7,8\n", True, None),
        ("non-numeric-step", H + "zero,1,1,2\nzero,2,3,4\none,1,5,6\none,2,7,8\n", False, None),
        ("negative-step", H + "-5,1,1,2\n-5,2,3,4\n", False, None),
        ("step-gap-1e9", H + "0,1,1,2\n0,2,3,4\n1000000000,1,5,6\n1000000000,2,7,8\n", False, None),
        ("step-i64-max", H + "9223372036854775807,1,1,2\n-9223372036854775808,1,3,4\n", False, None),
        ("step-float", H + "0.5,1,1,2\n1.5,1,3,4\n", False, None),
        ("agent-huge-ids", H + "0,0,1,2\n0,99999999999,3,4\n0,18446744073709551615,5,6\n", False, None),
        ("agent-strings", H + "0,alice,1,2\n0,bob,3,4\n", False, None),
        ("agent-empty", H + "0,,1,2\n0,,3,4\n", True, None),
        ("invalid-utf8", (H + "0,1,1,2\n").encode() + b"0,\xff\xfe,3,4\n", False, None),
        ("nul-bytes", H + "0,1,1\x00,2\n0,2,3,4\n", True, None),
        ("header-dupe-col", "step,agent,a,a\n0,1,1,2\n", False, None),
        ("header-missing-col", "step,agent,a\n0,1,1\n", False, None),
        ("header-spaces", "step , agent , a , b\n0,1,1,2\n", False, None),
        ("blank-lines", H + "0,1,1,2\n\n\n0,2,3,4\n", False, (1, 2, 2)),
        ("long-line", H + "0,1," + "9" * 10_000_000 + ",2\n", True, None),
        ("sparse-agents-100k", H + "".join("%d,%d,1,2\n" % (s, a) for s, a in ((0, 0), (1, 99_999))) +
         "".join("1,%d,1,1\n" % a for a in range(1, 100)), False, None),
        ("dense-blowup", H + "".join("%d,%d,1,1\n" % (i, i) for i in range(3000)), False, None),
    ]
    for name, text, bad, shape in tables:
        data = text.encode("utf-8") if isinstance(text, str) else text
        post = posts(post_reports("bad rows") if bad else None, post_shape("out/x.npy", shape) if shape else None)
        cases.append(Case("csv-import-%s" % name, "csv", imp, setup=put("in/t.csv", data), post=post))
        if name in ("ragged-short", "nan-value", "dense-blowup"):
            cases.append(Case("csv-import-%s-fill-raise" % name, "csv", imp + ["--fill", "raise"],
                              setup=put("in/t.csv", data), post=post))
    # steps and agents that sort differently as text and as numbers: a value must stay with its row
    def post_order(ctx):
        if ctx.rc != 0 or not os.path.isfile(ctx.p("out/x.npy")):
            return []
        a = ctx.load("out/x.npy")
        if a.shape != (2, 2, 2):
            return [F("silent-loss", "out/x.npy has shape %s, expected (2, 2, 2)" % (a.shape,))]
        # rows: (step, agent) -> a = 100*step + agent; sorted numerically: steps 9, 10; agents 2, 10
        want = np.array([[[902, 0], [910, 0]], [[1002, 0], [1010, 0]]], "f4")[..., 0]
        got = a[..., 0]
        if not np.array_equal(got, want) and not np.array_equal(np.sort(got.ravel()), np.sort(want.ravel())):
            return [F("silent-loss", "values moved to other steps/agents: %s" % got.tolist())]
        return []
    cases.append(Case("csv-import-text-vs-numeric-order", "csv", imp,
                      setup=put("in/t.csv", H + "10,10,1010,0\n9,2,902,0\n10,2,1002,0\n9,10,910,0\n"), post=post_order))
    # column choices
    colsets = [
        ("step-eq-agent", ["--step", "step", "--agent", "step"]),
        ("feature-is-step", ["--features", "step,a"]),
        ("feature-missing", ["--features", "a,zz"]),
        ("feature-twice", ["--features", "a,a"]),
        ("features-empty", ["--features", ""]),
        ("step-col-missing", ["--step", "time"]),
        ("csv-fifo", ["--csv", "in/fifo"]),
        ("csv-dir", ["--csv", "in"]),
        ("csv-missing", ["--csv", "in/nope.csv"]),
    ]
    for name, extra in colsets:
        a = list(imp)
        for i in range(0, len(extra), 2):
            if extra[i] in a:
                a[a.index(extra[i]) + 1] = extra[i + 1]
            else:
                a += [extra[i], extra[i + 1]]
        sparse = H + "0,1,1,2\n1,2,3,4\n"
        cases.append(Case("csv-import-cols-%s" % name, "csv", a,
                          setup=S(put("in/t.csv", sparse), lambda ctx: ctx.mkfifo("in/fifo")),
                          timeout=15 if "fifo" in name else None))
    # followers snapshot for panel ingest
    fol = [
        ("valid", None, False),
        ("header-only", "did,followers\n", False),
        ("no-header", "{rows}", False),
        ("empty-file", "", False),
        ("ragged", "did,followers\n{rows}did:plc:x\ndid:plc:y,1,2\n", True),
        ("quoted", 'did,followers\n"{d0}","5"\n', True),
        ("bom", "\ufeffdid,followers\n{rows}", False),
        ("crlf", "did,followers\r\n{rows_crlf}", False),
        ("f32-overflow", "did,followers\n{rows}{d0},1e39\n", True),
        ("negative", "did,followers\n{rows}{d0},-5\n", True),
        ("nan", "did,followers\n{rows}{d0},nan\n", True),
        ("u64-overflow", "did,followers\n{rows}{d0},18446744073709551616\n", True),
        ("i64-max", "did,followers\n{d0},9223372036854775807\n{rows}", False),
        ("non-numeric", "did,followers\n{rows}{d0},many\n", True),
        ("dupe-did-conflict", "did,followers\n{rows}{d0},7\n{d0},70000\n", True),
        ("did-unknown", "did,followers\n{rows}did:plc:nobody,5\n", False),
        ("swapped-columns", "followers,did\n5,{d0}\n", False),
        ("binary", b"\x00\xff\xfe\x01" * 100, True),
    ]
    for name, tmpl, bad in fol:
        def s(ctx, tmpl=tmpl):
            if tmpl is None:
                return
            if isinstance(tmpl, bytes):
                ctx.write("in/ev/followers.csv", tmpl)
                return
            rows = open(ctx.p("in/ev/followers.csv")).read().split("\n", 1)[1]
            txt = tmpl.replace("{rows}", rows).replace("{rows_crlf}", rows.replace("\n", "\r\n"))
            txt = txt.replace("{rows3}", "".join(r + ",x\n" for r in rows.splitlines() if r))
            txt = txt.replace("{d0}", DID0)
            ctx.write("in/ev/followers.csv", txt)
        cases.append(Case("csv-followers-%s" % name, "csv", ingest_base(), setup=S(cp("ev", "in/ev"), s),
                          needs=("ev",), post=posts(post_reports("bad follower rows") if bad else None,
                                                     post_snapshot_rows)))
    return cases


def post_snapshot_rows(ctx):
    """Agents missing from the followers snapshot get no reach: the run should say how many."""
    if ctx.rc != 0:
        return []
    try:
        ing = json.load(open(ctx.p("out/p/manifest.json"))).get("ingest", {})
    except Exception:
        return []
    k = ing.get("agents_without_snapshot_row") or 0
    try:
        n = json.load(open(ctx.p("out/p/manifest.json")))["agents"]
    except Exception:
        n = None
    if k and not re.search(r"without (a )?(snapshot )?rows?|no (snapshot )?row|missing|not in the (followers )?snapshot|"
                           r"warning", ctx.stderr, re.I):
        return [F("silent-loss" if k == n else "soft-silent",
                  "%d of %s agents have no row in the followers snapshot (reach 0); stderr says nothing" % (k, n))]
    return []


# --------------------------------------------------------------------------- category: capture

def post_capture(n_valid: int | None = None, cursor_max: int | None = None, cursor_field=True):
    """Check the events written and the resume cursor the server was asked for."""
    def post(ctx):
        fs = []
        reqs = ctx.server.requests if ctx.server else []
        for r in reqs:
            m = re.search(r"[?&]cursor=([^& ]*)", r)
            if m:
                v = m.group(1)
                if not re.fullmatch(r"\d+", v):
                    fs.append(F("silent-loss", "asked the server for cursor=%s" % v[:40]))
                elif cursor_max is not None and int(v) > cursor_max:
                    fs.append(F("silent-loss", "asked for cursor %s, past the stored cursor %d" % (v, cursor_max)))
        if n_valid is not None and ctx.rc == 0:
            n = 0
            outd = ctx.p("out/cap")
            for root, _, files in os.walk(outd):
                for fn in files:
                    full = os.path.join(root, fn)
                    if not (fn.endswith(".jsonl") or fn.endswith(".jsonl.zst")):
                        continue
                    raw = open(full, "rb").read()
                    if fn.endswith(".zst") and zstandard is not None:
                        try:
                            raw = zstd_decompress_all(raw)
                        except Exception:
                            continue
                    for line in raw.split(b"\n"):
                        try:
                            json.loads(line)
                            n += 1
                        except Exception:
                            pass
            if n < n_valid and not re.search(r"[1-9]\d* messages? skipped|warning|skip", ctx.stderr):
                fs.append(F("silent-loss", "%d valid events sent, %d written, nothing said" % (n_valid, n)))
        return fs
    return post


def gen_capture(fx):
    cases = []
    golden = open(GOLDEN_EVENTS, "rb").read().split(b"\n") if os.path.exists(GOLDEN_EVENTS) else []
    golden = [l for l in golden if l.strip()]
    last_t = max(json.loads(l)["time_us"] for l in golden) if golden else T0
    cap = ["capture", "--endpoint", "ws://127.0.0.1:{PORT}/subscribe", "--out", "out/cap"]
    txt = lambda b: ws_frame(b, 1)

    def case(name, args=cap, setup=None, server=None, post=None, allowed=(), wait_s=1.5):
        cases.append(Case("capture-%s" % name, "capture", args, setup=setup, kind="capture",
                          server=server if server is not None else {"mode": "ws", "frames": []}, post=post,
                          allowed=allowed, wait_s=wait_s, symlink_dir=name == "out-symlink-victim"))
    # endpoints
    for name, ep in (("endpoint-not-url", "notaurl"), ("endpoint-http", "http://127.0.0.1:{PORT}/"),
                     ("endpoint-empty", ""), ("endpoint-no-host", "ws://"), ("endpoint-port-huge", "ws://127.0.0.1:99999/"),
                     ("endpoint-unicode-host", "ws://ẞ.invalid/"),
                     ("endpoint-query", "ws://127.0.0.1:{PORT}/subscribe?cursor=-5&wantedCollections="),
                     ("endpoint-refused", "ws://127.0.0.1:1/subscribe"),
                     ("endpoint-wss-plain", "wss://127.0.0.1:{PORT}/subscribe"),
                     ("endpoint-file", "file:///etc/passwd")):
        case(name, ["capture", "--endpoint", ep, "--out", "out/cap"])
    case("server-closes", server={"mode": "close"})
    case("server-404", server={"mode": "http404"})
    case("server-garbage", server={"mode": "garbage"})
    case("valid-golden", server={"mode": "ws", "frames": [txt(l) for l in golden]}, post=post_capture(len(golden)))
    case("valid-golden-compress", cap + ["--compress"], server={"mode": "ws", "frames": [txt(l) for l in golden]},
         post=post_capture(len(golden)))
    case("valid-golden-per-day", cap + ["--per", "day"], server={"mode": "ws", "frames": [txt(l) for l in golden]},
         post=post_capture(len(golden)))
    bad = [b"{bad", b"", b"null", b"[]", b'"str"', b'{"kind":"commit"}', b"\xff\xfe", b'{"did":"x","time_us":"1"}']
    case("malformed-mixed", server={"mode": "ws", "frames": [txt(l) for l in golden[:5]] + [txt(b) for b in bad] +
                                    [ws_frame(b"\x00\x01binary", 2)] + [txt(l) for l in golden[5:]]},
         post=post_capture(len(golden)))
    case("multiline-json", server={"mode": "ws", "frames": [txt(json.dumps(json.loads(l), indent=2).encode())
                                                            for l in golden]}, post=post_capture(len(golden)))
    times = [I64_MAX, I64_MIN, -1, 0, 253402300800000000, 10**30, 1.5e15, "1779719009132431"]
    frames = []
    for t in times:
        e = json.loads(golden[0]) if golden else {"did": DID0, "kind": "commit"}
        e["time_us"] = t
        frames.append(txt(json.dumps(e).encode()))
    case("time-extremes", server={"mode": "ws", "frames": frames})
    for t in (I64_MIN, 10**30):
        e = json.loads(golden[0]) if golden else {"did": DID0, "kind": "commit"}
        e["time_us"] = t
        case("time-only-%s" % slug(str(t)), server={"mode": "ws", "frames": [txt(json.dumps(e).encode())]})
    case("huge-message-20mb", server={"mode": "ws", "frames": [txt(b'{"did":"x","time_us":1779719009132431,"kind":"commit","pad":"' + b"a" * 20_000_000 + b'"}')]},
         wait_s=3)
    case("length-bomb", server={"mode": "ws", "frames": [ws_frame(b"", 1, length=2**62)]})
    case("fragmented", server={"mode": "ws", "frames": [ws_frame(golden[0][:50], 1, fin=False),
                                                        ws_frame(golden[0][50:], 0, fin=True)] if golden else []},
         post=post_capture(1 if golden else None))
    case("ping-and-close", server={"mode": "ws", "frames": [ws_frame(b"hi", 9), txt(golden[0]) if golden else b"",
                                                            ws_frame(b"\x03\xe8bye", 8)]})
    case("invalid-utf8-text", server={"mode": "ws", "frames": [txt(b'{"did":"\xff","time_us":1779719009132431,"kind":"commit"}')]})
    if zstandard is not None and golden:
        dd = zstandard.ZstdCompressionDict(open(JETSTREAM_DICT, "rb").read())
        zc_ = zstandard.ZstdCompressor(dict_data=dd)
        case("zstd-binary-frames", server={"mode": "ws", "frames": [ws_frame(zc_.compress(l), 2) for l in golden]})
    # the cursor file and resuming
    cur_vals = [("garbage", b"hello\n"), ("empty", b""), ("i64-min", b"%d\n" % I64_MIN), ("i64-max", b"%d\n" % I64_MAX),
                ("negative", b"-1\n"), ("zero", b"0\n"), ("u64-overflow", b"18446744073709551616\n"),
                ("nul", b"17797\x00190\n")]
    for name, content in cur_vals:
        try:
            stored = int(content.strip())
        except ValueError:
            stored = None
        def silent(ctx, unreadable=stored is None):
            if unreadable and ctx.rc == 0 and not re.search(
                    r"warning|cursor[^\n]*(invalid|unread|ignor|cannot|not a|bad|pars|garbage)", ctx.stderr, re.I):
                return [F("soft-silent", "a cursor file it cannot read was passed over without a word")]
            return []
        case("cursor-%s" % name, setup=put("out/cap/cursor", content),
             server={"mode": "ws", "frames": [txt(l) for l in golden[:2]]},
             post=posts(post_capture(None, cursor_max=max(stored, 0) if stored is not None else None), silent))
    case("cursor-is-dir", setup=lambda ctx: ctx.mkdir("out/cap/cursor"))
    case("cursor-fifo", setup=lambda ctx: ctx.mkfifo("out/cap/cursor"))
    case("cursor-symlink-victim", setup=lambda ctx: ctx.symlink("../../victim/v.txt", "out/cap/cursor"),
         server={"mode": "ws", "frames": [txt(l) for l in golden]})
    for name, rw in (("rewind-i64-max", "9223372036854775807"), ("rewind-1e18", "1000000000000000000"),
                     ("rewind-neg", "-1"), ("rewind-nan", "nan"), ("rewind-empty", ""),
                     ("rewind-u64-max", "18446744073709551615")):
        case(name, cap + ["--rewind", rw], setup=put("out/cap/cursor", b"%d\n" % last_t),
             server={"mode": "ws", "frames": [txt(l) for l in golden[:2]]}, post=post_capture(None, cursor_max=last_t))
    # resume into an existing folder: what was there must stay
    def resume_setup(ctx, trunc=False):
        day = "2026-05-25T14.jsonl"
        body = b"\n".join(golden[:3]) + b"\n"
        if trunc:
            body += golden[3][:40]
        ctx.write("out/cap/" + day, body)
        ctx.write("out/cap/cursor", b"%d\n" % max(json.loads(l)["time_us"] for l in golden[:3]))

    def post_kept(ctx):
        p = ctx.p("out/cap/2026-05-25T14.jsonl")
        if not os.path.exists(p):
            return [F("silent-loss", "the earlier hour file is gone")]
        lines = [l for l in open(p, "rb").read().split(b"\n") if l.strip()]
        kept = sum(1 for l in golden[:3] if l in lines)
        if kept < 3:
            return [F("silent-loss", "%d of the 3 earlier events are still in the hour file" % kept)]
        return []
    if golden:
        case("resume-keeps-old", setup=resume_setup, server={"mode": "ws", "frames": [txt(l) for l in golden[3:]]},
             post=post_kept)
        case("resume-truncated-tail", setup=lambda ctx: resume_setup(ctx, True),
             server={"mode": "ws", "frames": [txt(l) for l in golden[3:]]}, post=post_kept)
        case("resume-compress-into-plain", cap + ["--compress"], setup=resume_setup,
             server={"mode": "ws", "frames": [txt(l) for l in golden[3:]]}, post=post_kept)
    # where the output goes
    case("out-is-file", ["capture", "--endpoint", "ws://127.0.0.1:{PORT}/", "--out", "in/file"],
         setup=put("in/file", b"x"))
    case("out-is-fifo", ["capture", "--endpoint", "ws://127.0.0.1:{PORT}/", "--out", "in/fifo"],
         setup=lambda ctx: ctx.mkfifo("in/fifo"))
    case("out-symlink-victim", ["capture", "--endpoint", "ws://127.0.0.1:{PORT}/", "--out", "out/link"],
         setup=lambda ctx: ctx.symlink("../victim", "out/link"),
         server={"mode": "ws", "frames": [txt(l) for l in golden[:2]]})
    for name, col in (("collections-commas", ",,,"),
                      ("collections-inject", "app.bsky.feed.post&cursor=1 HTTP/1.1\r\nX: y"),
                      ("collections-unicode", "app.bsky.ẞ")):
        def post_inj(ctx):
            for r in (ctx.server.requests if ctx.server else []):
                if " HTTP/1.1" in r.split(" HTTP/1.1")[0] or "\r" in r or "&cursor=1" in r:
                    return [F("silent-loss", "the collections went into the request unescaped: %s" % r[:120])]
            return []
        case(name, cap + ["--collections", col], post=post_inj)
    return cases


# --------------------------------------------------------------------------- category: signals

def gen_signals(fx):
    cases = []
    att = ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--steps", "32", "--out", "out/phi.npy",
           "--summary", "out/s.json", "--quiet", "--threads", "1"]
    st = ["study", "--out", "out/st", "--agents", "100000", "--days", "7", "--quiet", "--threads", "1"]
    ing = ["panel", "ingest", "--events", "{FX}/bigev/events", "--topics", "{FX}/bigev/topics.toml", "--followers",
           "{FX}/bigev/followers.csv", "--out", "out/p", "--quiet"]
    syn = ["synth", "--agents", "3000000", "--time-steps", "4", "--out", "out/x.npy"]
    trn = ["train", "--features", "in/train.npy", "--target-indicator", "gini", "--out", "out/model", "--epochs",
           "100000", "--patience", "100000", "--hidden", "16", "--quiet", "--threads", "1"]
    sim = ["simulate", "cascade", "--agents", "3000", "--steps", "50", "--runs", "3", "--out", "out/sc", "--quiet",
           "--threads", "1"]
    fth = ["faithfulness", "--scenario", "in/scen", "--out", "out/f", "--samples", "2000", "--seeds", "3",
           "--quiet", "--threads", "1"]
    plans = [
        ("attribute", att, "out/phi.npy", (), ("big",), cp("big", "in/x.npy"),
         [(0.05, signal.SIGINT), (0.5, signal.SIGINT), ("poll", signal.SIGINT), (0.5, signal.SIGTERM),
          ("poll", signal.SIGTERM)]),
        ("study", st, "out/st", ("run.json", "report.md"), (), None,
         [(0.3, signal.SIGINT), (2.0, signal.SIGTERM), ("poll", signal.SIGINT), ("poll", signal.SIGTERM)]),
        ("ingest", ing, "out/p", ("manifest.json",), ("bigev",), None,
         [(0.2, signal.SIGINT), ("poll", signal.SIGINT), ("poll", signal.SIGTERM)]),
        ("synth", syn, "out/x.npy", (), (), None, [("poll", signal.SIGINT), ("poll", signal.SIGTERM)]),
        ("train", trn, "out/model", ("config.json", "model.bpk"), ("train",), cp("train", "in/train.npy"),
         [(1.0, signal.SIGINT), (1.0, signal.SIGTERM)]),
        ("simulate", sim, "out/sc", ("scenario.json", "features.npy"), (), None,
         [(0.3, signal.SIGINT), ("poll", signal.SIGTERM)]),
        ("faithfulness", fth, "out/f", ("report.md",), ("scen_social",), cp("scen_social", "in/scen"),
         [(0.5, signal.SIGINT), ("poll", signal.SIGINT)]),
    ]
    for name, args, target, complete, needs, setup, pl in plans:
        for when, sig in pl:
            w = "late" if when == "poll" else ("%gs" % when).replace(".", "p")
            a = [x.replace("{FX}", fx.root) for x in args]
            cases.append(Case("signals-%s-%s-%s" % (name, signal.Signals(sig).name.lower(), w), "signals", a,
                              kind="signal", plan=(when, sig), main_out=target, complete=complete, needs=needs,
                              setup=setup, timeout=60))
    return cases


# --------------------------------------------------------------------------- category: paths (where outputs go)

def gen_paths(fx):
    cases = []
    A = lambda out, extra=(): (["attribute", "--features", "in/x.npy", "--indicator", "linear", "--steps", "4",
                                "--out", out, "--quiet", "--threads", "1"] + list(extra))
    x3 = cp("x3", "in/x.npy")
    fifo = lambda rel: (lambda ctx: ctx.mkfifo(rel))
    link = lambda target, rel: (lambda ctx: ctx.symlink(target, rel))
    file_out = [
        # name, args, setup, allowed, post
        ("attr-out-is-input", A("in/x.npy"), x3, ["in/x.npy"], None),
        ("attr-out-fifo", A("out/fifo.npy"), fifo("out/fifo.npy"), [], None),
        ("attr-out-fifo-outside", A("in/fifo.npy"), fifo("in/fifo.npy"), ["in/fifo.npy"], None),
        ("attr-out-symlink-victim", A("out/link.npy"), link("../victim/v.npy", "out/link.npy"), [], None),
        ("attr-out-symlink-dangling", A("out/link.npy"), link("../victim/new.npy", "out/link.npy"), [], None),
        ("attr-out-dir-symlink", A("out/ldir/phi.npy"), link("../victim", "out/ldir"), [], None),
        ("attr-out-is-dir", A("out/d"), lambda ctx: ctx.mkdir("out/d/keep"), [], None),
        ("attr-out-is-victim-dir", A("victim"), None, [], None),
        ("attr-out-empty", A(""), None, [], None),
        ("attr-out-trailing-slash", A("out/phi.npy/"), None, [], None),
        ("attr-out-missing-parent", A("out/no/such/dir/phi.npy"), None, [], None),
        ("attr-out-parent-is-file", A("in/x.npy/phi.npy"), None, [], None),
        ("attr-out-dash", A("-"), None, ["-"], None),
        ("attr-out-long-name", A("out/" + "p" * 300 + ".npy"), None, [], None),
        ("attr-out-newline-name", A("out/a\nb.npy"), None, [], None),
        ("attr-out-summary-same", A("out/x.npy", ["--summary", "out/x.npy"]), None, [],
         lambda ctx: [F("silent-loss", "--out and --summary name one file, exit 0: one output clobbered the other")]
         if ctx.rc == 0 else []),
        ("attr-summary-is-input", A("out/phi.npy", ["--summary", "in/x.npy"]), None, ["in/x.npy"], None),
        ("attr-summary-fifo", A("out/phi.npy", ["--summary", "out/s.fifo"]), fifo("out/s.fifo"), [], None),
        ("attr-summary-victim-link", A("out/phi.npy", ["--summary", "out/s.json"]),
         link("../victim/v.json", "out/s.json"), [], None),
        ("attr-out-abs-victim", A("{C}/victim/v.npy"), None, ["victim/v.npy"], None),
        ("attr-out-existing-readonly", A("out/ro.npy"), lambda ctx: (ctx.write("out/ro.npy", b"x"),
                                                                      os.chmod(ctx.p("out/ro.npy"), 0o444)), [], None),
        ("eval-out-is-input", ["eval", "--features", "in/x.npy", "--indicator", "gini", "--out", "in/x.npy", "--quiet"],
         x3, ["in/x.npy"], None),
        ("synth-out-fifo", ["synth", "--agents", "10", "--out", "out/f.npy"], fifo("out/f.npy"), [], None),
        ("synth-out-symlink-victim", ["synth", "--agents", "10", "--out", "out/l.npy"],
         link("../victim/v.npy", "out/l.npy"), [], None),
        ("import-out-is-csv", ["import", "--csv", "in/t.csv", "--step", "s", "--agent", "a", "--features", "v",
                               "--out", "in/t.csv"], put("in/t.csv", "s,a,v\n0,1,2\n"), ["in/t.csv"], None),
    ]
    for name, args, setup, allowed, post in file_out:
        s = S(x3, setup) if setup is not x3 else x3
        cases.append(Case("paths-%s" % name, "paths", args, setup=s, allowed=allowed, post=post, needs=("x3",),
                          timeout=15 if "fifo" in name else None, content_check=name != "attr-summary-is-input",
                          symlink_dir=name == "attr-out-dir-symlink"))
    # folder outputs
    dir_cmds = {
        "compare": ["compare", "--features", "in/x.npy", "--step", "0", "--indicator", "mult", "--samples", "4",
                    "--steps", "4", "--quiet", "--threads", "1", "--out"],
        "study": ["study", "--agents", "200", "--days", "3", "--seeds", "2", "--sizes", "10,50", "--quiet",
                  "--threads", "1", "--out"],
        "train": ["train", "--features", "in/train.npy", "--target-indicator", "linear", "--epochs", "2", "--hidden",
                  "4", "--quiet", "--threads", "1", "--out"],
        "simulate": ["simulate", "econ", "--agents", "12", "--steps", "6", "--quiet", "--threads", "1", "--out"],
        "panel-synth": ["panel", "synth", "--agents", "50", "--days", "3", "--threads", "1", "--out"],
        "panel-ingest": ingest_base()[:-3] + ["--quiet", "--out"],
        "bench": ["bench", "synthetic", "--sizes", "5", "--seeds", "1", "--samples", "4", "--steps", "4", "--quiet",
                  "--threads", "1", "--out"],
        "faithfulness": ["faithfulness", "--scenario", "in/scen", "--samples", "8", "--seeds", "1", "--k-max", "3",
                         "--orders", "1", "--steps", "4", "--no-sweeps", "--quiet", "--threads", "1", "--out"],
    }
    dir_needs = {"train": ("train",), "panel-ingest": ("ev",), "faithfulness": ("scen_social",)}
    dir_setup = {"train": cp("train", "in/train.npy"), "panel-ingest": cp("ev", "in/ev"),
                 "faithfulness": cp("scen_social", "in/scen")}
    targets = [
        ("out-is-input-file", "in/x.npy", None, []),
        ("out-fifo", "out/fifo", fifo("out/fifo"), []),
        ("out-symlink-victim-dir", "out/link", link("../victim", "out/link"), []),
        ("out-existing-with-files", "out/d", lambda ctx: (ctx.write("out/d/keep.txt", b"user file"),
                                                          os.utime(ctx.p("out/d/keep.txt"), (1e9, 1e9))), []),
        ("out-victim-dir", "victim", None, []),
        ("out-abs-case-dir", "{C}", None, []),
        ("out-empty", "", None, []),
        ("out-dot", ".", None, []),
        ("out-parent-file", "in/x.npy/sub", None, []),
    ]
    for cname, base in dir_cmds.items():
        for tname, target, setup, allowed in targets:
            if cname not in ("compare", "study", "panel-ingest") and tname not in (
                    "out-is-input-file", "out-symlink-victim-dir"):
                continue

            def post_keep(ctx, target=target, tname=tname):
                if tname == "out-existing-with-files":
                    p = ctx.p("out/d/keep.txt")
                    if ctx.rc == 0 and not os.path.exists(p):
                        return [F("soft-outside", "an existing output folder was replaced, its other files deleted")]
                return []
            cases.append(Case("paths-%s-%s" % (cname, tname), "paths", base + [target],
                              setup=S(x3, dir_setup.get(cname), setup), allowed=allowed, post=post_keep,
                              needs=("x3",) + dir_needs.get(cname, ()), timeout=15 if "fifo" in tname else None,
                              symlink_dir=tname == "out-symlink-victim-dir"))
    # an input folder that is also the output
    cases.append(Case("paths-ingest-out-is-events", "paths", ingest_base()[:-3] + ["--quiet", "--out", "in/ev/events"],
                      setup=cp("ev", "in/ev"), needs=("ev",)))
    cases.append(Case("paths-study-out-is-panel", "paths", ["study", "--panel", "in/panel", "--out", "in/panel",
                                                            "--seeds", "2", "--sizes", "10,50", "--quiet", "--threads", "1"],
                      setup=cp("panel", "in/panel"), needs=("panel",)))
    cases.append(Case("paths-simulate-out-is-scenario", "paths", ["faithfulness", "--scenario", "in/scen", "--out",
                                                                  "in/scen", "--samples", "8", "--seeds", "1",
                                                                  "--no-sweeps", "--quiet", "--threads", "1"],
                      setup=cp("scen_social", "in/scen"), needs=("scen_social",)))
    cases.append(Case("paths-panel-synth-out-eq-events", "paths", ["panel", "synth", "--agents", "50", "--days", "3",
                                                                   "--out", "out/same", "--events", "out/same"]))
    return cases


# --------------------------------------------------------------------------- category: args

def gen_args(fx):
    cases = []
    sets = [
        ("no-args", []), ("help", ["--help"]), ("unknown-subcommand", ["frobnicate"]),
        ("attribute-no-args", ["attribute"]),
        ("attribute-features-empty", ["attribute", "--features", "", "--out", "out/p.npy", "--indicator", "gini"]),
        ("attribute-features-missing", ["attribute", "--features", "in/nope.npy", "--out", "out/p.npy", "--indicator", "gini"]),
        ("attribute-features-dir", ["attribute", "--features", "in", "--out", "out/p.npy", "--indicator", "gini"]),
        ("attribute-features-dev-stdin", ["attribute", "--features", "-", "--out", "out/p.npy", "--indicator", "gini"]),
        ("attribute-both-inputs", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--scenario", "in/scen", "--out", "out/p.npy",
                                   "--quiet"]),
        ("attribute-deepset-no-model", ["attribute", "--features", "in/x.npy", "--indicator", "deepset", "--out",
                                        "out/p.npy"]),
        ("attribute-static-no-scenario", ["attribute", "--features", "in/x.npy", "--indicator", "static", "--out",
                                          "out/p.npy"]),
        ("attribute-step-no-scenario", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--step", "0", "--out", "out/p.npy"]),
        ("attribute-model-empty", ["attribute", "--features", "in/x.npy", "--indicator", "deepset", "--model", "",
                                   "--out", "out/p.npy"]),
        ("attribute-scenario-empty", ["attribute", "--scenario", "", "--out", "out/p.npy", "--indicator", "static"]),
        ("attribute-scenario-is-file", ["attribute", "--scenario", "in/x.npy", "--out", "out/p.npy", "--indicator", "static"]),
        ("attribute-wgpu", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--backend", "wgpu", "--out", "out/p.npy", "--quiet"]),
        ("attribute-ndarray-f64", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--backend", "ndarray", "--precision", "f64",
                                   "--out", "out/p.npy", "--quiet"]),
        ("attribute-gauss-1", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--rule", "gauss", "--steps", "1", "--out",
                               "out/p.npy", "--quiet"]),
        ("attribute-gauss-1000", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--rule", "gauss", "--steps", "1000", "--out",
                                  "out/p.npy", "--quiet"]),
        ("attribute-trapezoid-1", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--rule", "trapezoid", "--steps", "1",
                                   "--out", "out/p.npy", "--quiet"]),
        ("attribute-exact-deepset", ["attribute", "--features", "in/x.npy", "--method", "exact", "--indicator",
                                     "deepset", "--model", "in/model", "--out", "out/p.npy", "--quiet"]),
        ("attribute-flag-twice", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--features", "in/x.npy", "--out", "out/p.npy"]),
        ("attribute-invalid-utf8-path", ["attribute", "--features", b"in/\xff\xfe.npy", "--out", "out/p.npy", "--indicator", "gini"]),
        ("attribute-invalid-utf8-out", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--out", b"out/\xff\xfe.npy", "--quiet"]),
        ("attribute-100k-args", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--out", "out/p.npy"] + ["--quiet"] * 100000),
        ("compare-default-indicator", ["compare", "--features", "in/x.npy", "--step", "1", "--out", "out/c", "--quiet"]),
        ("compare-shapley-exact-n20", ["compare", "--features", "in/x.npy", "--indicator", "gini", "--step", "0", "--methods", "shapley-exact",
                                       "--out", "out/c", "--quiet"]),
        ("compare-banzhaf-exact-n20", ["compare", "--features", "in/x.npy", "--indicator", "gini", "--step", "0", "--methods", "banzhaf-exact",
                                       "--out", "out/c", "--quiet"]),
        ("compare-antithetic-odd", ["compare", "--features", "in/x.npy", "--indicator", "gini", "--step", "0", "--antithetic", "--samples",
                                    "7", "--out", "out/c", "--quiet"]),
        ("compare-methods-empty", ["compare", "--features", "in/x.npy", "--indicator", "gini", "--step", "0", "--methods", "", "--out",
                                   "out/c", "--quiet"]),
        ("compare-methods-dupe", ["compare", "--features", "in/x.npy", "--indicator", "gini", "--step", "0", "--methods", "loo,loo",
                                  "--out", "out/c", "--quiet"]),
        ("compare-no-step-3d", ["compare", "--features", "in/x.npy", "--indicator", "gini", "--out", "out/c", "--quiet"]),
        ("compare-step-2d", ["compare", "--features", "in/x2.npy", "--indicator", "gini", "--step", "5", "--out", "out/c", "--quiet"]),
        ("faith-methods-empty", ["faithfulness", "--scenario", "in/scen", "--methods", "", "--out", "out/f"]),
        ("faith-scenario-repeat", ["faithfulness", "--scenario", "in/scen", "--scenario", "in/scen", "--samples", "8",
                                   "--seeds", "1", "--k-max", "2", "--orders", "1", "--no-sweeps", "--out", "out/f",
                                   "--quiet", "--threads", "1"]),
        ("study-indicators-empty", ["study", "--agents", "200", "--days", "3", "--indicators", "", "--out", "out/s"]),
        ("study-protocols-full-only", ["study", "--agents", "200", "--days", "3", "--seeds", "2", "--sizes", "10",
                                       "--protocols", "full", "--out", "out/s", "--quiet", "--threads", "1"]),
        ("study-sizes-above-agents", ["study", "--agents", "200", "--days", "3", "--seeds", "2", "--sizes", "500,1000",
                                      "--out", "out/s", "--quiet", "--threads", "1"]),
        ("bench-scaling-indicator-gini", ["bench", "scaling", "--sizes", "3", "--indicator", "gini", "--budget", "1",
                                          "--out", "out/b", "--quiet", "--threads", "1"]),
        ("train-both-targets", ["train", "--features", "in/train.npy", "--target", "in/y.npy", "--target-indicator",
                                "linear", "--out", "out/m", "--epochs", "2", "--quiet"]),
        ("train-no-target", ["train", "--features", "in/train.npy", "--out", "out/m", "--epochs", "2", "--quiet"]),
        ("train-pathcopies-with-target", ["train", "--features", "in/train.npy", "--target", "in/y.npy",
                                          "--path-copies", "3", "--out", "out/m", "--epochs", "2", "--quiet"]),
        ("simulate-unknown", ["simulate", "weather", "--out", "out/s"]),
        ("import-no-columns", ["import", "--csv", "in/t.csv", "--out", "out/x.npy"]),
    ]

    def setup(ctx):
        ctx.copy("x3", "in/x.npy")
        ctx.copy("x2", "in/x2.npy")
        ctx.copy("train", "in/train.npy")
        ctx.copy("train_y", "in/y.npy")
        ctx.copy("model", "in/model")
        ctx.copy("scen_social", "in/scen")
        ctx.write("in/t.csv", "s,a,v\n0,1,2\n")
    for name, args in sets:
        cases.append(Case("args-%s" % name, "args", args, setup=setup, needs=("x3", "train", "model", "scen_social"),
                          allowed=["-"] if "stdin" in name else (), timeout=30))
    return cases


# --------------------------------------------------------------------------- category: control (valid runs)

def gen_control(fx):
    """Valid inputs: every one must pass. A failure here is a checker bug or a defect on valid input."""
    c = []
    ctl = [
        ("attribute", ["attribute", "--features", "in/x.npy", "--indicator", "gini", "--steps", "8", "--out", "out/phi.npy",
                       "--summary", "out/s.json", "--quiet", "--threads", "1"], cp("x3", "in/x.npy"), ("x3",)),
        ("attribute-normalize", ["attribute", "--features", "in/x.npy", "--indicator", "variance", "--normalize", "--out",
                                 "out/phi.npy", "--summary", "out/s.json", "--quiet", "--threads", "1"],
         cp("x3", "in/x.npy"), ("x3",)),
        ("attribute-deepset", ["attribute", "--features", "in/x.npy", "--indicator", "deepset", "--model", "in/model",
                               "--out", "out/phi.npy", "--summary", "out/s.json", "--quiet", "--threads", "1"],
         S(cp("x3", "in/x.npy"), cp("model", "in/model")), ("x3", "model")),
        ("attribute-scenario", ["attribute", "--scenario", "in/scen", "--out", "out/phi.npy", "--summary", "out/s.json",
                                "--quiet", "--threads", "1"], cp("scen_econ", "in/scen"), ("scen_econ",)),
        ("eval", ["eval", "--features", "in/x.npy", "--indicator", "mult", "--out", "out/v.npy", "--quiet"],
         cp("x3", "in/x.npy"), ("x3",)),
        ("compare", ["compare", "--features", "in/x.npy", "--step", "1", "--indicator", "variance", "--samples", "64",
                     "--out", "out/c", "--quiet", "--threads", "1"], cp("x3", "in/x.npy"), ("x3",)),
        ("demo", ["demo", "--agents", "100", "--steps", "32", "--quiet", "--threads", "1"], None, ()),
        ("synth", ["synth", "--agents", "30", "--time-steps", "2", "--out", "out/x.npy"], None, ()),
        ("train", ["train", "--features", "in/train.npy", "--target", "in/y.npy", "--out", "out/m", "--epochs", "3",
                   "--hidden", "4", "--quiet", "--threads", "1"],
         S(cp("train", "in/train.npy"), cp("train_y", "in/y.npy")), ("train", "train_y")),
        ("bench-synthetic", ["bench", "synthetic", "--out", "out/b", "--sizes", "5,10", "--seeds", "1", "--samples", "8",
                             "--steps", "4", "--quiet", "--threads", "1"], None, ()),
        ("bench-scaling", ["bench", "scaling", "--out", "out/b", "--sizes", "5,10", "--samples", "8", "--budget", "1",
                           "--quiet", "--threads", "1"], None, ()),
        ("panel-synth", ["panel", "synth", "--agents", "60", "--days", "3", "--out", "out/p", "--events", "out/e",
                         "--threads", "1"], None, ()),
        ("panel-ingest", ingest_base(["--write-id-map"]), cp("ev", "in/ev"), ("ev",)),
        ("panel-ingest-zst", ingest_base(), S(cp("ev", "in/ev"), cp_evz_events), ("ev", "evz")),
        ("study", ["study", "--agents", "200", "--days", "3", "--seeds", "2", "--sizes", "10,50", "--out", "out/s",
                   "--quiet", "--threads", "1"], None, ()),
        ("study-panel", ["study", "--panel", "in/panel", "--seeds", "2", "--sizes", "10,50", "--out", "out/s",
                         "--per-agent", "--quiet", "--threads", "1"], cp("panel", "in/panel"), ("panel",)),
        ("study-sweep", ["study", "sweep", "--agents", "200", "--seeds", "2", "--sizes", "10,50", "--out", "out/s",
                         "--quiet"], None, ()),
        ("simulate-econ", ["simulate", "econ", "--agents", "12", "--steps", "6", "--out", "out/s", "--quiet",
                           "--threads", "1"], None, ()),
        ("simulate-social", ["simulate", "social", "--agents", "12", "--steps", "6", "--out", "out/s", "--quiet",
                             "--threads", "1"], None, ()),
        ("simulate-cascade", ["simulate", "cascade", "--agents", "12", "--steps", "6", "--out", "out/s", "--quiet",
                              "--threads", "1"], None, ()),
        ("import", ["import", "--csv", "in/t.csv", "--step", "s", "--agent", "a", "--features", "v,w", "--out",
                    "out/x.npy"], put("in/t.csv", "s,a,v,w\n0,1,2,3\n0,2,4,5\n1,1,6,7\n1,2,8,9\n"), ()),
        ("faithfulness", ["faithfulness", "--scenario", "in/scen", "--out", "out/f", "--samples", "8", "--seeds", "1",
                          "--k-max", "3", "--orders", "1", "--steps", "4", "--quiet", "--threads", "1"],
         cp("scen_social", "in/scen"), ("scen_social",)),
    ]
    for name, args, setup, needs in ctl:
        c.append(Case("control-%s" % name, "control", args, setup=setup, needs=needs,
                      post=post_ingest_count(None) if name.startswith("panel-ingest") else None))
    return c


GENERATORS = {
    "control": gen_control, "npy": gen_npy, "values": gen_values, "flags": gen_flags, "model": gen_model,
    "scenario": gen_scenario, "panel": gen_panel, "events": gen_events, "topics": gen_topics, "csv": gen_csv,
    "capture": gen_capture, "signals": gen_signals, "paths": gen_paths, "args": gen_args,
}


# --------------------------------------------------------------------------- main

def all_cases(fx: Fixtures, cats: list[str]) -> list[Case]:
    cases = []
    for cat in cats:
        cases += GENERATORS[cat](fx)
    ids = [c.id for c in cases]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise SystemExit("duplicate case ids: %s" % sorted(dupes)[:10])
    return cases


def summarize(results: list[dict]) -> tuple[str, dict]:
    cats = sorted({r["category"] for r in results}, key=lambda c: list(GENERATORS).index(c))
    kinds = list(HARD) + list(SOFT)
    table = {}
    for cat in cats + ["TOTAL"]:
        rs = [r for r in results if cat == "TOTAL" or r["category"] == cat]
        row = {"cases": len(rs)}
        for st in ("ok", "err", "usage", "sig", "slow", "fail", "skip", "setup-error"):
            row[st] = sum(1 for r in rs if r["status"] == st)
        row["pass"] = row["ok"] + row["err"] + row["usage"] + row["sig"]
        for k in kinds:
            if k != "slow":  # counted as a status above
                row[k] = sum(1 for r in rs if any(f[0] == k for f in r["findings"]))
        table[cat] = row
    cols = ["cases", "pass", "ok", "err", "usage", "sig", "slow", "fail"] + [k for k in kinds if k != "slow" and table["TOTAL"][k]] + \
        [c for c in ("skip", "setup-error") if table["TOTAL"][c]]
    short = {"outside-write": "outside", "corrupt-output": "corrupt", "silent-loss": "silent",
             "partial-output": "partial", "soft-partial": "~partial", "soft-silent": "~silent",
             "soft-corrupt": "~corrupt", "soft-outside": "~outside", "unclear": "~unclear", "slow": "~slow",
             "setup-error": "setup"}
    head = ["category"] + [short.get(c, c) for c in cols]
    w = [max(9, len("category"))] + [max(5, len(h)) for h in head[1:]]
    lines = ["  ".join(h.rjust(w[i]) if i else h.ljust(w[i]) for i, h in enumerate(head))]
    for cat, row in table.items():
        if cat == "TOTAL":
            lines.append("-" * len(lines[0]))
        lines.append("  ".join([cat.ljust(w[0])] + [str(row[c]).rjust(w[i + 1]) for i, c in enumerate(cols)]))
    legend = ("pass = ok (exit 0) + err (exit 2, clean error) + usage (clap rejected the flag/value) + sig "
              "(signal case handled); slow = no answer in time to a request for enormous work (soft); fail = a hard "
              "finding; the columns after 'fail' count the cases with each finding (~ = soft: reported, not failing)")
    return "\n".join(lines) + "\n" + legend, table


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--aumann", required=True, help="the binary under test")
    ap.add_argument("--work", required=True, help="working directory (fixtures, one dir per case)")
    ap.add_argument("--only", default="", help="comma-separated categories (%s) or id prefixes" % ", ".join(GENERATORS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=60, help="seconds per case (some cases use less)")
    ap.add_argument("--mem-gb", type=float, default=8.0, help="address-space limit per case")
    ap.add_argument("--report", default=None, help="JSON report (default WORK/report.json)")
    ap.add_argument("--keep", action="store_true", help="keep every case dir (default: only failing ones)")
    ap.add_argument("--list", action="store_true", help="list the case ids and exit")
    args = ap.parse_args()

    binary = os.path.abspath(args.aumann)
    if not os.access(binary, os.X_OK):
        print("error: %s is not an executable" % binary, file=sys.stderr)
        return 2
    work = os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    only = [o for o in args.only.split(",") if o]
    cats = [c for c in GENERATORS if not only or c in only or any(o.startswith(c + "-") for o in only)]
    t_start = time.monotonic()
    log = lambda msg: print(msg, flush=True)
    fx = Fixtures(binary, os.path.join(work, "fixtures"), log)
    if args.list:
        fx.ok = {k: os.path.join(fx.root, k) for k in ("x3", "x2", "train", "train_y", "model", "scen_econ", "scen_social",
                                                        "scen_cascade", "panel", "ev", "evz", "big", "bigev")}
        fx.meta = {"ev_files": ["a"], "ev_lines": [b"{}"], "ev_n": 1}
        for c in all_cases(fx, cats):
            if not only or c.cat in only or any(c.id.startswith(o) for o in only):
                print(c.id)
        return 0
    fx.build(set(cats))
    cases = [c for c in all_cases(fx, cats) if not only or c.cat in only or any(c.id.startswith(o) for o in only)]
    # the slow kinds first, so two workers stay busy to the end
    order = {"signals": 0, "capture": 1}
    cases.sort(key=lambda c: (order.get(c.cat, 2), c.id))
    log("%d cases in %d categories, %d at a time, binary %s" % (len(cases), len({c.cat for c in cases}), args.jobs,
                                                                  binary))
    runner = Runner(binary, work, fx, args.timeout, args.mem_gb, args.keep)
    results = []
    done = 0
    lock = threading.Lock()

    def one(case):
        try:
            return runner.run_case(case)
        except Exception as e:  # a bug in the battery, not in the tool
            return {"id": case.id, "category": case.cat, "cmd": shlex.join(str(a) for a in case.args), "rc": None,
                    "seconds": 0, "stderr_first": "", "status": "setup-error",
                    "findings": [("setup", "battery error: %s: %s" % (type(e).__name__, e))]}
    with cf.ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        futs = {ex.submit(one, c): c for c in cases}
        for fut in cf.as_completed(futs):
            r = fut.result()
            with lock:
                results.append(r)
                done += 1
                hard = [f for f in r["findings"] if f[0] in HARD]
                if hard or done % 50 == 0:
                    log("[%d/%d %.0fs] %s %s%s" % (done, len(cases), time.monotonic() - t_start, r["status"].upper(),
                                                   r["id"], "  " + "; ".join("%s: %s" % f for f in hard)[:220] if hard else ""))
    results.sort(key=lambda r: r["id"])
    text, table = summarize(results)
    print()
    print(text)
    failing = [r for r in results if r["status"] == "fail"]
    soft = [r for r in results if r["status"] != "fail" and any(f[0] in SOFT for f in r["findings"])]
    by_check = {k: sum(1 for r in results if any(f[0] == k for f in r["findings"])) for k in HARD + SOFT}

    def entry(r):
        return {"id": r["id"], "category": r["category"], "cmd": r["cmd"], "exit": r["rc"],
                "timed_out": r.get("timed_out", False), "seconds": r["seconds"], "stderr_first": r["stderr_first"],
                "checks": [{"check": f[0], "detail": f[1]} for f in r["findings"]],
                **({"signal": r["signal"]} if r.get("signal") else {}), **({"dir": r["dir"]} if r.get("dir") else {})}
    report = {
        "binary": binary, "work": work, "seed": SEED, "root": IS_ROOT,
        "zstandard": zstandard is not None, "seconds": round(time.monotonic() - t_start, 1),
        "cases": len(results), "categories": table, "by_check": by_check,
        "fixtures_failed": fx.failed,
        "failures": [entry(r) for r in failing],
        "soft": [entry(r) for r in soft],
        "setup_errors": [entry(r) for r in results if r["status"] == "setup-error"],
        "results": [{"id": r["id"], "status": r["status"], "exit": r["rc"], "seconds": r["seconds"],
                     "stderr_first": r["stderr_first"][:160]} for r in results],
        "status": {r["id"]: r["status"] + ("" if r["status"] != "fail" else ":" + ",".join(
            sorted({f[0] for f in r["findings"] if f[0] in HARD}))) for r in results},
    }
    rp = args.report or os.path.join(work, "report.json")
    with open(rp, "w") as f:
        json.dump(report, f, indent=1, default=str)
    print("\n%d cases, %d failing, %d with soft findings, %d skipped, %d setup errors in %.0fs; report %s" % (
        len(results), len(failing), len(soft), table["TOTAL"]["skip"], table["TOTAL"]["setup-error"],
        time.monotonic() - t_start, rp))
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main())
