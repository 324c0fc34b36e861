"""cwschema.py - check requests and replies against the OpenAPI subset with jsonschema.

Job: connectwise-api.md section 15 (RELIABILITY.md test E11).  Loads
schema/cw-time-subset.openapi.json, makes the three adjustments that section lists
(nullable -> type union and null in enum; #/components/schemas refs resolved against the
whole document; PatchOperation.value and CustomFieldValue.value accept any JSON), and
checks formats separately (date-time must end in Z, uuid).  Error bodies are checked
against ErrorResponseMessage, whose `errors` may also be null (section 9); the 429 body
({"error","message"}) is exempt.

    import cwschema
    problems = cwschema.check_log_record(rec)   # [] when the record is clean

Needs python3-jsonschema (Debian 12: 4.10).  Pure functions; no I/O after loading.
"""

import json
import os
import re

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
SCHEMA_FILE = os.path.join(HERE, "schema", "cw-time-subset.openapi.json")
API_PREFIX_RE = re.compile(r"^/(v4_6_release|v\d{4}_\d+)/apis/3\.0(/.*)$")
DT_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                     r"[0-9a-fA-F]{12}$")
VERSION_RE = re.compile(r"version=\d{4}\.\d+")


def _convert(node):
    """OpenAPI 3.0 schema -> JSON Schema (draft 4 family)."""
    if isinstance(node, list):
        return [_convert(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {k: _convert(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = list(out["enum"]) + [None]
        if "$ref" in out:
            out = {"anyOf": [{"$ref": out.pop("$ref")}, {"type": "null"}]}
    return out


def _load():
    with open(SCHEMA_FILE, encoding="utf-8") as f:
        doc = json.load(f)
    conv = _convert(doc)
    schemas = conv["components"]["schemas"]
    schemas["PatchOperation"]["properties"]["value"] = {}
    schemas["CustomFieldValue"]["properties"]["value"] = {}
    schemas["ErrorResponseMessage"]["properties"]["errors"]["type"] = ["array", "null"]
    return doc, conv


def _strip_required(node):
    if isinstance(node, list):
        return [_strip_required(x) for x in node]
    if not isinstance(node, dict):
        return node
    return {k: _strip_required(v) for k, v in node.items() if k != "required"}


DOC, CONV = _load()
# partial replies (the `fields` parameter) leave out required fields
CONV_PARTIAL = _strip_required(CONV)
_RESOLVER = jsonschema.RefResolver.from_schema(CONV)
_RESOLVER_PARTIAL = jsonschema.RefResolver.from_schema(CONV_PARTIAL)
_FORMATS = jsonschema.FormatChecker(formats=())


@_FORMATS.checks("date-time")
def _is_dt(value):
    return not isinstance(value, str) or bool(DT_RE.match(value))


@_FORMATS.checks("uuid")
def _is_uuid(value):
    return not isinstance(value, str) or bool(UUID_RE.match(value))


_TEMPLATES = []
for _p, _ops in CONV["paths"].items():
    _rx = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", r"[0-9]+", re.escape(_p)) + "$")
    _TEMPLATES.append((_rx, _p, _ops))


def operation(method, relpath):
    """(template, operation object) for a request below the API base, or (None, None)."""
    for rx, tmpl, ops in _TEMPLATES:
        if rx.match(relpath):
            return tmpl, ops.get(method.lower())
    return None, None


def validate(schema, value, partial=False):
    """List of problem strings (empty when valid).  partial: ignore `required`."""
    v = jsonschema.Draft4Validator(schema, resolver=_RESOLVER_PARTIAL if partial
                                   else _RESOLVER, format_checker=_FORMATS)
    return ["%s: %s" % ("/".join(str(p) for p in e.absolute_path) or "(root)", e.message)
            for e in v.iter_errors(value)]


def schema_ref(name):
    return {"$ref": "#/components/schemas/%s" % name}


def check_request(method, relpath, body, headers):
    """Problems with one request: unknown operation, body not per schema, clientId,
    Authorization or the Accept version missing."""
    out = []
    tmpl, op = operation(method, relpath)
    if op is None:
        return ["%s %s is not an operation of the subset" % (method, relpath)]
    hl = {k.lower(): v for k, v in (headers or {}).items()}
    if not hl.get("clientid"):
        out.append("clientId header missing")
    if not hl.get("authorization", "").startswith("Basic "):
        out.append("Authorization: Basic missing")
    if not VERSION_RE.search(hl.get("accept", "")):
        out.append("Accept header without version=YYYY.N")
    rb = op.get("requestBody")
    if rb is None:
        if body not in (None, b"", ""):
            out.append("%s %s takes no body" % (method, tmpl))
        return out
    if body is None:
        if rb.get("required"):
            out.append("%s %s needs a body" % (method, tmpl))
        return out
    schema = rb["content"]["application/json"]["schema"]
    out.extend("request: " + p for p in validate(schema, body))
    return out


def check_response(method, relpath, status, body, partial=False):
    """Problems with one reply body.  partial: the request asked for `fields`."""
    tmpl, op = operation(method, relpath)
    if status == 429:
        if not (isinstance(body, dict) and "message" in body):
            return ["429 body without message"]
        return []
    if status >= 400 or op is None:
        if body is None:
            return []   # non-JSON error bodies (HTML from a proxy) are not checked
        return ["error reply: " + p for p in validate(schema_ref("ErrorResponseMessage"),
                                                      body)]
    resp = op["responses"].get(str(status))
    if resp is None:
        return ["%s %s: status %d is not declared" % (method, tmpl, status)]
    content = resp.get("content")
    if not content:
        return [] if body is None else ["%s %s %d must have no body"
                                        % (method, tmpl, status)]
    schema = next(iter(content.values()))["schema"]
    return ["reply: " + p for p in validate(schema, body, partial)]


def check_log_record(rec, replies_too=True):
    """Problems with one line of the fake's request log (requests outside the API,
    such as /login/companyinfo, are skipped)."""
    m = API_PREFIX_RE.match(rec.get("path", ""))
    if not m:
        return []
    rel = m.group(2)
    if rel.split("/")[1:2] in (["service"], ["project"], ["system"], ["company"]):
        return []
    out = check_request(rec["method"], rel, rec.get("body"), rec.get("headers"))
    if replies_too and rec.get("status") is not None and rec.get("outcome") in (
            "replied", "fault", None):
        out.extend(check_response(rec["method"], rel, rec["status"], rec.get("response"),
                                  partial=bool((rec.get("query") or {}).get("fields"))))
    return out
