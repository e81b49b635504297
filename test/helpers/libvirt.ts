// The lab (`entropy lab`) and the real-libvirt tests start libvirtd, namespace hosts and guests the same way:
// one implementation, in the controller package.
export {
  GUEST_MARKER,
  type GuestImage,
  guestImage,
  guestXml,
  readSerial,
} from '../../packages/controller/src/lab/guest.ts';
export { type Libvirtd, startLibvirtd } from '../../packages/controller/src/lab/libvirtd.ts';
export { bridgeLoopback, type Relays as LoopbackBridge } from '../../packages/controller/src/lab/loopback-bridge.ts';
export { createNamespaceHosts, type NamespaceHosts } from '../../packages/controller/src/lab/netns-hosts.ts';
export { libvirtUnavailableReason } from '../../packages/controller/src/lab/prerequisites.ts';
