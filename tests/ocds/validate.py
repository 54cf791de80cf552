#!/usr/bin/env python3
"""Validates OCDS packages with the Open Contracting Partnership's libcoveocds, offline.

Usage: validate.py PACKAGE.json [...]

Prints one JSON object per package ({"file", "errors", "releases"|"records"}) and exits 1 if
any package has a validation error. The standard comes from tests/ocds/standard-1__1__5.zip;
the extensions a package names (the bids extension and Probity's own) are served from local
copies on loopback: each package's `extensions` is pointed at them before validation (see
ORIGIN.md), nothing else in it is changed.
"""

import functools
import http.server
import json
import pathlib
import sys
import tempfile
import threading

from libcoveocds.api import ocds_json_output
from libcoveocds.config import LIB_COVE_OCDS_CONFIG_DEFAULT, LibCoveOCDSConfig

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent


STANDARD = "https://standard.open-contracting.org/schema/1__1__5/"


def offline_standard():
    """A record package's schema names the versioned release schema by its public address:
    answer such requests from the local zip of the same standard."""
    import io
    import zipfile

    import requests

    archive = zipfile.ZipFile(HERE / "standard-1__1__5.zip")
    online_get = requests.get

    def get(url, *args, **kwargs):
        if isinstance(url, str) and url.startswith(STANDARD):
            response = requests.models.Response()
            response.status_code = 200
            response.url = url
            response.raw = io.BytesIO(archive.read("standard-1__1__5/schema/" + url[len(STANDARD):]))
            return response
        return online_get(url, *args, **kwargs)

    requests.get = get


def serve(root):
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))

    class Quiet(handler.func):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def local_extension(url, base):
    if url.endswith("/ocds_bid_extension/v1.1.5/extension.json") or url.endswith("/bid/extension.json"):
        return f"{base}/bid/extension.json"
    if url.endswith("/ocds/extension.json"):
        return f"{base}/ocds/extension.json"
    raise SystemExit(f"no local copy of the extension {url}")


def main(paths):
    if not paths:
        raise SystemExit(__doc__)
    offline_standard()
    with tempfile.TemporaryDirectory() as tmp:
        site = pathlib.Path(tmp) / "site"
        site.mkdir()
        (site / "bid").symlink_to(HERE / "bid-extension-v1.1.5")
        (site / "ocds").symlink_to(ROOT / "schemas" / "ocds")
        server = serve(site)
        base = f"http://127.0.0.1:{server.server_address[1]}"
        config = dict(
            LIB_COVE_OCDS_CONFIG_DEFAULT,
            standard_zip=(HERE / "standard-1__1__5.zip").as_uri(),
            context="api",
        )
        failed = False
        for path in paths:
            package = json.loads(pathlib.Path(path).read_text(encoding="utf-8"))
            package["extensions"] = [local_extension(u, base) for u in package.get("extensions", [])]
            work = pathlib.Path(tmp) / "work"
            work.mkdir(exist_ok=True)
            (work / "package.json").write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
            result = ocds_json_output(
                str(work), str(work / "package.json"), schema_version=None, convert=False,
                lib_cove_ocds_config=LibCoveOCDSConfig(config),
            )
            errors = result.get("validation_errors", [])
            extensions = result.get("extensions") or {}
            not_applied = sorted(extensions.get("invalid_extension") or {}) + [
                e["url"] for e in extensions.get("extensions", []) if e.get("failed_codelists")
            ]
            report = {
                "file": str(path),
                "errors": errors,
                "extensions_not_applied": not_applied,
                "releases": len(package.get("releases", [])),
                "records": len(package.get("records", [])),
            }
            print(json.dumps(report, ensure_ascii=False))
            failed |= bool(errors) or bool(report["extensions_not_applied"])
        server.shutdown()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main(sys.argv[1:])
