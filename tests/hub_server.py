"""A local HTTP server that speaks the Hugging Face Hub API paths huggingface_hub uses to publish a dataset.

Paths, as huggingface_hub's hf_api.py / _commit_api.py / lfs.py call them:

    POST /api/repos/create                                   create_repo (409 when it exists)
    POST /api/{type}s/{ns}/{name}/branch/{branch}            create_branch
    GET  /api/{type}s/{ns}/{name}/tree/{rev}                 list_repo_tree / list_repo_files
    POST /api/validate-yaml                                  the README.md check in create_commit
    POST /api/{type}s/{ns}/{name}/preupload/{rev}            upload mode per file: binary files go to LFS
    POST /{type}s/{ns}/{name}.git/info/lfs/objects/batch     LFS batch API (basic transfer)
    PUT  /lfs-upload/{oid}                                   where the batch API tells the client to upload
    POST /api/{type}s/{ns}/{name}/commit/{rev}               the ndjson commit

Only `token` is accepted (401 otherwise) and only its user's namespace may be written (403 otherwise).
Every request is recorded with its headers; every commit with its files, so tests can check them.
"""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

BINARY_SUFFIXES = (".parquet", ".png", ".jpg", ".arrow")


class FakeHub:
    def __init__(self, token: str, user: str = "alice"):
        self.token, self.user = token, user
        self.repos: dict[str, dict] = {}  # "ns/name" -> {"private": bool, "branches": {name: {path: bytes}}}
        self.commits: list[dict] = []  # {"repo", "revision", "summary", "files": {path: bytes}, "deleted": [...]}
        self.requests: list[dict] = []  # {"method", "path", "headers"}
        self.lfs: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.timeout = 5
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeHub":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)

    # --- the API --------------------------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict, headers: dict, body: bytes) -> tuple[int, object]:
        if path.startswith("/lfs-upload/"):
            oid = path.rsplit("/", 1)[1]
            if hashlib.sha256(body).hexdigest() != oid:
                return 400, {"error": "sha256 mismatch"}
            self.lfs[oid] = body
            return 200, {}
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {"error": "Invalid credentials in Authorization header"}
        if method == "POST" and path == "/api/repos/create":
            data = json.loads(body)
            repo = f"{data.get('organization') or self.user}/{data['name']}"
            if not repo.startswith(self.user + "/"):
                return 403, {"error": "You don't have the rights to create a dataset under this namespace"}
            if repo in self.repos:
                return 409, {"error": "You already created this dataset repo", "url": f"{self.url}/datasets/{repo}"}
            self.repos[repo] = {"private": data.get("visibility") == "private", "type": data.get("type"),
                                "branches": {"main": {".gitattributes": b"*.parquet filter=lfs\n"}}}
            return 200, {"url": f"{self.url}/datasets/{repo}", "name": repo}
        if method == "POST" and path == "/api/validate-yaml":
            content = json.loads(body)["content"]
            if not content.startswith("---\n"):
                return 400, {"errors": [{"message": "no YAML front matter"}]}
            return 200, {"errors": [], "warnings": []}
        if path.startswith("/api/datasets/"):
            parts = path[len("/api/datasets/"):].split("/")
            repo = "/".join(parts[:2])
            if len(parts) == 2:  # repo_info, which create_repo(exist_ok=True) asks after a 401/403
                if repo not in self.repos:
                    return 404, {"error": "Repository not found"}
                return 200, {"id": repo, "private": self.repos[repo]["private"], "sha": "0" * 40}
            action, rest = parts[2], unquote("/".join(parts[3:]))
            return self._repo_api(method, repo, action, rest, query, body)
        if method == "POST" and path.startswith("/datasets/") and path.endswith(".git/info/lfs/objects/batch"):
            data = json.loads(body)
            objects = [{"oid": o["oid"], "size": o["size"], "authenticated": True,
                        "actions": {"upload": {"href": f"{self.url}/lfs-upload/{o['oid']}"}}} for o in data["objects"]]
            return 200, {"transfer": "basic", "objects": objects}
        return 404, {"error": f"no route {method} {path}"}

    def _repo_api(self, method, repo, action, rest, query, body):
        if repo not in self.repos:
            return 404, {"error": "Repository not found"}
        if not repo.startswith(self.user + "/"):
            return 403, {"error": "Forbidden"}
        branches = self.repos[repo]["branches"]
        if method == "POST" and action == "branch":
            if rest in branches:
                return 409, {"error": "Branch already exists"}
            branches[rest] = dict(branches["main"])
            return 200, {}
        if rest not in branches:
            return 404, {"error": "Invalid rev id"}
        files = branches[rest]
        if method == "GET" and action == "tree":
            return 200, [{"type": "file", "path": p, "size": len(b), "oid": hashlib.sha1(b).hexdigest()}
                         for p, b in sorted(files.items())]
        if method == "POST" and action == "preupload":
            data = json.loads(body)
            return 200, {"files": [{"path": f["path"], "shouldIgnore": False,
                                    "uploadMode": "lfs" if f["path"].endswith(BINARY_SUFFIXES) else "regular"}
                                   for f in data["files"]]}
        if method == "POST" and action == "commit":
            lines = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
            header = lines[0]["value"]
            added, deleted = {}, []
            for item in lines[1:]:
                value = item["value"]
                if item["key"] == "file":
                    added[value["path"]] = base64.b64decode(value["content"])
                elif item["key"] == "lfsFile":
                    if value["oid"] not in self.lfs:
                        return 422, {"error": f"LFS object {value['oid']} was never uploaded"}
                    added[value["path"]] = self.lfs[value["oid"]]
                elif item["key"] in ("deletedFile", "deletedFolder"):
                    deleted.append(value["path"])
            for p in deleted:
                files.pop(p, None)
            files.update(added)
            oid = hashlib.sha1(json.dumps([repo, rest, len(self.commits)]).encode()).hexdigest()
            self.commits.append({"repo": repo, "revision": rest, "summary": header["summary"], "files": added,
                                 "deleted": deleted, "oid": oid})
            return 200, {"commitUrl": f"{self.url}/datasets/{repo}/commit/{oid}", "commitOid": oid,
                         "pullRequestUrl": None}
        return 404, {"error": f"no route {method} {action}"}

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            timeout = 10  # a stuck client cannot hold a thread forever

            def _serve(self):
                url = urlparse(self.path)
                body = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                with hub._lock:
                    hub.requests.append({"method": self.command, "path": url.path, "headers": headers})
                    try:
                        status, payload = hub.handle(self.command, url.path, parse_qs(url.query), headers, body)
                    except Exception as exc:  # a bug here must show up as a 500, not a dropped connection
                        status, payload = 500, {"error": f"fake hub: {type(exc).__name__}: {exc}"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().strip().split(b";")[0], 16)
                        chunk = self.rfile.read(size)
                        self.rfile.readline()
                        if size == 0:
                            return b"".join(chunks)
                        chunks.append(chunk)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            do_GET = do_POST = do_PUT = _serve

            def log_message(self, *args):
                pass

        return Handler
