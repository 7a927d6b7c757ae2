{{/* The release's base name: the release name, with the chart's name unless it already contains it. */}}
{{- define "kindwatch.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Where the operator and the gateway run. */}}
{{- define "kindwatch.namespace" -}}
{{- .Values.namespace.name | default .Release.Namespace -}}
{{- end -}}

{{/* The Lease's name: one per release, so that two releases in one namespace elect apart. */}}
{{- define "kindwatch.leaseName" -}}
{{- .Values.operator.leaderElection.leaseName | default (printf "%s-operator" (include "kindwatch.fullname" .)) -}}
{{- end -}}

{{/* The Lease's namespace. */}}
{{- define "kindwatch.leaseNamespace" -}}
{{- .Values.operator.leaderElection.namespace | default (include "kindwatch.namespace" .) -}}
{{- end -}}

{{/* The Secret holding the gateway's admin token. */}}
{{- define "kindwatch.adminTokenSecret" -}}
{{- .Values.gateway.adminToken.existingSecret | default (printf "%s-gateway-admin-token" (include "kindwatch.fullname" .)) -}}
{{- end -}}

{{/* Labels of every object; pass (dict "root" $ "component" "operator"). */}}
{{- define "kindwatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
{{ include "kindwatch.selectorLabels" . }}
{{- end -}}

{{/* Labels that select a component's Pods. */}}
{{- define "kindwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ .root.Chart.Name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- if .component }}
app.kubernetes.io/component: {{ .component }}
{{- end }}
{{- end -}}

{{/* A component's image: the chart's image with the component's fields over it. */}}
{{- define "kindwatch.image" -}}
{{- $image := mergeOverwrite (deepCopy .root.Values.image) (.image | default dict) -}}
{{- printf "%s:%s" $image.repository ($image.tag | default .root.Chart.AppVersion) -}}
{{- end -}}

{{- define "kindwatch.pullPolicy" -}}
{{- $image := mergeOverwrite (deepCopy .root.Values.image) (.image | default dict) -}}
{{- $image.pullPolicy -}}
{{- end -}}

{{/* The Pod's security context: a non-root user (the image's), the runtime's default seccomp profile. */}}
{{- define "kindwatch.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 1000
runAsGroup: 1000
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* The container's: nothing to escalate to, no capabilities, nothing written outside the /tmp volume. */}}
{{- define "kindwatch.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}
