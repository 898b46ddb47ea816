{{/* Chart name, truncated to the 63 characters a label allows. */}}
{{- define "reelscope.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; components append -api / -worker. */}}
{{- define "reelscope.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 50 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 50 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "reelscope.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels of every object. */}}
{{- define "reelscope.labels" -}}
helm.sh/chart: {{ include "reelscope.chart" . }}
{{ include "reelscope.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels; each component adds app.kubernetes.io/component. */}}
{{- define "reelscope.selectorLabels" -}}
app.kubernetes.io/name: {{ include "reelscope.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "reelscope.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "reelscope.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "reelscope.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* One config value as an env var string: strings as they are, the rest as JSON (never 1e+06). */}}
{{- define "reelscope.envValue" -}}
{{- if kindIs "string" . }}{{ . | quote }}{{ else }}{{ . | toJson | quote }}{{ end }}
{{- end }}

{{/* env entries read from the existing Secret; the argument is a map env name -> {key, optional}. */}}
{{- define "reelscope.secretEnv" -}}
{{- range $name, $ref := .refs }}
- name: {{ $name }}
  valueFrom:
    secretKeyRef:
      name: {{ $.secret }}
      key: {{ $ref.key }}
      optional: {{ $ref.optional }}
{{- end }}
{{- end }}

{{/* Paths of the string values holding a change-me placeholder, one "\n  - path" each; the
argument is (dict "prefix" "" "value" .Values). Recurses into maps and lists. */}}
{{- define "reelscope.placeholders" -}}
{{- range $key, $value := .value }}
{{- $path := printf "%s%v" $.prefix $key }}
{{- if or (kindIs "map" $value) (kindIs "slice" $value) }}
{{- include "reelscope.placeholders" (dict "prefix" (printf "%s." $path) "value" $value) }}
{{- else if kindIs "string" $value }}
{{- if contains "change-me" $value }}
{{- printf "\n  - %s" $path }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}

{{/* NetworkPolicy egress: DNS (UDP and TCP 53), then the rules of networkPolicy.egress named
in .rules, then networkPolicy.egress.extra; the argument is (dict "np" ... "rules" (list ...)). */}}
{{- define "reelscope.networkPolicyEgress" -}}
- ports:  # DNS: every other destination is a hostname resolved first
    - port: 53
      protocol: UDP
    - port: 53
      protocol: TCP
  {{- with .np.egress.dns.to }}
  to:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- range $name := .rules }}
{{- with index $.np.egress $name }}
{{ toYaml . }}
{{- end }}
{{- end }}
{{- with .np.egress.extra }}
{{ toYaml . }}
{{- end }}
{{- end }}
