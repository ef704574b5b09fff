{{/*
Chart name, truncated to 63 characters (a label value).
*/}}
{{- define "learnflow.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Full name of the release's resources. Truncated to 52 characters: StatefulSet pods add
"-<ordinal>" and their PVCs "state-" in front, and the controller-revision-hash label of a
StatefulSet pod is "<name>-<hash>" (at most 63 characters).
*/}}
{{- define "learnflow.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 52 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
Name of the headless Service (the StatefulSet's serviceName: stable pod DNS names).
*/}}
{{- define "learnflow.headlessServiceName" -}}
{{- printf "%s-headless" (include "learnflow.fullname" .) }}
{{- end }}

{{/*
Chart label value.
*/}}
{{- define "learnflow.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of every resource.
*/}}
{{- define "learnflow.labels" -}}
helm.sh/chart: {{ include "learnflow.chart" . }}
{{ include "learnflow.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Selector labels (StatefulSet, Services, PodDisruptionBudget).
*/}}
{{- define "learnflow.selectorLabels" -}}
app.kubernetes.io/name: {{ include "learnflow.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
ServiceAccount of the pods.
*/}}
{{- define "learnflow.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "learnflow.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
Container image.
*/}}
{{- define "learnflow.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}

{{/*
Fixed paths and ports: the image reads /etc/learnflow/learnflow.yaml, keeps its state in
/var/lib/learnflow, and the config listens on 8080 (values.schema.json pins config.state.dir and
config.http.listen to these).
*/}}
{{- define "learnflow.configDir" -}}/etc/learnflow{{- end }}
{{- define "learnflow.configFile" -}}learnflow.yaml{{- end }}
{{- define "learnflow.stateDir" -}}/var/lib/learnflow{{- end }}
{{- define "learnflow.httpPort" -}}8080{{- end }}

{{/*
terminationGracePeriodSeconds: processing.shutdown_timeout_ms rounded up to seconds, plus a margin.
*/}}
{{- define "learnflow.terminationGracePeriodSeconds" -}}
{{- $ms := int64 .Values.config.processing.shutdown_timeout_ms }}
{{- add (div (add $ms 999) 1000) (int64 .Values.terminationGracePeriodExtraSeconds) }}
{{- end }}

{{/*
Environment variable that sets one kafka.properties entry (docs/configuration.md: entry names are
lower-case with "." written as "_").
*/}}
{{- define "learnflow.kafkaPropertyEnv" -}}
{{- printf "LEARNFLOW_KAFKA_PROPERTIES__%s" (. | upper | replace "." "_") }}
{{- end }}

{{/*
Checks across values that the schema cannot express; fails the render with a clear message.
*/}}
{{- define "learnflow.validate" -}}
{{- $privacy := .Values.config.privacy }}
{{- if $privacy.pseudonymize_learner_ids }}
{{- if .Values.pseudonymKeySecret.name }}
{{- if $privacy.key_file }}
{{- fail "config.privacy.key_file and pseudonymKeySecret.name both provide the pseudonymisation key: set only one (learnflow refuses two key sources)" }}
{{- end }}
{{- if not $privacy.key_env }}
{{- fail "pseudonymKeySecret.name needs config.privacy.key_env (the variable the key is passed in), but it is empty" }}
{{- end }}
{{- else if not $privacy.key_file }}
{{- fail "config.privacy.pseudonymize_learner_ids is true: set pseudonymKeySecret.name (an existing Secret holding the key), or config.privacy.key_file with a volume you mount yourself" }}
{{- end }}
{{- end }}
{{- if and .Values.kafkaSecret.name (not .Values.kafkaSecret.properties) }}
{{- fail "kafkaSecret.name is set but kafkaSecret.properties maps no librdkafka property to a key of the Secret" }}
{{- end }}
{{- end }}
