"""A small client of relaybot's bridge API v1, on the standard library only (urllib)."""

import json
import urllib.error
import urllib.request

API_PATH = "/bridge/cow/v1"


class BridgeError(Exception):
    """relaybot could not be reached or did not answer properly."""

    def __init__(self, message, status=0, body=None):
        super().__init__(message)
        self.status = status
        self.body = body or {}


def api_base(url):
    """``http://host:8080`` (or the full API URL) -> ``http://host:8080/bridge/cow/v1``."""
    url = (url or "").strip().rstrip("/")
    return url if url.endswith(API_PATH) else url + API_PATH


class BridgeClient:
    def __init__(self, url, token, timeout_s=30.0):
        self.base = api_base(url)
        self._token = token
        self.timeout_s = float(timeout_s)

    def _call(self, method, path, body=None, headers=None, timeout_s=None):
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method=method)
        request.add_header("Authorization", "Bearer " + self._token)
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json; charset=utf-8")
        for key, value in (headers or {}).items():
            request.add_header(key, value)
        try:
            with urllib.request.urlopen(request, timeout=timeout_s or self.timeout_s) as answer:
                raw = answer.read()
        except urllib.error.HTTPError as exc:
            try:
                parsed = json.loads(exc.read() or b"{}")
            except ValueError:
                parsed = {}
            raise BridgeError(f"relaybot answered HTTP {exc.code}", exc.code, parsed) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise BridgeError(f"relaybot cannot be reached: {exc}") from None
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            raise BridgeError("relaybot's answer is not JSON") from None

    def post_message(self, body):
        """POST /messages; a network error or a 5xx is tried once more with the same
        message_id (relaybot answers a message once and gives the same reply again)."""
        headers = {"Idempotency-Key": body["message_id"]}
        try:
            return self._call("POST", "/messages", body, headers)
        except BridgeError as exc:
            if exc.status and exc.status < 500:
                raise
        return self._call("POST", "/messages", body, headers)

    def outbox(self, wait=25, limit=20):
        path = f"/outbox?wait={wait:g}&limit={int(limit)}"
        answer = self._call("GET", path, timeout_s=float(wait) + self.timeout_s)
        return answer.get("deliveries") or []

    def ack(self, delivery_ids, results=None):
        body = {"delivery_ids": list(delivery_ids), "results": results or {}}
        return self._call("POST", "/outbox/ack", body)

    def health(self):
        return self._call("GET", "/health")

    def download(self, url, limit_bytes):
        """The bytes behind a (signed) media link, at most ``limit_bytes``."""
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as answer:
                data = answer.read(limit_bytes + 1)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            raise BridgeError(f"cannot download {url.split('?')[0]}: {exc}") from None
        if len(data) > limit_bytes:
            raise BridgeError("file too large")
        return data
