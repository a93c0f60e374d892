"""``dip-heal serve``: the picking page served on 127.0.0.1, with a Pick button.

The page is the one of ``dip-heal sheet --html`` (:mod:`dip_heal.runs.page`), its data loaded
lazily from this server: thumbnails and full-resolution values are read from the run folder
when the browser asks for them, so a sweep of any size opens at once. The Pick button POSTs
``{"trial": T, "iteration": K}`` to ``/pick``; the server writes the healed frame with
:func:`dip_heal.runs.picks.pick` (the code of ``dip-heal pick RUN --trial T --iter K``) and
answers with the paths written.

Only requests addressed to this server's own host name are answered (no DNS rebinding), and
``/pick`` takes JSON only (a form on another web site cannot send it).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..errors import DipHealError
from .page import PageData, data_key, frame_script, page_data, render_page, snapshot_script, thumbnail_png
from .picks import pick

__all__ = ["PageServer", "make_server"]

logger = logging.getLogger(__name__)

_FILES = "sheet_files/"


class PageServer(ThreadingHTTPServer):
    """An HTTP server of one sweep's picking page.

    Attributes
    ----------
    run_dir : Path
    url : str
        ``http://127.0.0.1:PORT/``.
    """

    daemon_threads = True

    def __init__(self, run_dir: str | os.PathLike, *, port: int = 0, host: str = "127.0.0.1",
                 thumb_px: int = 96, storage: str | None = None, out_dir: str | os.PathLike | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.storage = storage
        self.thumb_px = thumb_px
        self.out_dir = out_dir
        self.lock = threading.Lock()
        self._data = page_data(self.run_dir, storage=storage)  # fails here, before listening, on a bad RUN
        try:
            super().__init__((host, port), _Handler)
        except OSError as exc:
            raise DipHealError(f"cannot listen on {host}:{port} ({exc.strerror or exc}); expected a free port; "
                               "pass another --port (0 picks a free one)") from None
        self.url = f"http://{host}:{self.server_address[1]}/"

    def data(self, reload: bool = False) -> PageData:
        """The sweep as the page shows it; ``reload`` re-reads the study (new trials of a running sweep)."""
        with self.lock:
            if reload:
                self._data = page_data(self.run_dir, storage=self.storage)
            return self._data

    def page(self) -> str:
        data = self.data(reload=True)
        keys = [data_key(t.number, int(s["iteration"])) for t in data.trials for s in t.snapshots]
        thumbs = {k: f"{_FILES}thumbs/{k}.png" for k in keys}
        return render_page(data, mode="serve", files=_FILES, thumbs=thumbs)

    def pick(self, body: dict[str, Any]) -> dict[str, Any]:
        """Write the healed frame of ``body["trial"]`` at ``body["iteration"]`` (:func:`dip_heal.runs.picks.pick`)."""
        try:
            trial, iteration = int(body["trial"]), int(body["iteration"])
        except (KeyError, TypeError, ValueError):
            raise DipHealError(f"pick request {body!r}; expected {{\"trial\": T, \"iteration\": K}}") from None
        with self.lock:
            res = pick(self.run_dir, trial=trial, iteration=iteration, storage=self.storage, out_dir=self.out_dir)
        logger.info("%s", res)
        return {"trial": res.trial, "iteration": res.iteration, "val_l1": res.val_l1, "healed": str(res.healed_path),
                "float32": str(res.float32_path), "preview": str(res.preview_path), "message": str(res)}


def make_server(run_dir: str | os.PathLike, *, port: int = 0, thumb_px: int = 96, storage: str | None = None,
                out_dir: str | os.PathLike | None = None) -> PageServer:
    """A :class:`PageServer` of the sweep in ``run_dir`` on 127.0.0.1 (``port`` 0: a free one); call
    ``serve_forever()`` on it (and ``shutdown()`` from another thread to stop it).

    Raises
    ------
    DipHealError
        Not a sweep run folder, no snapshots yet, the port taken.
    """
    return PageServer(run_dir, port=port, thumb_px=thumb_px, storage=storage, out_dir=out_dir)


class _Handler(BaseHTTPRequestHandler):
    server: PageServer
    server_version = "dip-heal"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        logger.debug("%s %s", self.address_string(), format % args)

    def _send(self, code: int, body: bytes, ctype: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, obj: dict[str, Any]) -> None:
        self._send(code, json.dumps(obj).encode(), "application/json")

    def _own_host(self) -> bool:
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        return host in ("127.0.0.1", "localhost", self.server.server_address[0])

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if not self._own_host():
            return self._json(403, {"error": "this server answers only requests to 127.0.0.1"})
        path = urlsplit(self.path).path
        try:
            if path in ("/", "/index.html", "/sheet.html"):
                return self._send(200, self.server.page().encode("utf-8"), "text/html; charset=utf-8")
            if path.startswith("/" + _FILES):
                name = path[len(_FILES) + 1:]
                data = self.server.data()
                if name == "frame.js":
                    return self._send(200, frame_script(data).encode(), "text/javascript")
                if name.startswith("thumbs/") and name.endswith(".png"):
                    info, it = data.key_info(name[len("thumbs/"):-len(".png")])
                    png = thumbnail_png(data, info, it, self.server.thumb_px)
                    if png is None:
                        return self._json(404, {"error": f"snapshot {name} is not stored here"})
                    return self._send(200, png, "image/png")
                if name.endswith(".js"):
                    return self._send(200, snapshot_script(data, name[:-3]).encode(), "text/javascript")
            return self._json(404, {"error": f"no such page: {path}"})
        except DipHealError as exc:
            return self._json(404, {"error": str(exc)})

    def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
        if not self._own_host():
            return self._json(403, {"error": "this server answers only requests to 127.0.0.1"})
        if urlsplit(self.path).path != "/pick":
            return self._json(404, {"error": f"no such action: {self.path}"})
        if (self.headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            return self._json(415, {"error": "expected a JSON body (Content-Type: application/json)"})
        try:
            n = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(min(n, 1 << 16)) or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return self._json(400, {"error": "expected a JSON object {\"trial\": T, \"iteration\": K}"})
        try:
            return self._json(200, self.server.pick(body))
        except DipHealError as exc:
            return self._json(400, {"error": str(exc)})
        except Exception as exc:  # the server keeps running; the page shows the error
            logger.exception("pick failed")
            return self._json(500, {"error": f"{type(exc).__name__}: {exc}"})
