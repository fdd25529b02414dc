// The DRA node service's handlers: answers from the claim handler, no sockets or timers of their own.
import type { DRAPluginHandlers } from '../generated/dra-v1/k8s/io/kubelet/pkg/apis/dra/v1/DRAPlugin.js';
import type { ClaimHandler } from './claims.js';

export function draHandlers(claims: ClaimHandler): DRAPluginHandlers {
  return {
    NodePrepareResources: (call, callback) => {
      void claims.prepare(call.request.claims).then((answers) => callback(null, { claims: answers }));
    },
    NodeUnprepareResources: (call, callback) => {
      void claims.unprepare(call.request.claims).then((answers) => callback(null, { claims: answers }));
    },
  };
}
