// `node-labeller` and `detect` commands (being written).
import type { Runtime } from '../common/runtime.js';

export interface NodeLabellerArgs {
  config: string | undefined;
  logLevel: string | undefined;
  root: string;
  kubeconfig: string | undefined;
  nodeName: string | undefined;
}

export interface DetectArgs {
  config: string | undefined;
  root: string;
  json: boolean;
}

export async function runNodeLabellerCommand(_args: NodeLabellerArgs, rt: Runtime): Promise<number> {
  rt.stderr('node-labeller: not built yet\n');
  return 1;
}

export async function runDetectCommand(_args: DetectArgs, rt: Runtime): Promise<number> {
  rt.stderr('detect: not built yet\n');
  return 1;
}
