package org.referralhub.fhirvalidator;

import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationOptions;
import ca.uhn.fhir.validation.ValidationResult;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.utilities.npm.NpmPackage;

/**
 * A FHIR R4 validator that stays up: HAPI's FhirInstanceValidator with the base R4 definitions
 * plus the conformance resources it is given, answering one line of JSON per line of JSON.
 *
 * <pre>
 * java -cp 'fhir-validator.jar:lib/*' org.referralhub.fhirvalidator.Main \
 *     [--definitions DIR]... [--package PACKAGE.tgz]... [--unknown-profiles error|warning]
 * </pre>
 *
 * <p>{@code --definitions} loads every {@code *.json} conformance resource in a folder (the
 * hub's own schemas/fhir); {@code --package} loads an NPM FHIR package such as UK Core;
 * {@code --unknown-profiles warning} reports a meta.profile it does not have as a warning
 * rather than an error (for profiles whose package is not loaded yet). Once
 * loaded it prints {@code {"ready":true,"definitions":N}}. Then each input line is a request
 * {@code {"resource":{...},"profiles":["..."]}} (profiles optional: the resource's own
 * meta.profile always counts) and each answer line is {@code {"issues":[{"severity",
 * "location","message","messageId","line","column"}]}}, or {@code {"failure":"..."}} when the
 * request itself could not be read. Standard output carries nothing else; logs go to standard
 * error. The process ends at end of input.
 */
public final class Main {
  private static final ObjectMapper JSON = new ObjectMapper();

  private Main() {}

  public static void main(String[] args) throws IOException {
    // Keep the protocol stream clean whatever a library prints.
    PrintStream answers = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    System.setOut(System.err);

    FhirContext context = FhirContext.forR4Cached();
    HubDefinitions definitions = new HubDefinitions(context);
    int loaded = 0;
    boolean errorForUnknownProfiles = true;
    for (int i = 0; i < args.length; i++) {
      String option = args[i];
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(option + " needs a value");
      }
      String value = args[++i];
      switch (option) {
        case "--definitions" -> loaded += loadFolder(context, definitions, Path.of(value));
        case "--package" -> loaded += loadPackage(context, definitions, Path.of(value));
        case "--unknown-profiles" -> errorForUnknownProfiles = !value.equals("warning");
        default -> throw new IllegalArgumentException("unknown option " + option);
      }
    }

    ValidationSupportChain chain =
        new ValidationSupportChain(
            new DefaultProfileValidationSupport(context),
            definitions,
            new CommonCodeSystemsTerminologyService(context),
            new InMemoryTerminologyServerValidationSupport(context),
            new SnapshotGeneratingValidationSupport(context));
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    module.setErrorForUnknownProfiles(errorForUnknownProfiles);
    FhirValidator validator = context.newValidator().registerValidatorModule(module);

    ObjectNode ready = JSON.createObjectNode();
    ready.put("ready", true);
    ready.put("definitions", loaded);
    answers.println(JSON.writeValueAsString(ready));

    BufferedReader requests =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    while ((line = requests.readLine()) != null) {
      if (line.isBlank()) {
        continue;
      }
      answers.println(JSON.writeValueAsString(answer(validator, line)));
    }
  }

  private static ObjectNode answer(FhirValidator validator, String line) {
    ObjectNode answer = JSON.createObjectNode();
    try {
      JsonNode request = JSON.readTree(line);
      JsonNode resource = request.get("resource");
      if (resource == null || !resource.isObject()) {
        answer.put("failure", "a request needs a `resource` object");
        return answer;
      }
      ValidationOptions options = new ValidationOptions();
      for (JsonNode profile : request.path("profiles")) {
        options.addProfile(profile.asText());
      }
      ValidationResult result =
          validator.validateWithResult(JSON.writeValueAsString(resource), options);
      ArrayNode issues = answer.putArray("issues");
      for (SingleValidationMessage message : result.getMessages()) {
        ObjectNode issue = issues.addObject();
        issue.put("severity", message.getSeverity().getCode());
        issue.put("location", message.getLocationString());
        issue.put("message", message.getMessage());
        issue.put("messageId", message.getMessageId());
        if (message.getLocationLine() != null) {
          issue.put("line", message.getLocationLine());
        }
        if (message.getLocationCol() != null) {
          issue.put("column", message.getLocationCol());
        }
      }
    } catch (IOException | RuntimeException error) {
      answer.removeAll();
      answer.put("failure", error.getClass().getSimpleName() + ": " + error.getMessage());
    }
    return answer;
  }

  private static int loadFolder(
      FhirContext context, HubDefinitions definitions, Path folder)
      throws IOException {
    List<Path> files = new ArrayList<>();
    try (Stream<Path> listing = Files.list(folder)) {
      listing.filter(p -> p.toString().endsWith(".json")).sorted().forEach(files::add);
    }
    for (Path file : files) {
      try (InputStream input = Files.newInputStream(file)) {
        definitions.addResource(parse(context, input, file.toString()));
      }
    }
    return files.size();
  }

  private static int loadPackage(
      FhirContext context, HubDefinitions definitions, Path tarball)
      throws IOException {
    NpmPackage npm;
    try (InputStream input = Files.newInputStream(tarball)) {
      npm = NpmPackage.fromPackage(input);
    }
    int count = 0;
    for (String name : npm.list("package")) {
      if (!name.endsWith(".json") || name.equals("package.json") || name.startsWith(".")) {
        continue;
      }
      try (InputStream input = npm.load("package", name)) {
        IBaseResource resource = parse(context, input, name);
        String type = context.getResourceType(resource);
        if (List.of("StructureDefinition", "CodeSystem", "ValueSet").contains(type)) {
          definitions.addResource(resource);
          count++;
        }
      }
    }
    return count;
  }

  private static IBaseResource parse(FhirContext context, InputStream input, String name) {
    try {
      return context.newJsonParser().parseResource(input);
    } catch (RuntimeException error) {
      throw new IllegalArgumentException(name + ": " + error.getMessage(), error);
    }
  }
}
