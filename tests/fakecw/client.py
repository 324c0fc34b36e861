"""client.py - drive the fake ConnectWise server from a test.

Job: start tests/fakecw/fakecw.py as a subprocess on a free loopback port (read back
from --port-file, polled with a deadline, never a fixed sleep), talk to its control
interface (faults, request log, state, reset, config), make API calls with the right
credentials, and stop it.  Standard library only.

    sys.path.insert(0, os.path.join(os.environ["top_srcdir"], "tests", "fakecw"))
    import client
    with client.FakeCW(workdir) as cw:
        cw.add_fault("apply-then-reset", count=3,
                     match={"method": "POST", "path": "/time/entries"})
        ... point the daemon at cw.api_url with cw.company / cw.public_key /
            cw.private_key / cw.client_id ...
        log = cw.requests()

Invariants: stop() always reaps the child (SIGTERM, then SIGKILL after a deadline);
nothing here sleeps without a deadline; errors raise FakeCWError with the reason.
"""

import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

# no __pycache__ in the source tree (it may be read-only under distcheck)
sys.dont_write_bytecode = True

HERE = os.path.dirname(os.path.abspath(__file__))
FAKECW = os.path.join(HERE, "fakecw.py")
SEED = os.path.join(HERE, "seed.json")
SCHEMA = os.path.join(HERE, "schema", "cw-time-subset.openapi.json")

COMPANY = "examplemsp"
PUBLIC_KEY = "fakePublicKey01"
PRIVATE_KEY = "fakePrivateKey01"
CLIENT_ID = "5c2f3f7e-1b2a-4c59-9d3e-7f0a1b2c3d4e"
ACCEPT = "application/vnd.connectwise.com+json; version=2025.8"
API_PREFIX = "/v4_6_release/apis/3.0"


class FakeCWError(RuntimeError):
    pass


