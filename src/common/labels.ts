// Kubernetes label and resource-name syntax, as the API server validates it.
const NAME_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const DNS1123_LABEL_RE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A label value: at most 63 characters, alphanumeric at both ends, `-_.` inside; may be empty. */
export function isValidLabelValue(value: string): boolean {
  return value.length <= 63 && NAME_RE.test(value);
}

/** A DNS-1123 subdomain: the prefix of a label key or an extended resource name. */
export function isDnsSubdomain(value: string): boolean {
  return value.length > 0 && value.length <= 253 && value.split('.').every((part) => DNS1123_LABEL_RE.test(part));
}

/** A qualified name: `[prefix/]name`, name non-empty and at most 63 characters. */
export function isQualifiedName(value: string): boolean {
  const parts = value.split('/');
  if (parts.length > 2) return false;
  const name = parts[parts.length - 1] ?? '';
  if (name.length === 0 || name.length > 63 || !NAME_RE.test(name)) return false;
  return parts.length === 1 || isDnsSubdomain(parts[0] ?? '');
}

/** A label key is a qualified name. */
export const isValidLabelKey = isQualifiedName;

/**
 * Why an extended resource name is invalid, or undefined when it is valid. The kubelet accepts
 * `domain/name` outside the kubernetes.io domain whose "requests." form is a qualified name.
 */
export function extendedResourceNameProblem(value: string): string | undefined {
  const slash = value.indexOf('/');
  if (slash <= 0) return 'must be domain/name, e.g. riseproject.com/runner';
  const domain = value.slice(0, slash);
  if (domain === 'kubernetes.io' || domain.endsWith('.kubernetes.io')) {
    return 'must not be in the kubernetes.io domain, which is reserved for native resources';
  }
  if (!isQualifiedName(`requests.${value}`)) {
    return 'must be a DNS subdomain, "/", and a name of at most 63 letters, digits, "-", "_" or "."';
  }
  return undefined;
}
