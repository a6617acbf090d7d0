"""Finding things in FHIR R4 JSON from outside, without trusting its shape.

Every helper tolerates any JSON value where FHIR promises a structure: the adapter reports
what is missing, so nothing here may raise.
"""

from __future__ import annotations

from typing import Any

Resource = dict[str, Any]


def objects(value: Any) -> list[Resource]:
    """The objects of a FHIR list element; a lone object is read as a list of one."""
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def preferred(value: Any, uses: tuple[str, ...]) -> Resource:
    """The first element whose `use` is one of `uses`, else the first not marked old."""
    items = objects(value)
    current = [item for item in items if item.get("use") != "old"] or items
    return next(
        (item for item in current if item.get("use") in uses), current[0] if current else {}
    )


def words(value: Any, separator: str = " ") -> Any:
    """A list of strings (`given`, `line`) joined; anything else as it is, for the reader to judge."""
    if isinstance(value, list):
        return separator.join(item.strip() for item in value if isinstance(item, str)) or None
    return value


def identifier_value(value: Any, system: str) -> Any:
    """The value of the first identifier in `system` (an Identifier or a list of them)."""
    return next(
        (item.get("value") for item in objects(value) if item.get("system") == system), None
    )


def telecom_value(value: Any, *systems: str) -> Any:
    return next(
        (item.get("value") for item in objects(value) if item.get("system") in systems), None
    )


def human_name(value: Any) -> str | None:
    """A HumanName (or list of them) as display text."""
    name = preferred(value, ("official", "usual"))
    if isinstance(name.get("text"), str) and name["text"].strip():
        return str(name["text"]).strip()
    parts = [words(name.get("prefix")), words(name.get("given")), name.get("family")]
    return (
        " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip()) or None
    )


def extension_value(value: Any, name: str) -> Any:
    """The value[x] of the first extension, at any depth, whose URL ends with `name`."""
    for extension in objects(value):
        url = extension.get("url")
        if isinstance(url, str) and url.rsplit("/", 1)[-1] == name:
            return next((v for k, v in extension.items() if k.startswith("value")), None)
        found = extension_value(extension.get("extension"), name)
        if found is not None:
            return found
    return None


class ResourceSet:
    """The resources of one message (Bundle entries, contained resources) and references."""

    def __init__(self, entries: list[tuple[Any, Resource]], contained: list[Resource]) -> None:
        self._entries = entries
        self._contained = contained

    def of_type(self, resource_type: str) -> list[Resource]:
        everything = [resource for _, resource in self._entries] + self._contained
        return [
            resource for resource in everything if resource.get("resourceType") == resource_type
        ]

    def resolve(self, reference: Any) -> Resource | None:
        """The resource a Reference points at: `#id` (contained), a fullUrl, or `Type/id`."""
        target = reference.get("reference") if isinstance(reference, dict) else None
        if not isinstance(target, str) or not target.strip():
            return None
        target = target.strip()
        if target.startswith("#"):
            return next((r for r in self._contained if r.get("id") == target[1:]), None)
        for full_url, resource in self._entries:
            typed = f"{resource.get('resourceType')}/{resource.get('id')}"
            if full_url == target or (
                isinstance(resource.get("id"), str) and f"/{target}".endswith(f"/{typed}")
            ):
                return resource
            # A relative reference resolves against the absolute fullUrl of its target.
            if isinstance(full_url, str) and full_url.endswith(f"/{target}"):
                return resource
        return None
