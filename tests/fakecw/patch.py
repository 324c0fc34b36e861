"""patch.py - JSON Patch as ConnectWise takes it (connectwise-api.md section 7, section 14 row 1).

Job: check a PATCH body (a JSON array of {"op","path","value"}) and apply it to a copy
of a record.  ConnectWise's form is RFC 6902 in shape only:
  - op is add, replace or remove; test, move and copy are refused (400);
  - path is a bare, case-sensitive top-level field name; a leading "/" is tolerated;
  - a sub-path such as "workType/id" is a known trap: ConnectWise may answer 200 and
    change nothing.  The fake mimics that: the operation is skipped and reported in
    `ignored`, so a test can catch a client that sends it;
  - references and customFields are replaced whole.

Invariants: apply() never modifies its input; every problem raises PatchError with
the field it concerns; it knows nothing about HTTP.
"""

import copy

__all__ = ["PatchError", "apply"]


class PatchError(ValueError):
    """A bad PATCH body.  .field names the path concerned (may be None)."""

    def __init__(self, message, field=None, code="InvalidObject"):
        super().__init__(message)
        self.field = field
        self.code = code


def apply(record, ops, known_fields, read_only=()):
    """Return (new_record, ignored_paths).

    record: the stored dict (not modified).  ops: the parsed body.
    known_fields: the entity's top-level field names (from the schema).
    read_only: names that may not be patched (server-owned).
    """
    if not isinstance(ops, list):
        raise PatchError("PATCH body must be an array of operations")
    if not ops:
        raise PatchError("PATCH body has no operations")
    out = copy.deepcopy(record)
    ignored = []
    for i, op in enumerate(ops):
        if not isinstance(op, dict):
            raise PatchError("operation %d is not an object" % i)
        name = op.get("op")
        path = op.get("path")
        if not isinstance(name, str) or not isinstance(path, str):
            raise PatchError("operation %d needs string op and path" % i, field=None)
        name_l = name.lower()
        if name_l not in ("add", "replace", "remove"):
            raise PatchError("Unsupported patch operation '%s'" % name,
                             field=path.lstrip("/") or None, code="InvalidField")
        field = path[1:] if path.startswith("/") else path
        if field == "":
            raise PatchError("operation %d has an empty path" % i)
        if "/" in field:
            top = field.split("/", 1)[0]
            if top not in known_fields:
                raise PatchError("Unknown field '%s'" % field, field=field,
                                 code="InvalidField")
            ignored.append(field)
            continue
        if field not in known_fields:
            raise PatchError("Unknown field '%s'" % field, field=field,
                             code="InvalidField")
        if field in read_only:
            raise PatchError("The field %s cannot be updated" % field, field=field,
                             code="InvalidField")
        if name_l == "remove":
            out.pop(field, None)
            continue
        if "value" not in op:
            raise PatchError("operation %d (%s %s) has no value" % (i, name, field),
                             field=field, code="MissingRequiredField")
        out[field] = copy.deepcopy(op["value"])
    return out, ignored
