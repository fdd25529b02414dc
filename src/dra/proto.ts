// Loads the plugin watcher's Registration service and the DRA node service (v1, v1beta1) from proto/.
import { loadProto } from '../deviceplugin/proto.js';
import type { ProtoGrpcType as RegistrationProto } from '../generated/pluginregistration/api.js';
import type { ProtoGrpcType as DraV1Proto } from '../generated/dra-v1/api.js';
import type { ProtoGrpcType as DraV1beta1Proto } from '../generated/dra-v1beta1/api.js';

/** PluginInfo.type the kubelet installs its DRA handler for. */
export const DRA_PLUGIN_TYPE = 'DRAPlugin';

/**
 * The services we offer, as the kubelet spells them (`<last package segment>.<service>`). It
 * takes the first one it supports, in our order, so v1 must come first.
 */
export const SUPPORTED_VERSIONS = ['v1.DRAPlugin', 'v1beta1.DRAPlugin'] as const;

type RegistrationApi = RegistrationProto['pluginregistration'];
type DraV1 = DraV1Proto['k8s']['io']['kubelet']['pkg']['apis']['dra']['v1'];
type DraV1beta1 = DraV1beta1Proto['k8s']['io']['kubelet']['pkg']['apis']['dra']['v1beta1'];

let registration: RegistrationApi | undefined;
let v1: DraV1 | undefined;
let v1beta1: DraV1beta1 | undefined;

export function registrationApi(): RegistrationApi {
  registration ??= (loadProto('proto/pluginregistration/v1/api.proto', import.meta.url) as unknown as RegistrationProto).pluginregistration;
  return registration;
}

export function draV1Api(): DraV1 {
  v1 ??= (loadProto('proto/dra/v1/api.proto', import.meta.url) as unknown as DraV1Proto).k8s.io.kubelet.pkg.apis.dra.v1;
  return v1;
}

export function draV1beta1Api(): DraV1beta1 {
  v1beta1 ??= (loadProto('proto/dra/v1beta1/api.proto', import.meta.url) as unknown as DraV1beta1Proto).k8s.io.kubelet.pkg.apis.dra.v1beta1;
  return v1beta1;
}
