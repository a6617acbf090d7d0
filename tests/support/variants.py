"""The agency examples, and variants of them: renamed (fresh references), messy but valid,
and unacceptable (consent withdrawn)."""

from __future__ import annotations

import json

from tests.support.fixtures import inbound

EXAMPLES = {
    "community": "community-referral.json",
    "police": "police-vulnerability-referral.json",
    "fire": "fire-safe-and-well.json",
    "housing": "housing-tenancy-referrals.csv",
    "fhir": "gp-servicerequest-bundle.json",
}

REFERENCES = {
    "community": ["CVA-2026-000187"],
    "police": ["CAD-4412-23NOV26"],
    "fire": ["SWV-2026-88231"],
    "housing": ["CLN-77812", "WHA-00931"],
    "fhir": ["H85001-2026-004512"],
}


def example(source: str, tag: str = "") -> bytes:
    """The source's example with every referrer reference suffixed by `tag` (fresh referrals)."""
    text = inbound(EXAMPLES[source]).decode("utf-8-sig")
    for reference in REFERENCES[source]:
        text = text.replace(reference, f"{reference}{tag}")
    return text.encode()


def references(source: str, tag: str = "") -> list[str]:
    return [f"{reference}{tag}" for reference in REFERENCES[source]]


def messy(source: str, tag: str) -> bytes:
    """Valid but untidy, as real agencies send: lower-case postcodes, UK dates, BOM and CRLF."""
    body = example(source, tag).decode()
    if source == "housing":
        return (
            ("\ufeff" + body.replace("SW18 4EQ", " sw18 4eq ").replace("1984-09-30", "30/09/1984"))
            .replace("\n", "\r\n")
            .encode()
        )
    return (
        body.replace('"CR7 8RS"', '"cr7  8rs"')
        .replace('"CR0 2AB"', '" cr0 2ab "')
        .replace('"1972-07-08"', '"08/07/1972"')
        .replace('"1961-04-12"', '"12/04/1961"')
        .replace('"999 526 0182"', '"999-526-0182"')
        .encode()
    )


def without_consent(source: str, tag: str) -> bytes:
    """The same referral made unacceptable: no recorded consent to share."""
    body = example(source, tag)
    if source == "housing":
        return body.replace(b",Y,", b",N,")
    text = body.decode()
    for good, bad in (
        ('"consent": true', '"consent": false'),
        ('"given": true', '"given": false'),
        ('"consent_to_share": "yes"', '"consent_to_share": "no"'),
    ):
        text = text.replace(good, bad)
    if source == "fhir":
        document = json.loads(text)
        document["entry"] = [
            e for e in document["entry"] if e["resource"]["resourceType"] != "Consent"
        ]
        text = json.dumps(document)
    return text.encode()
