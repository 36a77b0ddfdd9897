"""A small Flask app that shows what a shipway (or Platform.sh) environment gives it."""

from __future__ import annotations

import base64
import binascii
import errno
import json
import os
from pathlib import Path

import flask
from flask import Flask, Response, jsonify, request

app = Flask(__name__)

APP_DIR = Path(os.environ.get("PLATFORM_APP_DIR") or Path(__file__).resolve().parent)
DATA_DIR = APP_DIR / "data"

SHOWN_VARIABLES = (
    "PLATFORM_APPLICATION_NAME",
    "PLATFORM_APP_DIR",
    "PLATFORM_BRANCH",
    "PLATFORM_DOCUMENT_ROOT",
    "PLATFORM_ENVIRONMENT",
    "PLATFORM_ENVIRONMENT_TYPE",
    "PLATFORM_PROJECT",
    "PLATFORM_TREE_ID",
    "SOCKET",
    "PORT",
    "GREETING",
)


def text(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/plain")


def read_data_file(name: str) -> str:
    try:
        return (DATA_DIR / name).read_text()
    except FileNotFoundError:
        return ""


def try_write(path: Path, content: str | None) -> str:
    """"ok" if `path` can be written, else the errno name (EROFS, EACCES…).

    With no content the file is only opened for appending, so a writable
    source file is left exactly as it was.
    """
    try:
        if content is None:
            os.close(os.open(path, os.O_WRONLY | os.O_APPEND))
        else:
            path.write_text(content)
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc))
    return "ok"


def decode_variable(name: str) -> object:
    """PLATFORM_ROUTES and PLATFORM_RELATIONSHIPS are base64-encoded JSON."""
    raw = os.environ.get(name)
    if raw is None:
        return None
    try:
        return json.loads(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError) as exc:
        return {"error": f"cannot decode {name}: {exc}"}


@app.get("/")
def index() -> Response:
    greeting = os.environ.get("GREETING", "hello")
    branch = os.environ.get("PLATFORM_BRANCH", "unknown branch")
    return text(f"python-flask example: {greeting}\nbranch: {branch}\n")


@app.get("/health")
def health() -> Response:
    return text("ok\n")


@app.get("/writes")
def writes() -> Response:
    return jsonify(
        code_write=try_write(APP_DIR / "app.py", None),
        mount_write=try_write(DATA_DIR / "probe.txt", "written by /writes\n"),
    )


@app.post("/notes")
def add_note() -> tuple[Response, int]:
    note = request.get_data(as_text=True)
    with open(DATA_DIR / "notes.txt", "a") as notes:
        notes.write(note if note.endswith("\n") else note + "\n")
    return jsonify(saved=len(note)), 201


@app.get("/notes")
def notes() -> Response:
    return text(read_data_file("notes.txt"))


@app.get("/deploys")
def deploys() -> Response:
    return text(read_data_file("deploys.log"))


@app.get("/env")
def env() -> Response:
    flask_file = Path(flask.__file__).resolve()
    return jsonify(
        variables={name: os.environ.get(name) for name in SHOWN_VARIABLES},
        routes=decode_variable("PLATFORM_ROUTES"),
        relationships=decode_variable("PLATFORM_RELATIONSHIPS"),
        flask_file=str(flask_file),
        flask_from_app_local=flask_file.is_relative_to(APP_DIR / ".local"),
    )
