// NodePrepareResources / NodeUnprepareResources: what each claim gets, from the claim as the API
// server has it and our own record; every claim answered, never a whole-call failure.
import { describeError, type Logger } from '../common/logger.js';
import type { ClaimStore, PreparedClaim, PreparedDevice } from './claim-store.js';
import type { DraDevice } from './devices.js';
import type { ClaimView } from './resource-api.js';

export interface ClaimRef {
  namespace: string;
  uid: string;
  name: string;
}

export interface PrepareAnswer {
  devices: Array<{ request_names: string[]; pool_name: string; device_name: string; cdi_device_ids: string[] }>;
  error: string;
}

export interface ClaimHandlerOptions {
  driver: string;
  /** The pool this node publishes: its node name. */
  pool: string;
  store: ClaimStore;
  /** Where the claims' CDI specs go. */
  cdi: CdiSpecDir;
  getClaim: (namespace: string, name: string) => Promise<ClaimView | undefined>;
  /** The devices published now, by name. */
  devices: () => ReadonlyMap<string, DraDevice>;
  /**
   * The environment a container gets from these IDs of one resource, as the device plugin's
   * Allocate gives it; absent, devices get device nodes only.
   */
  envFor?: (resource: string, ids: readonly string[]) => Record<string, string>;
  logger: Logger;
}

/** The directory of CDI specs, by file name; src/dra/cdi-dir.ts has the one on disk. */
export interface CdiSpecDir {
  /** The path of a spec of this name, which the claim's record keeps for Unprepare. */
  path(name: string): string;
  /** Writes a spec whole, so a runtime never reads half of it. */
  write(file: string, text: string): Promise<void>;
  /** Removes a spec; one already gone is no error. */
  remove(file: string): Promise<void>;
}

/** CDI's kind for our devices: the driver name is a domain we own, "device" the class. */
export function cdiKind(driver: string): string {
  return `${driver}/device`;
}

/** A CDI device name unique per claim, so a runtime's cache never answers with another claim's device. */
export function cdiDeviceName(claimUid: string, device: string): string {
  return `${claimUid}-${device}`;
}

/** `req/sub` of a firstAvailable request is `req` to the kubelet, which matches containers' `request:` exactly. */
export function baseRequestName(request: string): string {
  return request.split('/')[0] ?? request;
}

