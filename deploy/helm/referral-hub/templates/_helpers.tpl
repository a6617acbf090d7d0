{{/* Names, labels and the environment every hub pod shares. */}}

{{- define "hub.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "hub.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: referral-hub
{{- end -}}

{{/* The labels that pick one component's pods: call with (dict "root" $ "component" "router"). */}}
{{- define "hub.selector" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "hub.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{- define "hub.secretName" -}}
{{- required "secrets.name: the Secret holding the hub's credentials" .Values.secrets.name -}}
{{- end -}}

{{- define "hub.sasl" -}}
{{- if has .Values.kafka.securityProtocol (list "SASL_PLAINTEXT" "SASL_SSL") -}}true{{- end -}}
{{- end -}}

{{/* One Secret key as an env var: (dict "root" $ "name" "ENV_NAME" "key" "authSecret"). */}}
{{- define "hub.secretEnv" -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "hub.secretName" .root }}
      key: {{ index .root.Values.secrets.keys .key | required (printf "secrets.keys.%s" .key) }}
{{- end -}}

{{/* Kafka, PostgreSQL, the signing secret and shared settings, for a service whose Kafka
     user is `user` (intake, router, notifier or admin): (dict "root" $ "user" "router"). */}}
{{- define "hub.infraEnv" -}}
{{- $v := .root.Values -}}
- name: KAFKA_BOOTSTRAP_SERVERS
  value: {{ $v.kafka.bootstrapServers | required "kafka.bootstrapServers" | quote }}
- name: KAFKA_SECURITY_PROTOCOL
  value: {{ $v.kafka.securityProtocol | quote }}
{{- if include "hub.sasl" .root }}
- name: KAFKA_SASL_MECHANISM
  value: {{ $v.kafka.saslMechanism | quote }}
- name: KAFKA_SASL_USERNAME
  value: {{ index $v.kafka.users .user | required (printf "kafka.users.%s" .user) | quote }}
{{ include "hub.secretEnv" (dict "root" .root "name" "KAFKA_SASL_PASSWORD" "key" (printf "kafkaPassword%s" (title .user))) }}
{{- end }}
- name: HUB_TOPIC_PREFIX
  value: {{ $v.kafka.topicPrefix | quote }}
- name: HUB_KAFKA_REPLICATION_FACTOR
  value: {{ $v.kafka.replicationFactor | quote }}
- name: HUB_KAFKA_MIN_INSYNC_REPLICAS
  value: {{ $v.kafka.minInsyncReplicas | quote }}
{{ include "hub.secretEnv" (dict "root" .root "name" "DATABASE_PASSWORD" "key" "databasePassword") }}
- name: DATABASE_URL
  value: {{ printf "postgresql+asyncpg://%s:$(DATABASE_PASSWORD)@%s:%v/%s?ssl=%s" $v.postgresql.username $v.postgresql.host $v.postgresql.port $v.postgresql.database $v.postgresql.sslmode | quote }}
{{ include "hub.secretEnv" (dict "root" .root "name" "HUB_AUTH_SECRET" "key" "authSecret") }}
{{- if .root.Values.serviceArea.file }}
- name: HUB_SERVICE_AREA
  value: /etc/referral-hub/area.json
{{- end }}
{{ include "hub.sharedEnv" .root }}
{{- end -}}

{{- define "hub.sharedEnv" -}}
- name: HUB_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
{{- with .Values.config.retention }}
- name: HUB_RETENTION
  value: {{ . | quote }}
{{- end }}
{{- include "hub.envMap" .Values.config.env }}
{{- end -}}

{{/* Where the service area file is mounted (with serviceArea.file only). */}}
{{- define "hub.serviceAreaMount" -}}
{{- if .Values.serviceArea.file }}
- name: service-area
  mountPath: /etc/referral-hub
  readOnly: true
{{- end }}
{{- end -}}

{{/* A map of NAME: value as env entries. */}}
{{- define "hub.envMap" -}}
{{- range $name, $value := . }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{/* Pod-level settings every hub pod shares. */}}
{{- define "hub.podCommon" -}}
automountServiceAccountToken: false
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  # The root filesystem is read-only; Python and the CLI may still want a scratch folder.
  - name: tmp
    emptyDir: {sizeLimit: 64Mi}
{{- if .Values.serviceArea.file }}
  - name: service-area
    configMap:
      name: {{ include "hub.fullname" . }}-service-area
{{- end }}
{{- end -}}
