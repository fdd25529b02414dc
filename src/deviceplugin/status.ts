// The one line `systemctl status rise-device-plugin` shows: a pure summary of every resource's state.
import type { ResourceView } from './manager.js';
import { healthyCount, type RefusedResource } from './resource.js';

export interface StatusInput {
  views: readonly ResourceView[];
  refused: readonly RefusedResource[];
  /** The runner resource's maintenance flag, when present. */
  maintenanceFile: string | undefined;
  /** The last reload's failure, while the previous config is still served. */
  reloadError: string | undefined;
  stopping: boolean;
}

function listed(names: readonly string[], max = 3): string {
  return names.length > max ? `${names.slice(0, max).join(', ')} and ${names.length - max} more` : names.join(', ');
}

function devicesSummary(views: readonly ResourceView[], maintenanceFile: string | undefined): string {
  const note = maintenanceFile ? ` (maintenance: ${maintenanceFile} present)` : '';
  const only = views.length === 1 ? views[0] : undefined;
  if (only) return `${only.spec.name} ${healthyCount(only.spec.devices)}/${only.spec.devices.length} healthy${note}`;
  const devices = views.reduce((n, v) => n + v.spec.devices.length, 0);
  const healthy = views.reduce((n, v) => n + healthyCount(v.spec.devices), 0);
  return `${views.length} resources, ${healthy}/${devices} devices healthy${note}`;
}

/**
 * One line, most urgent first: the kubelet's absence or loss, then registration, then what is
 * not served and why, then a failed reload. With the single runner resource of a default config
 * it reads exactly as it always has.
 */
export function statusLine(input: StatusInput): string {
  if (input.stopping) return 'stopping';
  const { views } = input;
  const parts: string[] = [];
  const waiting = views.find((v) => v.phase.kind === 'waiting');
  const lost = views.filter((v) => v.phase.kind === 'lost');
  const failing = views.filter((v) => v.phase.kind === 'failing' || v.phase.kind === 'serveFailed');
  const registered = views.filter((v) => v.phase.kind === 'registered');
  if (waiting && waiting.phase.kind === 'waiting') {
    parts.push(`waiting for kubelet: ${waiting.phase.kubeletSocket} does not exist yet`);
  } else if (lost.length > 0 && registered.length === 0) {
    const at = Math.min(...lost.map((v) => (v.phase.kind === 'lost' ? v.phase.at : Infinity)));
    parts.push(`kubelet connection lost at ${new Date(at).toISOString()}; waiting for it to come back`);
  } else if (registered.length === views.length && views.length > 0) {
    parts.push(`registered with kubelet: ${devicesSummary(views, input.maintenanceFile)}`);
  } else if (views.length === 1 && failing.length === 1) {
    const phase = failing[0]?.phase;
    if (phase?.kind === 'failing') parts.push(`registering with kubelet (attempt ${phase.attempt} failed: ${phase.cause}); retrying`);
    else if (phase?.kind === 'serveFailed') parts.push(`failed to serve: ${phase.cause}; retrying`);
  } else if (views.length === 0) {
    parts.push('no resources to serve');
  } else {
    const head = registered.length > 0 ? `registered with kubelet: ${devicesSummary(registered, input.maintenanceFile)}` : 'registering with kubelet';
    parts.push(`${head}; ${views.length - registered.length} of ${views.length} resources not yet registered`);
    if (failing.length > 0) {
      const first = failing[0];
      const cause = first?.phase.kind === 'failing' ? `attempt ${first.phase.attempt}: ${first.phase.cause}` : first?.phase.kind === 'serveFailed' ? first.phase.cause : '';
      parts.push(`failing: ${listed(failing.map((v) => v.spec.name))} (${first?.spec.name} ${cause}); retrying`);
    }
    if (lost.length > 0) parts.push(`connection lost: ${listed(lost.map((v) => v.spec.name))}`);
  }
  if (input.refused.length > 0) {
    const first = input.refused[0];
    parts.push(`not served: ${listed(input.refused.map((r) => r.name))} (${first?.name}: ${first?.reason})`);
  }
  // First: an operator who just reloaded must see at once that it did not take.
  if (input.reloadError !== undefined) {
    parts.unshift(`config reload failed: ${input.reloadError}; still serving the previous config`);
  }
  return parts.join('; ');
}
