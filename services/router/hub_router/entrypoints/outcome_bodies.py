"""The `outputs` of `$update-status`: what came of a referral, as the HTTP body gives it.

Each body is checked field by field here and then once more as the domain object it becomes
(hub_common.fhir.task_outputs), so a wrong answer is a 422 naming the item, never a 500 later.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from hub_common.fhir.needs import NeedCategory
from hub_common.fhir.task_outputs import (
    MAX_SERVICE_CHARS,
    InvalidOutputs,
    Outcomes,
    SupportKind,
    SupportOffered,
)
from hub_common.fhir.wellbeing import Instrument, InvalidMeasure, Timepoint, WellbeingMeasure
from hub_common.storage.stored_text import StorableText

ItemCode = Annotated[str, Field(pattern=r"^[a-z][a-z\-]{0,39}$")]


class MeasureBody(BaseModel):
    """One wellbeing measure: an instrument's answers at first contact or at closure."""

    model_config = ConfigDict(populate_by_name=True)

    instrument: Instrument = Field(description="ons4 (four items, 0-10) or swemwbs (seven, 1-5)")
    when: Timepoint = Field(description="first-contact or closure")
    taken_at: AwareDatetime = Field(
        alias="takenAt", description="When the person answered, with its time zone"
    )
    answers: dict[ItemCode, int] = Field(
        max_length=7,
        description="Item code -> score, every item of the instrument once: ons4 satisfied, "
        "worthwhile, happy, anxious; swemwbs optimistic, useful, relaxed, problems, clearly, "
        "close, own-mind (schemas/fhir/Questionnaire-<instrument>.json)",
    )

    @model_validator(mode="after")
    def fits_its_instrument(self) -> Self:
        self.to_domain()
        return self

    def to_domain(self) -> WellbeingMeasure:
        try:
            return WellbeingMeasure(
                self.instrument, self.when, self.taken_at, tuple(self.answers.items())
            )
        except InvalidMeasure as error:
            raise ValueError(f"answers.{error.field}: {error}") from None


class SupportBody(BaseModel):
    """A service or activity the person was referred or signposted to, or attended."""

    model_config = ConfigDict(populate_by_name=True)

    need: NeedCategory = Field(description="The need it meets (hub need-category code)")
    kind: SupportKind = Field(description="referred, signposted or attended")
    service: StorableText = Field(
        min_length=1, max_length=MAX_SERVICE_CHARS, description="The service's or activity's name"
    )
    service_id: str | None = Field(
        default=None,
        alias="serviceId",
        pattern=r"^[A-Za-z0-9\-.]{1,64}$",
        description="The service's HealthcareService id in the hub's directory, when it has one",
    )

    def to_domain(self) -> SupportOffered:
        return SupportOffered(self.need, self.kind, self.service, self.service_id)


class OutputsBody(BaseModel):
    """What came of the referral (Task.output, with contained FHIR resources)."""

    model_config = ConfigDict(populate_by_name=True)

    outcome: StorableText | None = Field(
        default=None, min_length=1, max_length=500, description="A summary of the outcome, in words"
    )
    measures: list[MeasureBody] = Field(
        default_factory=list,
        max_length=4,
        description="Wellbeing measures (each instrument at most once per moment); the whole "
        "list replaces the one recorded before, so send the earlier ones again",
    )
    support_offered: list[SupportBody] = Field(
        default_factory=list,
        alias="supportOffered",
        max_length=50,
        description="Support offered, coded; the whole list replaces the one recorded before",
    )

    @model_validator(mode="after")
    def fits_together(self) -> Self:
        self.to_domain()
        return self

    def to_domain(self) -> Outcomes:
        try:
            return Outcomes(
                self.outcome,
                tuple(m.to_domain() for m in self.measures),
                tuple(s.to_domain() for s in self.support_offered),
            )
        except InvalidOutputs as error:
            raise ValueError(f"{error.field}: {error}") from None
