{{/* Names. */}}
{{- define "meridian.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "meridian.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* The region id; rendering fails without the generated values. */}}
{{- define "meridian.region" -}}
{{- required "region.id is required: install with -f values-<region>.yaml, written by `meridian deploy values --region <region>`" .Values.region.id }}
{{- end }}

{{- define "meridian.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "meridian.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "meridian.selectorLabels" -}}
app.kubernetes.io/name: {{ include "meridian.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "meridian.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "meridian.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: meridian
meridian-kit.github.io/region: {{ include "meridian.region" . }}
{{- end }}

{{/* Labels of one component's pods: dict "root" . "component" "server". */}}
{{- define "meridian.componentSelector" -}}
{{ include "meridian.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "meridian.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* A ConfigMap key for a relative path (keys cannot hold `/`). */}}
{{- define "meridian.configKey" -}}
{{- replace "/" "__" . }}
{{- end }}

{{/* Changes to config or policies roll the pods. */}}
{{- define "meridian.configChecksum" -}}
{{- dict "files" .Values.config.regionFiles "policies" .Values.config.policies "env" .Values.secrets | toJson | sha256sum }}
{{- end }}

{{/* Where the pods read config: --config-dir, with policies in DIR/../policies. */}}
{{- define "meridian.configDir" -}}/etc/meridian/regions{{- end }}
{{- define "meridian.policiesDir" -}}/etc/meridian/policies{{- end }}

{{/*
The pod spec of a Meridian process. dict:
  root: the chart context; component: server | worker | run; args: the command line;
  http: true for the server (port and probes); resources; scheduling: a map with
  nodeSelector, tolerations, affinity; restartPolicy (optional).
*/}}
{{- define "meridian.podSpec" -}}
{{- $root := .root -}}
{{- $v := $root.Values -}}
serviceAccountName: {{ include "meridian.serviceAccountName" $root }}
automountServiceAccountToken: false
enableServiceLinks: false
{{- with $v.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .restartPolicy }}
restartPolicy: {{ . }}
{{- end }}
securityContext:
  runAsNonRoot: true
  runAsUser: {{ $v.podSecurity.runAsUser }}
  runAsGroup: {{ $v.podSecurity.runAsGroup }}
  fsGroup: {{ $v.podSecurity.fsGroup }}
  seccompProfile:
    type: RuntimeDefault
containers:
  - name: meridian
    image: {{ include "meridian.image" $root | quote }}
    imagePullPolicy: {{ $v.image.pullPolicy }}
    args:
      {{- toYaml .args | nindent 6 }}
    env:
      - name: MERIDIAN_CONFIG_DIR
        value: {{ include "meridian.configDir" $root | quote }}
      - name: MERIDIAN_DATA_DIR
        value: {{ $v.storage.dataDir | quote }}
      {{- range $v.secrets.env }}
      - name: {{ .name }}
        valueFrom:
          secretKeyRef:
            name: {{ .secretName | default $v.secrets.existingSecret | required (printf "secrets.existingSecret (or secrets.env[].secretName for %s) is required" .name) }}
            key: {{ .key | default .name }}
            optional: {{ .optional | default false }}
      {{- end }}
    {{- if .http }}
    ports:
      - name: http
        containerPort: {{ $v.server.port }}
        protocol: TCP
    startupProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: 2
      failureThreshold: 60
    livenessProbe:
      httpGet:
        path: /healthz
        port: http
      periodSeconds: 10
      timeoutSeconds: 3
      failureThreshold: 3
    readinessProbe:
      httpGet:
        path: /readyz
        port: http
      periodSeconds: 5
      timeoutSeconds: 3
      failureThreshold: 3
    {{- end }}
    resources:
      {{- toYaml .resources | nindent 6 }}
    securityContext:
      runAsNonRoot: true
      allowPrivilegeEscalation: false
      readOnlyRootFilesystem: true
      privileged: false
      capabilities:
        drop: ["ALL"]
      seccompProfile:
        type: RuntimeDefault
    volumeMounts:
      - name: region
        mountPath: {{ include "meridian.configDir" $root }}
        readOnly: true
      - name: policies
        mountPath: {{ include "meridian.policiesDir" $root }}
        readOnly: true
      - name: data
        mountPath: {{ $v.storage.dataDir }}
      - name: tmp
        mountPath: /tmp
volumes:
  - name: region
    configMap:
      name: {{ include "meridian.fullname" $root }}-region
      items:
        {{- range $path, $_ := $v.config.regionFiles }}
        - key: {{ include "meridian.configKey" $path }}
          path: {{ $path }}
        {{- end }}
  - name: policies
    configMap:
      name: {{ include "meridian.fullname" $root }}-policies
      {{- with $v.config.policies }}
      items:
        {{- range $path, $_ := . }}
        - key: {{ include "meridian.configKey" $path }}
          path: {{ $path }}
        {{- end }}
      {{- end }}
  - name: data
    {{- if $v.storage.existingClaim }}
    persistentVolumeClaim:
      claimName: {{ $v.storage.existingClaim }}
    {{- else }}
    emptyDir:
      sizeLimit: {{ $v.storage.emptyDirSizeLimit }}
    {{- end }}
  - name: tmp
    emptyDir:
      sizeLimit: 256Mi
{{- with .scheduling.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .scheduling.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .scheduling.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end }}

{{/*
NetworkPolicy peers of one egress rule: dict "root" . "rule" $rule.
public = every address except private, loopback, link-local (cloud metadata),
CGNAT, multicast and reserved ranges, in IPv4 and IPv6.
*/}}
{{- define "meridian.egressPeers" -}}
{{- $rule := .rule -}}
{{- if eq $rule.to "public" }}
- ipBlock:
    cidr: 0.0.0.0/0
    except:
      - 0.0.0.0/8
      - 10.0.0.0/8
      - 100.64.0.0/10
      - 127.0.0.0/8
      - 169.254.0.0/16
      - 172.16.0.0/12
      - 192.0.0.0/24
      - 192.168.0.0/16
      - 198.18.0.0/15
      - 224.0.0.0/4
      - 240.0.0.0/4
- ipBlock:
    cidr: ::/0
    except:
      - ::/128
      - ::1/128
      - ::ffff:0:0/96
      - fc00::/7
      - fe80::/10
      - ff00::/8
{{- else if eq $rule.to "cluster" }}
- namespaceSelector: {}
{{- else if eq $rule.to "ollama" }}
{{- if not .root.Values.ollama.enabled }}
{{- fail (printf "networkPolicy.egress: rule for %s goes to the in-cluster Ollama, but ollama.enabled is false" $rule.host) }}
{{- end }}
- podSelector:
    matchLabels:
      {{- include "meridian.componentSelector" (dict "root" .root "component" "ollama") | nindent 6 }}
{{- else if eq $rule.to "cidrs" }}
{{- range (required (printf "networkPolicy.egress: rule for %s has to: cidrs but no cidrs" $rule.host) $rule.cidrs) }}
- ipBlock:
    cidr: {{ . }}
{{- end }}
{{- end }}
{{- end }}