export class ClaimHandler {
  // Prepare calls for different pods may come at once; one at a time keeps the record and the
  // exclusivity check true.
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: ClaimHandlerOptions) {}

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  prepare(claims: readonly ClaimRef[]): Promise<Record<string, PrepareAnswer>> {
    return this.serial(async () => {
      const out: Record<string, PrepareAnswer> = {};
      for (const claim of claims) {
        try {
          out[claim.uid] = { devices: await this.prepareOne(claim), error: '' };
        } catch (err) {
          const message = `failed to prepare claim ${claim.namespace}/${claim.name} (${claim.uid}): ${describeError(err)}`;
          this.options.logger.warn(message);
          out[claim.uid] = { devices: [], error: message };
        }
      }
      return out;
    });
  }

  unprepare(claims: readonly ClaimRef[]): Promise<Record<string, { error: string }>> {
    return this.serial(async () => {
      const out: Record<string, { error: string }> = {};
      for (const claim of claims) {
        try {
          await this.unprepareOne(claim);
          out[claim.uid] = { error: '' };
        } catch (err) {
          const message = `failed to unprepare claim ${claim.namespace}/${claim.name} (${claim.uid}): ${describeError(err)}`;
          this.options.logger.warn(message);
          out[claim.uid] = { error: message };
        }
      }
      return out;
    });
  }

  private async prepareOne(ref: ClaimRef): Promise<PrepareAnswer['devices']> {
    const { driver, pool, store, logger } = this.options;
    const claim = await this.options.getClaim(ref.namespace, ref.name);
    if (claim === undefined) throw new Error('the ResourceClaim does not exist (any more)');
    if (claim.metadata.uid !== ref.uid) throw new Error(`the ResourceClaim now has UID ${claim.metadata.uid}: it was deleted and created again`);
    const results = claim.status?.allocation?.devices?.results;
    if (results === undefined) throw new Error('the ResourceClaim is not allocated');
    // Only what is ours: other drivers get the same claim from the kubelet and answer for theirs.
    const mine = results.filter((r) => r.driver === driver && r.pool === pool);
    const published = this.options.devices();
    const others = (await store.all()).filter((c) => c.uid !== ref.uid);
    const devices: PreparedDevice[] = [];
    const picked: Array<{ device: DraDevice; request: string; adminAccess: boolean }> = [];
    for (const result of mine) {
      const device = published.get(result.device);
      if (device === undefined) throw new Error(`device ${result.device} of pool ${pool} is not published by this node now`);
      const adminAccess = result.adminAccess === true;
      const holder = others.find((c) => c.devices.some((d) => d.device === result.device && !d.adminAccess));
      if (holder && !adminAccess) throw new Error(`device ${result.device} is already prepared for claim ${holder.namespace}/${holder.name} (${holder.uid})`);
      picked.push({ device, request: baseRequestName(result.request), adminAccess });
    }
    // The environment is the resource's answer for all of a request's devices of it at once, as
    // one Allocate would give them to one container: spookd's and sriov's variables count and
    // list the devices, so one device's answer alone would be wrong for the next. Every device of
    // the group carries the same variables, so the order the runtime applies them in is moot.
    const envs = new Map<string, string[]>();
    for (const { device, request } of picked) {
      const key = `${request}\0${device.resource}`;
      if (envs.has(key) || this.options.envFor === undefined) continue;
      const ids = picked.filter((p) => p.request === request && p.device.resource === device.resource).map((p) => p.device.id);
      envs.set(key, Object.entries(this.options.envFor(device.resource, ids)).map(([k, v]) => `${k}=${v}`));
    }
    const cdiDevices: Array<{ name: string; containerEdits: { env?: string[]; deviceNodes?: Array<{ path: string }> } }> = [];
    for (const { device, request, adminAccess } of picked) {
      const env = envs.get(`${request}\0${device.resource}`) ?? [];
      const cdiDeviceIds: string[] = [];
      // Only devices with something to give get a CDI device; an empty containerEdits would be refused by CRI-O.
      if (device.deviceNodes.length > 0 || env.length > 0) {
        const name = cdiDeviceName(ref.uid, device.name);
        cdiDevices.push({
          name,
          containerEdits: {
            ...(env.length > 0 ? { env } : {}),
            ...(device.deviceNodes.length > 0 ? { deviceNodes: device.deviceNodes.map((p) => ({ path: p })) } : {}),
          },
        });
        cdiDeviceIds.push(`${cdiKind(driver)}=${name}`);
      }
      devices.push({ requestNames: [request], pool, device: device.name, cdiDeviceIds, adminAccess });
    }
    // Written on every Prepare, even a repeated one: after a reboot /var/run/cdi is empty again.
    const cdiFile = cdiDevices.length > 0 ? this.options.cdi.path(`${driver}-${ref.uid}.json`) : undefined;
    if (cdiFile !== undefined) {
      // 0.3.0 is the lowest version that covers device nodes given by path alone.
      const spec = { cdiVersion: '0.3.0', kind: cdiKind(driver), devices: cdiDevices };
      await this.options.cdi.write(cdiFile, `${JSON.stringify(spec, null, 2)}\n`);
    }
    const record: PreparedClaim = { uid: ref.uid, namespace: ref.namespace, name: ref.name, devices, cdiFile };
    // A claim with nothing of ours leaves nothing to undo, so it needs no record.
    if (devices.length > 0) await store.write(record);
    if (devices.length > 0) logger.info(`prepared claim ${ref.namespace}/${ref.name}: ${devices.map((d) => d.device).join(', ')}`);
    return devices.map((d) => ({ request_names: d.requestNames, pool_name: d.pool, device_name: d.device, cdi_device_ids: d.cdiDeviceIds }));
  }

  private async unprepareOne(ref: ClaimRef): Promise<void> {
    const { store, logger } = this.options;
    // Unknown or already unprepared: success, or the pod could never finish terminating.
    const record = await store.read(ref.uid);
    if (record === undefined) return;
    if (record.cdiFile !== undefined) await this.options.cdi.remove(record.cdiFile);
    await store.remove(ref.uid);
    if (record.devices.length > 0) logger.info(`unprepared claim ${ref.namespace}/${ref.name}: ${record.devices.map((d) => d.device).join(', ')}`);
  }
}
