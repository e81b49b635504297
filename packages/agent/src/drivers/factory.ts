import type { HypervisorDriver } from './driver.ts';
import { DriverConfigError } from './driver.ts';
import type { CommandRunner } from './exec.ts';
import { type ShellConfig, shellDriver } from './shell-driver.ts';
import { type SimPeerSend, simDriver } from './sim-driver.ts';
import type { SimVMRecord } from './sim-store.ts';
import { virshDriver } from './virsh-driver.ts';
import { DEFAULT_VIRSH_SESSIONS } from './virsh-session.ts';
import { xlDriver } from './xl-driver.ts';

export const DriverName = { Xl: 'xl', Virsh: 'virsh', Shell: 'shell', Sim: 'sim' } as const;
export type DriverName = (typeof DriverName)[keyof typeof DriverName];
export const DRIVER_NAMES: readonly DriverName[] = Object.values(DriverName);

export interface DriverSettings {
  readonly driver: DriverName;
  readonly node: string;
  readonly capacity: Readonly<Record<string, number>>;
  readonly imageDir?: string;
  /** xl, virsh: the image directory is shared by every node (image-store.ts). */
  readonly sharedImages?: boolean;
  readonly configDir?: string;
  readonly hosts?: Readonly<Record<string, string>>;
  readonly virshUri?: string;
  /** virsh: warm sessions (virsh-session.ts); 0 runs one virsh process per command. */
  readonly virshSessions?: number;
  readonly shellConfig?: ShellConfig;
  readonly speed?: number;
  readonly simFail?: readonly string[];
  readonly simVms?: readonly SimVMRecord[];
  /** sim: the fault rules file (`--sim-faults`). */
  readonly simFaults?: string;
  /** `--sim-usage`: the file of measured use the sim driver reports. */
  readonly simUsage?: string;
  /** sim: where the simulated hypervisor keeps its VMs (the agent's state directory); in memory when absent. */
  readonly stateDir?: string;
  readonly runner?: CommandRunner;
}

const sharedImagesOf = (s: DriverSettings) => (s.sharedImages ? { sharedImagesBy: s.node } : {});

/** The agent's hypervisor, chosen by name; the sim driver also gets the link to its peers. */
export type DriverFactory = (settings: DriverSettings, peers?: SimPeerSend) => HypervisorDriver;

export const createDriver: DriverFactory = (s, peers) => {
  switch (s.driver) {
    case 'xl':
      return xlDriver({
        configDir: s.configDir,
        imageDir: s.imageDir,
        ...sharedImagesOf(s),
        hosts: s.hosts,
        runner: s.runner,
      });
    case 'virsh':
      return virshDriver({
        uri: s.virshUri,
        configDir: s.configDir,
        imageDir: s.imageDir,
        ...sharedImagesOf(s),
        hosts: s.hosts,
        runner: s.runner,
        sessions: s.virshSessions ?? DEFAULT_VIRSH_SESSIONS,
      });
    case 'shell':
      if (!s.shellConfig) throw new DriverConfigError('--shell-config', 'the shell driver needs a config file');
      return shellDriver({ node: s.node, config: s.shellConfig, runner: s.runner });
    case 'sim':
      return simDriver({
        node: s.node,
        capacity: s.capacity,
        speed: s.speed,
        failOn: s.simFail,
        vms: s.simVms,
        stateDir: s.stateDir,
        faultsFile: s.simFaults,
        ...(s.simUsage !== undefined ? { usageFile: s.simUsage } : {}),
        peers,
      });
    default:
      throw new DriverConfigError(
        '--driver',
        `unknown driver ${JSON.stringify(s.driver)}; one of ${DRIVER_NAMES.join(', ')}`,
      );
  }
};
