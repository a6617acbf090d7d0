package org.referralhub.fhirvalidator;

import ca.uhn.fhir.context.FhirContext;
import java.util.HashMap;
import java.util.Map;
import org.hl7.fhir.common.hapi.validation.support.PrePopulatedValidationSupport;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Questionnaire;

/**
 * The hub's own definitions. HAPI's pre-populated support keeps StructureDefinitions, CodeSystems
 * and ValueSets only; a QuestionnaireResponse is validated against its Questionnaire, which this
 * class also keeps and serves by canonical URL.
 */
final class HubDefinitions extends PrePopulatedValidationSupport {
  private final Map<String, Questionnaire> questionnaires = new HashMap<>();

  HubDefinitions(FhirContext context) {
    super(context);
  }

  @Override
  public void addResource(IBaseResource resource) {
    if (resource instanceof Questionnaire questionnaire) {
      questionnaires.put(questionnaire.getUrl(), questionnaire);
    } else {
      super.addResource(resource);
    }
  }

  @Override
  public <T extends IBaseResource> T fetchResource(Class<T> type, String uri) {
    Questionnaire questionnaire = questionnaires.get(uri);
    if (questionnaire != null && (type == null || type.isInstance(questionnaire))) {
      @SuppressWarnings("unchecked")
      T found = (T) questionnaire;
      return found;
    }
    return super.fetchResource(type, uri);
  }
}
