{{/* What differs between the four processes: their own environment. */}}

{{- define "hub.env.intake" -}}
{{ include "hub.infraEnv" (dict "root" . "user" "intake") }}
- name: INTAKE_HTTP_HOST
  value: "0.0.0.0"
- name: INTAKE_HTTP_PORT
  value: {{ .Values.intake.port | quote }}
- name: INTAKE_NOTIFIER_URL
  value: {{ .Values.intake.notifierUrl | required "intake.notifierUrl" | quote }}
{{- include "hub.envMap" .Values.intake.env }}
{{- end -}}

{{- define "hub.env.router" -}}
{{ include "hub.infraEnv" (dict "root" . "user" "router") }}
- name: ROUTER_HTTP_HOST
  value: "0.0.0.0"
- name: ROUTER_HTTP_PORT
  value: {{ .Values.router.port | quote }}
{{- if .Values.region.districtCentroids }}
- name: HUB_DISTRICT_CENTROIDS
  value: /etc/referral-hub/region/district-centroids.csv
{{- end }}
{{- include "hub.envMap" .Values.router.env }}
{{- end -}}

{{- define "hub.env.notifier" -}}
{{- $smtp := .Values.notifier.smtp -}}
{{ include "hub.infraEnv" (dict "root" . "user" "notifier") }}
- name: NOTIFIER_HTTP_HOST
  value: "0.0.0.0"
- name: NOTIFIER_HTTP_PORT
  value: {{ .Values.notifier.port | quote }}
- name: NOTIFIER_PUBLIC_URL
  value: {{ .Values.notifier.publicUrl | required "notifier.publicUrl" | quote }}
- name: HUB_WEB_URL
  value: {{ .Values.webUrl | required "webUrl" | quote }}
- name: NOTIFIER_SMTP_HOST
  value: {{ $smtp.host | required "notifier.smtp.host: the mail relay for referrers' e-mails" | quote }}
- name: NOTIFIER_SMTP_PORT
  value: {{ $smtp.port | quote }}
- name: NOTIFIER_SMTP_SENDER
  value: {{ $smtp.sender | required "notifier.smtp.sender" | quote }}
- name: NOTIFIER_SMTP_STARTTLS
  value: {{ $smtp.starttls | quote }}
{{- if $smtp.username }}
- name: NOTIFIER_SMTP_USERNAME
  value: {{ $smtp.username | quote }}
{{ include "hub.secretEnv" (dict "root" . "name" "NOTIFIER_SMTP_PASSWORD" "key" "smtpPassword") }}
{{- end }}
{{- include "hub.envMap" .Values.notifier.env }}
{{- end -}}

{{- define "hub.env.web" -}}
{{- $name := include "hub.fullname" . -}}
- name: WEB_HTTP_HOST
  value: "0.0.0.0"
- name: WEB_HTTP_PORT
  value: {{ .Values.web.port | quote }}
- name: INTAKE_URL
  value: {{ printf "http://%s-intake:%v" $name .Values.intake.port | quote }}
- name: ROUTER_URL
  value: {{ printf "http://%s-router:%v" $name .Values.router.port | quote }}
- name: NOTIFIER_URL
  value: {{ printf "http://%s-notifier:%v" $name .Values.notifier.port | quote }}
- name: WEB_DEMO_LOGIN
  value: {{ .Values.web.demoLogin | quote }}
- name: WEB_SECURE_COOKIES
  value: {{ .Values.web.secureCookies | quote }}
{{ include "hub.secretEnv" (dict "root" . "name" "HUB_AUTH_SECRET" "key" "authSecret") }}
{{ include "hub.sharedEnv" . }}
{{- include "hub.envMap" .Values.web.env }}
{{- end -}}
