"""Pure helpers over Clever record dicts: API-version shapes, relations, display names."""

import json

# Fields Clever's v3.1 Swagger has and v3.0's does not (sandbox/spec/v3.0.yml vs sandbox/spec/v3.1.yml).
V31_ONLY_USER_FIELDS = {"lms_status"}
V31_ONLY_STUDENT_FIELDS = {
    "disability",
    "frl_status",
    "gifted_status",
    "home_language",
    "home_language_code",
    "iep_status",
    "preferred_name",
    "section_504_status",
}
V31_ONLY_SECTION_FIELDS = {"lms_status"}
V31_ONLY_DISTRICT_FIELDS = {"lms_state", "lms_type", "last_attendance_sync"}

ROLE_NAMES = ("student", "teacher", "staff", "district_admin", "contact")


def dumps(data) -> str:
    """The one serialization every stored body uses (compact, key order kept)."""
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def to_v30(record_type: str, data: dict) -> dict:
    """The v3.0 shape of a v3.1 record (v3.1-only fields dropped)."""
    if record_type == "users":
        out = {k: v for k, v in data.items() if k not in V31_ONLY_USER_FIELDS}
        student = out.get("roles", {}).get("student")
        if student is not None:
            out["roles"] = dict(out["roles"])
            out["roles"]["student"] = {k: v for k, v in student.items() if k not in V31_ONLY_STUDENT_FIELDS}
        return out
    if record_type == "sections":
        return {k: v for k, v in data.items() if k not in V31_ONLY_SECTION_FIELDS}
    if record_type == "districts":
        return {k: v for k, v in data.items() if k not in V31_ONLY_DISTRICT_FIELDS}
    return data


def role_flags(data: dict) -> dict:
    roles = data.get("roles") or {}
    return {f"is_{name}": name in roles for name in ROLE_NAMES}


def display_name(data: dict) -> str:
    name = data.get("name")
    if isinstance(name, dict):
        return " ".join(p for p in (name.get("first"), name.get("last")) if p) or ""
    return str(name or "")


def edges(record_type: str, data: dict) -> list[tuple[str, str]]:
    """(rel, target id) pairs for the nested endpoints; deduplicated, order kept."""
    if record_type == "users":
        pairs = _user_edges(data)
    elif record_type == "sections":
        pairs = _section_edges(data)
    else:
        pairs = []
    return list(dict.fromkeys(pairs))


def _user_edges(data: dict) -> list[tuple[str, str]]:
    """A user's schools (per role) and, for a contact, the students they are related to."""
    pairs: list[tuple[str, str]] = []
    roles = data.get("roles") or {}
    for role_name in ("student", "teacher", "staff"):
        role = roles.get(role_name)
        if role:
            for school in role.get("schools") or ([role["school"]] if role.get("school") else []):
                pairs.append(("schools", school))
    contact = roles.get("contact")
    if contact:
        for relationship in contact.get("student_relationships") or []:
            if relationship.get("student"):
                pairs.append(("students", relationship["student"]))
    return pairs


def _section_edges(data: dict) -> list[tuple[str, str]]:
    pairs = [("students", s) for s in data.get("students") or []]
    pairs += [("teachers", t) for t in data.get("teachers") or []]
    for rel, key in (("school", "school"), ("term", "term_id"), ("course", "course")):
        if data.get(key):
            pairs.append((rel, data[key]))
    return pairs


def schools_of(record_type: str, data: dict) -> list[str]:
    """The schools a record belongs to (for the Events ``school`` filter)."""
    if record_type == "schools":
        return [data["id"]]
    if record_type == "sections":
        return [data["school"]] if data.get("school") else []
    return [dst for rel, dst in edges(record_type, data) if rel == "schools"]


def previous_attributes(old: dict, new: dict) -> dict:
    """Clever's ``previous_attributes``: the old values of every top-level key that changed.

    A key the record did not have before shows as null (it was unset); empty means no change.
    """
    return {
        key: old.get(key)
        for key in sorted(old.keys() | new.keys())
        if key != "last_modified" and (key not in old or key not in new or old[key] != new[key])
    }
