"""Helpers shared by Strata's end-to-end tests.

Everything here talks to 127.0.0.1 only. The gateway is started by the
fixtures in conftest.py (``Gateway``); raw requests are signed with botocore's
own SigV4 signer so that a signature failure is the gateway's, not ours.
"""

from __future__ import annotations

import base64
import contextlib
import ctypes
import hashlib
import hmac
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path
from typing import Iterable
from urllib.parse import quote

import boto3
import botocore.auth
import pytest
import requests
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials

REGION = "us-east-1"
ACCESS_KEY = "STRATAE2EACCESSKEY01"
SECRET_KEY = "strata-e2e-secret-key-0123456789abcdefghij"
ADMIN_TOKEN = "strata-e2e-admin-token-0123456789"
MiB = 1024 * 1024
HEALTH_TIMEOUT_S = 60.0

S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


# --------------------------------------------------------------------------
# small utilities
# --------------------------------------------------------------------------


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def crc32_b64(data: bytes) -> str:
    return base64.b64encode((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big")).decode()


def multipart_etag(parts: Iterable[bytes]) -> str:
    """The ETag S3 gives a multipart object: md5 of the parts' md5s, '-N'."""
    digests = [hashlib.md5(p).digest() for p in parts]
    return f'"{hashlib.md5(b"".join(digests)).hexdigest()}-{len(digests)}"'


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def unique_bucket(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_session() -> requests.Session:
    """A requests session that never goes through a proxy."""
    s = requests.Session()
    s.trust_env = False
    return s


def find_tool(name: str) -> str:
    """Prefer the tool installed next to this interpreter (the venv)."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        pytest.fail(f"{name} not found beside {sys.executable} nor on PATH; "
                    "run scripts/test.sh, which installs tests/e2e/requirements.txt")
    return found


def default_strata_bin() -> Path:
    if os.environ.get("STRATA_BIN"):
        return Path(os.environ["STRATA_BIN"])
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "strata-target")
    return Path(target) / "debug" / "strata"


# --------------------------------------------------------------------------
# S3 error bodies
# --------------------------------------------------------------------------


def parse_error(body: bytes) -> tuple[str | None, ET.Element | None]:
    """Returns (Code, root) of an S3 XML error body; (None, None) if not XML."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        return None, None
    code = root.find("Code")
    if code is None:
        code = root.find(f"{S3_NS}Code")
    return (code.text if code is not None else None), root


def assert_s3_error(resp: requests.Response, status: int | Iterable[int],
                    codes: str | Iterable[str] | None) -> str:
    """Asserts an HTTP status and an XML <Error><Code> among ``codes``."""
    statuses = {status} if isinstance(status, int) else set(status)
    assert resp.status_code in statuses, (
        f"expected HTTP {sorted(statuses)}, got {resp.status_code}: {resp.content[:600]!r}")
    if resp.request is not None and resp.request.method == "HEAD":
        return ""
    code, root = parse_error(resp.content)
    assert root is not None, f"error body is not XML: {resp.content[:600]!r}"
    assert root.tag in ("Error", f"{S3_NS}Error"), f"root is <{root.tag}>: {resp.content[:600]!r}"
    assert code, f"error XML has no <Code>: {resp.content[:600]!r}"
    if codes is not None:
        allowed = {codes} if isinstance(codes, str) else set(codes)
        assert code in allowed, f"expected Code in {sorted(allowed)}, got {code}: {resp.content[:600]!r}"
    return code


def client_error_code(exc) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def client_error_status(exc) -> int:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


def error_of(exc) -> tuple[int, str]:
    """(HTTP status, S3 error code) of a botocore ClientError."""
    return client_error_status(exc), client_error_code(exc)


# --------------------------------------------------------------------------
# raw SigV4-signed requests
# --------------------------------------------------------------------------


class _S3Signer(botocore.auth.S3SigV4Auth):
    """botocore's S3 SigV4 signer with an optional fixed payload hash."""

    def __init__(self, credentials, payload_hash=None):
        super().__init__(credentials, "s3", REGION)
        self._payload_hash = payload_hash

    def payload(self, request):
        if self._payload_hash is not None:
            return self._payload_hash
        return super().payload(request)


def sign_request(url: str, method: str, headers: dict | None, body: bytes,
                 access_key: str, secret_key: str, payload_hash: str | None = None,
                 when: "datetime | None" = None) -> tuple[dict, AWSRequest]:
    """SigV4-signs a request with botocore; returns (headers, signed AWSRequest)."""
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    signer = _S3Signer(Credentials(access_key, secret_key), payload_hash)
    if when is not None:
        with _patched_now(when):
            signer.add_auth(req)
    else:
        signer.add_auth(req)
    return dict(req.headers.items()), req


@contextlib.contextmanager
def _patched_now(when):
    orig = botocore.auth.get_current_datetime
    botocore.auth.get_current_datetime = lambda: when
    try:
        yield
    finally:
        botocore.auth.get_current_datetime = orig


def signing_key(secret_key: str, date: str) -> bytes:
    k = hmac.new(f"AWS4{secret_key}".encode(), date.encode(), hashlib.sha256).digest()
    for part in (REGION, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def aws_chunked_signed_body(data: bytes, chunk_size: int, seed_signature: str, timestamp: str,
                            secret_key: str, trailer: tuple[str, str] | None = None) -> bytes:
    """Encodes data as STREAMING-AWS4-HMAC-SHA256-PAYLOAD (aws-chunked with chunk signatures)."""
    key = signing_key(secret_key, timestamp[:8])
    scope = f"{timestamp[:8]}/{REGION}/s3/aws4_request"
    empty = hashlib.sha256(b"").hexdigest()
    prev = seed_signature
    out = bytearray()
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    for chunk in chunks:
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", timestamp, scope, prev, empty,
                         hashlib.sha256(chunk).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out += f"{len(chunk):x};chunk-signature={sig}\r\n".encode() + chunk + b"\r\n"
        prev = sig
    if trailer is not None:
        # Trailer of STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER: the final
        # zero chunk above is followed by the trailer and its signature.
        out = out[:-2]  # drop the CRLF after the zero-length chunk
        name, value = trailer
        trailer_line = f"{name}:{value}\n"
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", timestamp, scope, prev,
                         hashlib.sha256(trailer_line.encode()).hexdigest()])
        sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        out += f"{name}:{value}\r\nx-amz-trailer-signature:{sig}\r\n\r\n".encode()
    return bytes(out)


def aws_chunked_unsigned_body(data: bytes, chunk_size: int, trailer: tuple[str, str] | None) -> bytes:
    """Encodes data as STREAMING-UNSIGNED-PAYLOAD-TRAILER, the way botocore does."""
    out = bytearray()
    for i in range(0, len(data), chunk_size):
        chunk = data[i:i + chunk_size]
        out += f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    out += b"0\r\n"
    if trailer is not None:
        out += f"{trailer[0]}:{trailer[1]}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


# --------------------------------------------------------------------------
# the gateway process
# --------------------------------------------------------------------------


def _pdeathsig():
    """Child side of Popen: die with the test runner, never outlive it."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Gateway:
    """A running (or external) S3 endpoint plus its admin API."""

    def __init__(self, *, endpoint: str, admin_url: str | None, token: str | None,
                 access_key: str, secret_key: str, data_dir: Path | None,
                 log_path: Path | None, workdir: Path, binary: Path | None = None,
                 extra_args: list[str] | None = None, extra_env: dict[str, str] | None = None):
        self.endpoint = endpoint
        self.extra_args = list(extra_args or [])
        self.extra_env = dict(extra_env or {})
        self.admin_url = admin_url
        self.token = token
        self.access_key = access_key
        self.secret_key = secret_key
        self.data_dir = data_dir
        self.log_path = log_path
        self.workdir = workdir
        self.binary = binary
        self.proc: subprocess.Popen | None = None
        self.s3_port: int | None = None
        self.admin_port: int | None = None
        self.http = http_session()
        self.aws_config_file = workdir / "aws-config"
        self.aws_config_file.write_text(
            "[default]\n"
            f"region = {REGION}\n"
            "s3 =\n"
            "    addressing_style = path\n")
        self.aws_credentials_file = workdir / "aws-credentials"
        self.aws_credentials_file.write_text("")
        self.rclone_config_file = workdir / "rclone.conf"
        self.rclone_config_file.write_text("")

    # ---- kind ----
    @property
    def managed(self) -> bool:
        return self.binary is not None

    def require_managed(self, why: str = "needs a gateway process started by the suite"):
        if not self.managed:
            pytest.skip(f"external endpoint (STRATA_E2E_ENDPOINT): {why}")

    def require_admin(self):
        if not self.admin_url:
            pytest.skip("external endpoint without STRATA_E2E_ADMIN_URL: no admin API")

    # ---- process control ----
    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def _log(self, line: str):
        if self.log_path:
            with open(self.log_path, "a") as f:
                f.write(f"\n===== [e2e {time.strftime('%H:%M:%S')}] {line} =====\n")

    def start(self):
        assert self.managed
        assert self.proc is None or self.proc.poll() is not None, "already running"
        last_err = ""
        for attempt in range(3):
            if self.s3_port is None or attempt > 0:
                self.s3_port, self.admin_port = free_port(), free_port()
                while self.admin_port == self.s3_port:
                    self.admin_port = free_port()
                self.endpoint = f"http://127.0.0.1:{self.s3_port}"
                self.admin_url = f"http://127.0.0.1:{self.admin_port}"
            env = dict(os.environ)
            env.update({
                "STRATA_ACCESS_KEY": self.access_key,
                "STRATA_SECRET_KEY": self.secret_key,
                "STRATA_ADMIN_TOKEN": self.token,
                "RUST_BACKTRACE": env.get("RUST_BACKTRACE", "1"),
            })
            env.update(self.extra_env)
            cmd = [str(self.binary), "serve",
                   "--data-dir", str(self.data_dir),
                   "--s3-addr", f"127.0.0.1:{self.s3_port}",
                   "--admin-addr", f"127.0.0.1:{self.admin_port}", *self.extra_args]
            self._log("start: " + " ".join(cmd))
            log = open(self.log_path, "ab")
            try:
                self.proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             stdin=subprocess.DEVNULL, preexec_fn=_pdeathsig)
            finally:
                log.close()
            ok, last_err = self._wait_healthy()
            if ok:
                return
            still_running = self.proc.poll() is None
            self._terminate()
            if still_running or "in use" not in self.log_tail(4000).lower():
                break  # not a port race: do not hide it behind retries
        pytest.fail(f"strata did not become healthy within {HEALTH_TIMEOUT_S:.0f}s: {last_err}\n"
                    f"--- gateway log ({self.log_path}) ---\n{self.log_tail()}", pytrace=False)

    def _wait_healthy(self) -> tuple[bool, str]:
        deadline = time.monotonic() + HEALTH_TIMEOUT_S
        err = "no answer"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False, f"process exited with status {self.proc.returncode}"
            try:
                r = self.http.get(f"{self.admin_url}/admin/health",
                                  headers={"Authorization": f"Bearer {self.token}"}, timeout=2)
                if r.status_code == 200:
                    r.json()
                    return True, ""
                err = f"health answered {r.status_code}: {r.text[:200]}"
            except (requests.RequestException, ValueError) as e:
                err = f"{type(e).__name__}: {e}"
            time.sleep(0.1)
        return False, err

    def _terminate(self, timeout: float = 15.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._log(f"did not exit {timeout}s after SIGTERM: SIGKILL")
                self.proc.kill()
                self.proc.wait()
        self._log(f"exited with status {self.proc.returncode}")

    def stop(self):
        if self.managed:
            self._terminate()

    def restart(self):
        """Graceful stop (SIGTERM) and start again on the same ports and data dir."""
        self.require_managed("restart")
        self._terminate()
        self.start()

    def kill9(self):
        """SIGKILL: no chance to flush or clean up."""
        self.require_managed("kill -9")
        assert self.proc is not None and self.proc.poll() is None, "gateway not running"
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._log("killed with SIGKILL")

    def log_tail(self, max_chars: int = 12000) -> str:
        if not self.log_path or not self.log_path.exists():
            return "(no log)"
        data = self.log_path.read_bytes()
        return data[-max_chars:].decode("utf-8", "replace")

    # ---- admin API ----
    def admin(self, method: str, path: str, token: str | None = "default", **kw) -> requests.Response:
        self.require_admin()
        headers = dict(kw.pop("headers", {}) or {})
        if token == "default":
            token = self.token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.http.request(method, f"{self.admin_url}{path}", headers=headers,
                                 timeout=kw.pop("timeout", 30), **kw)

    def health(self) -> dict:
        r = self.admin("GET", "/admin/health?deep=true")
        assert r.status_code == 200, r.text
        return r.json()

    def object_info(self, bucket: str, key: str) -> requests.Response:
        return self.admin("GET", f"/admin/objects/{bucket}/{quote(key, safe='/')}")

    # ---- clients ----
    def client(self, **config_kw):
        cfg = dict(s3={"addressing_style": "path"}, signature_version="s3v4",
                   retries={"max_attempts": 2, "mode": "standard"},
                   connect_timeout=10, read_timeout=120, max_pool_connections=32)
        cfg.update(config_kw)
        return self.client_with(self.access_key, self.secret_key, Config(**cfg))

    def client_with(self, access_key: str, secret_key: str, config: Config | None = None):
        config = config or Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                  retries={"max_attempts": 1})
        session = boto3.session.Session()
        return session.client("s3", endpoint_url=self.endpoint, region_name=REGION,
                              aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                              config=config)

    def url(self, path: str) -> str:
        return f"{self.endpoint}{path}"

    def signed(self, method: str, path: str, *, body: bytes = b"", headers: dict | None = None,
               access_key: str | None = None, secret_key: str | None = None,
               payload_hash: str | None = None, when=None, timeout: float = 60,
               stream: bool = False) -> requests.Response:
        """Sends a SigV4-signed request; ``path`` includes the query string, already encoded."""
        url = self.url(path)
        hdrs, _ = sign_request(url, method, headers, body,
                               access_key or self.access_key, secret_key or self.secret_key,
                               payload_hash=payload_hash, when=when)
        try:
            return self.http.request(method, url, headers=hdrs, data=body, timeout=timeout,
                                     stream=stream)
        except requests.ConnectionError:
            # A server may close an idle keep-alive connection at any time; real
            # clients (botocore included) then retry on a new connection. Do the
            # same, once: a dead gateway still fails here.
            self.http = http_session()
            return self.http.request(method, url, headers=hdrs, data=body, timeout=timeout,
                                     stream=stream)

    def aws_env(self) -> dict:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("AWS_")}
        env.update({
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_CONFIG_FILE": str(self.aws_config_file),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.aws_credentials_file),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })
        return env

    def aws(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        cmd = [find_tool("aws"), "--endpoint-url", self.endpoint, *args]
        p = subprocess.run(cmd, env=self.aws_env(), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            pytest.fail(f"aws {' '.join(args)} exited {p.returncode}\nstdout:\n{p.stdout[-4000:]}\n"
                        f"stderr:\n{p.stderr[-4000:]}", pytrace=False)
        return p

    def rclone_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RCLONE_")}
        env.update({
            "RCLONE_CONFIG": str(self.rclone_config_file),
            "RCLONE_CONFIG_S_TYPE": "s3",
            "RCLONE_CONFIG_S_PROVIDER": "Other",
            "RCLONE_CONFIG_S_ENV_AUTH": "false",
            "RCLONE_CONFIG_S_ENDPOINT": self.endpoint,
            "RCLONE_CONFIG_S_REGION": REGION,
            "RCLONE_CONFIG_S_ACCESS_KEY_ID": self.access_key,
            "RCLONE_CONFIG_S_SECRET_ACCESS_KEY": self.secret_key,
            "RCLONE_CONFIG_S_FORCE_PATH_STYLE": "true",
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        })
        return env

    def rclone(self, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        cmd = [find_tool("rclone"), "--retries", "1", "--low-level-retries", "2", *args]
        p = subprocess.run(cmd, env=self.rclone_env(), capture_output=True, text=True,
                           timeout=timeout, stdin=subprocess.DEVNULL)
        if check and p.returncode != 0:
            pytest.fail(f"rclone {' '.join(args)} exited {p.returncode}\nstdout:\n{p.stdout[-4000:]}\n"
                        f"stderr:\n{p.stderr[-6000:]}", pytrace=False)
        return p


def managed_gateway(binary: Path, workdir: Path, extra_env: dict[str, str] | None = None) -> Gateway:
    """Starts a gateway of its own on an empty data dir under ``workdir`` (e.g. with STRATA_TEST_CLOCK=1)."""
    (workdir / "data").mkdir(parents=True)
    gw = Gateway(endpoint="", admin_url=None, token=ADMIN_TOKEN, access_key=ACCESS_KEY, secret_key=SECRET_KEY,
                 data_dir=workdir / "data", log_path=workdir / "gateway.log", workdir=workdir, binary=binary,
                 extra_env=extra_env)
    gw.start()
    return gw


def empty_bucket(client, bucket: str):
    """Best-effort: aborts uploads, deletes every object version, deletes the bucket."""
    with contextlib.suppress(Exception):
        for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
            for u in page.get("Uploads", []):
                with contextlib.suppress(Exception):
                    client.abort_multipart_upload(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
    with contextlib.suppress(Exception):
        # Every version and delete marker (an unversioned bucket's objects are each one "null" version).
        for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"], "VersionId": o["VersionId"]}
                    for o in page.get("Versions", []) + page.get("DeleteMarkers", [])]
            for i in range(0, len(keys), 1000):
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys[i:i + 1000], "Quiet": True})
    with contextlib.suppress(Exception):
        client.delete_bucket(Bucket=bucket)


def read_only_setup(make_gateway, reader: tuple[str, str], prefix: str):
    """A gateway (from the ``make_gateway`` fixture) with one read-only user ``reader`` besides root, and a new
    bucket: ``(gateway, root client, reader client, bucket)``."""
    gw = make_gateway(f'[[users]]\naccess_key = "{reader[0]}"\nsecret_key = "{reader[1]}"\naccess = "read-only"\n')
    admin = gw.client()
    bucket = unique_bucket(prefix)
    admin.create_bucket(Bucket=bucket)
    return gw, admin, gw.client_with(*reader), bucket