class Response:
    """status, headers (a dict with lower-case names), body (parsed JSON or None), raw."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.raw = raw
        try:
            self.body = json.loads(raw.decode("utf-8")) if raw else None
        except (UnicodeDecodeError, ValueError):
            self.body = None

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.raw[:200])


class FakeCW:
    def __init__(self, workdir=None, company=COMPANY, public_key=PUBLIC_KEY,
                 private_key=PRIVATE_KEY, client_id=CLIENT_ID, seed=None, https=None,
                 log=None, extra_args=(), python=None, deadline=15.0, cafile=None):
        self.company = company
        self.public_key = public_key
        self.private_key = private_key
        self.client_id = client_id
        self.seed = seed or SEED
        self.https = https
        self.cafile = cafile
        self.extra_args = list(extra_args)
        self.python = python or os.environ.get("PYTHON3") or sys.executable
        self.deadline = deadline
        self._own_dir = None
        if workdir is None:
            self._own_dir = tempfile.mkdtemp(prefix="fakecw-")
            workdir = self._own_dir
        self.workdir = workdir
        self.log_path = log or os.path.join(workdir, "fakecw-requests.jsonl")
        self.port_file = os.path.join(workdir, "fakecw.port")
        self.stderr_path = os.path.join(workdir, "fakecw.stderr")
        self.proc = None
        self.port = None

    # ---- lifecycle ------------------------------------------------------------------

    def start(self):
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        args = [self.python, "-B", FAKECW, "--port-file", self.port_file,
                "--company", self.company, "--public-key", self.public_key,
                "--private-key", self.private_key, "--client-id", self.client_id,
                "--seed", self.seed, "--log", self.log_path]
        if self.https:
            args += ["--https", self.https[0], self.https[1]]
        args += self.extra_args
        self._stderr = open(self.stderr_path, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self._stderr)
        end = time.monotonic() + self.deadline
        delay = 0.005
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise FakeCWError("fakecw exited with %s before listening; see %s"
                                  % (self.proc.returncode, self.stderr_path))
            try:
                with open(self.port_file, encoding="ascii") as f:
                    text = f.read()
                if text.endswith("\n"):
                    self.port = int(text)
                    return self
            except FileNotFoundError:
                pass
            time.sleep(delay)   # polling with a deadline, not a wait for readiness
            delay = min(delay * 2, 0.1)
        self.stop()
        raise FakeCWError("fakecw did not write %s within %.0f s"
                          % (self.port_file, self.deadline))

    def stop(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
            self._stderr.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ---- addresses and credentials ----------------------------------------------

    @property
    def scheme(self):
        return "https" if self.https else "http"

    @property
    def url(self):
        """Root URL, e.g. http://127.0.0.1:41234 (the `site` for companyinfo)."""
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    @property
    def api_url(self):
        """The base URL for `[api] url`: .../v4_6_release/apis/3.0"""
        return self.url + API_PREFIX

    def auth_header(self, company=None, public_key=None, private_key=None):
        user = "%s+%s" % (company or self.company, public_key or self.public_key)
        token = "%s:%s" % (user, private_key or self.private_key)
        return "Basic " + base64.b64encode(token.encode("utf-8")).decode("ascii")

    def api_headers(self, **over):
        h = {"Authorization": self.auth_header(), "clientId": self.client_id,
             "Accept": ACCEPT}
        for k, v in over.items():
            k = k.replace("_", "-") if k != "clientId" else k
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        return h

    # ---- raw HTTP -----------------------------------------------------------------

    def _open(self, req, timeout):
        ctx = None
        if self.https:
            import ssl
            ctx = ssl.create_default_context(cafile=self.cafile or self.https[0])
        try:
            with urllib.request.urlopen(req, timeout=timeout, context=ctx) as r:
                return Response(r.status, r.getheaders(), r.read())
        except urllib.error.HTTPError as e:
            return Response(e.code, e.headers.items(), e.read())

    def http(self, method, path, body=None, headers=None, query=None, timeout=10,
             raw_body=None):
        """Any request to the fake; path is absolute ("/login/...", "/__fake/...")."""
        url = self.url + path
        if query:
            url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote,
                                                safe="")
        data = raw_body
        hdrs = dict(headers or {})
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            hdrs.setdefault("Content-Type", "application/json")
        req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
        return self._open(req, timeout)

    def api(self, method, relpath, body=None, query=None, headers=None, timeout=10,
            raw_body=None):
        """An authenticated API call; relpath is below the base, e.g. "/time/entries"."""
        h = self.api_headers()
        for k, v in (headers or {}).items():
            if v is None:
                h.pop(k, None)
            else:
                h[k] = v
        return self.http(method, API_PREFIX + relpath, body=body, headers=h, query=query,
                         timeout=timeout, raw_body=raw_body)

    def _control(self, method, what, body=None, query=None):
        r = self.http(method, "/__fake/" + what, body=body, query=query)
        if r.status != 200:
            raise FakeCWError("control %s %s: %d %r" % (method, what, r.status, r.raw))
        return r.body

    # ---- control interface ----------------------------------------------------------

    def add_fault(self, mode, match=None, **params):
        """Arm a fault; see README.md for modes and parameters.  Returns its id."""
        spec = dict(params, mode=mode)
        if match:
            spec["match"] = match
        return self._control("POST", "faults", spec).get("id")

    def faults(self):
        return self._control("GET", "faults")

    def clear_faults(self):
        self._control("DELETE", "faults")

    def requests(self, since=0):
        """The request log (list of dicts), from position `since`."""
        return self._control("GET", "log", query={"since": since})["requests"]

    def clear_log(self):
        self._control("DELETE", "log")

    def reset(self, keep_log=False):
        self._control("POST", "reset", {"keep_log": keep_log})

    def state(self):
        return self._control("GET", "state")

    def entries(self):
        return self._control("GET", "entries")

    def insert_entries(self, entries):
        """Store entries directly (no validation, no sheet checks): e.g. two entries
        with one mobileGuid, or a hand-made entry without the marker (E10)."""
        return self._control("POST", "entries", list(entries))["ids"]

    def insert_charge_codes(self, codes):
        """Adds charge codes shaped as in seed.json (company by its
        identifier); they live until reset()."""
        return self._control("POST", "chargecodes", list(codes))["ids"]

    def config(self, **kw):
        """guid="store"|"drop"|"nofilter", api_member="jdoe"."""
        if kw:
            return self._control("POST", "config", kw)
        return self._control("GET", "config")

    def wait_for(self, predicate, timeout=10.0, what="condition"):
        """Poll the request log until predicate(requests) is true, with a deadline."""
        end = time.monotonic() + timeout
        delay = 0.01
        while True:
            reqs = self.requests()
            if predicate(reqs):
                return reqs
            if time.monotonic() >= end:
                raise FakeCWError("timed out waiting for %s" % what)
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
