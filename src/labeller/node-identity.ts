// Which Node the labeller works on: the configured name, the Node its credentials belong to, or the host name.
import { X509Certificate } from 'node:crypto';

/**
 * The Node a client certificate belongs to, as the Node authorizer reads it: subject
 * CN=system:node:<name> in group O=system:nodes (the kubelet's client certificate). undefined for
 * any other certificate, or for text that holds none.
 */
export function nodeOfCertificate(pem: string): string | undefined {
  // The kubelet keeps certificate and key in one file (kubelet-client-current.pem).
  const block = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  if (block === undefined) return undefined;
  let subject: string;
  try {
    subject = new X509Certificate(block).subject;
  } catch {
    return undefined;
  }
  const fields = subject.split('\n').map((line) => {
    const eq = line.indexOf('=');
    return { key: line.slice(0, eq), value: line.slice(eq + 1) };
  });
  if (!fields.some((f) => f.key === 'O' && f.value === 'system:nodes')) return undefined;
  const name = /^system:node:(.+)$/.exec(fields.find((f) => f.key === 'CN')?.value ?? '')?.[1];
  return name;
}

export type NodeNameChoice =
  | { name: string; from: 'configured' | 'credentials' | 'hostname' }
  | { problem: string; credentialsNode: string };

/**
 * The Node to label. A node's credentials may label only their own Node (NodeRestriction), so
 * when they name one it is the answer, and a configured name that differs is a mistake to say
 * plainly rather than a 403 to retry forever.
 */
export function chooseNodeName(configured: string | undefined, credentialsNode: string | undefined, hostname: string): NodeNameChoice {
  if (configured !== undefined) {
    if (credentialsNode !== undefined && credentialsNode !== configured) {
      return { problem: `configured node '${configured}' but these credentials are node '${credentialsNode}''s`, credentialsNode };
    }
    return { name: configured, from: 'configured' };
  }
  if (credentialsNode !== undefined) return { name: credentialsNode, from: 'credentials' };
  return { name: hostname.toLowerCase(), from: 'hostname' };
}
