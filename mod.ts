/**
 * # shoal — SWIM membership for Deno and Bun
 *
 * Start a node, join a cluster, and always know which peers are alive. shoal speaks
 * HashiCorp memberlist's wire protocol, so it can share a cluster with Go nodes.
 *
 * ```ts
 * import { createNode } from "@shoal/swim";
 *
 * await using node = await createNode({
 *   name: "a",
 *   bind: "127.0.0.1:7946",
 *   seeds: ["127.0.0.1:7947"],
 *   meta: new TextEncoder().encode("web"),
 * });
 * for await (const ev of node.events()) console.log(ev.type, ev.member.name);
 * ```
 *
 * The protocol itself is a pure state machine ({@linkcode Swim}): feed it packets and timer
 * firings, perform the effects it returns. {@linkcode createNode} does that over UDP; the
 * `@shoal/swim/sim` entry point does it in virtual time.
 *
 * On Deno, UDP needs `--unstable-net` (or `"unstable": ["net"]` in deno.json).
 *
 * @module
 */

export {
  createNode,
  type NodeOptions,
  type NodeStats,
  ShoalNode,
  type UserMessageEvent,
} from "./src/node/node.ts";
export type { StreamStats } from "./src/node/streams.ts";
export { type SeedResolver, systemResolver } from "./src/node/resolve.ts";
export {
  memberTags,
  ownerOf,
  type OwnerOptions,
  rankOwners,
  type RendezvousMember,
  rendezvousScore,
} from "./src/node/rendezvous.ts";
export { decodeTags, encodeTags, TagError, type Tags } from "./src/node/tags.ts";

export {
  type Identity,
  type StreamAnswer,
  Swim,
  type SwimOptions,
  SwimStateError,
  syncInterval,
} from "./src/core/swim.ts";
export { SharedRecords } from "./src/core/membership.ts";
export type {
  Effect,
  MembershipEvent,
  MembershipEventType,
  ResolvedAddress,
  ResolveResult,
  Timer,
} from "./src/core/effects.ts";
export { type Member, type MemberState, StateCode } from "./src/core/member.ts";
export {
  ConfigError,
  type ConfigOverrides,
  type ConfigPreset,
  type ConflictPolicy,
  DEFAULT_VSN,
  FLAP_DAMPING,
  type FlapDampingConfig,
  lanConfig,
  LIFEGUARD_OFF,
  LIFEGUARD_ON,
  type LifeguardConfig,
  localConfig,
  META_MAX_SIZE,
  resolveConfig,
  type SwimConfig,
  wanConfig,
} from "./src/core/config.ts";
export { type SuspicionBounds, suspicionBounds } from "./src/core/suspicion.ts";
export { type MemberView, ViewCoalescer, type ViewOptions } from "./src/core/views.ts";
export { retransmitLimit } from "./src/core/broadcasts.ts";
export { type Rng, seededRng } from "./src/core/rng.ts";
export {
  type CoreStats,
  type RefusalKind,
  RTT_BUCKETS,
  type RttHistogram,
} from "./src/core/stats.ts";
export {
  AddressError,
  bytesToIp,
  formatAddress,
  formatSeed,
  ipToBytes,
  isDnsName,
  isSrvName,
  parseAddress,
  parseSeed,
  type PeerAddress,
  type SeedAddress,
} from "./src/core/address.ts";
export {
  type Codec,
  DecodeError,
  type DecodeErrorKind,
  type FrameOptions,
  type Packer,
} from "./src/core/codec.ts";
export type {
  Ack,
  Alive,
  Dead,
  IndirectPing,
  Message,
  Nack,
  NodeState,
  Ping,
  PushPull,
  Rumour,
  StreamReply,
  StreamRequest,
  Suspect,
  UserMessage,
} from "./src/core/messages.ts";

export {
  createMemberlistCodec,
  type MemberlistCodec,
  memberlistCodec,
  type MemberlistCodecOptions,
} from "./src/wire/codec.ts";
export type { PacketDecodeOptions } from "./src/wire/packet.ts";
export { formatKey, Keyring, KeyringError, parseKey } from "./src/wire/keyring.ts";
export type { SecurityOptions } from "./src/wire/security.ts";
export type { EncryptionVersion } from "./src/wire/encryption.ts";

export {
  AddressInUseError,
  type BindOptions,
  type DatagramBinder,
  type DatagramHandler,
  type DatagramTransport,
  type TransportStats,
} from "./src/transport/types.ts";
export { denoDatagram } from "./src/transport/deno_udp.ts";
export { bunDatagram } from "./src/transport/bun_udp.ts";
export {
  detectDatagramBinder,
  detectStreamBinder,
  type RuntimeName,
  runtimeName,
} from "./src/transport/auto.ts";
export type {
  ConnectionHandler,
  ListenOptions,
  StreamBinder,
  StreamConn,
  StreamListener,
  StreamListenerStats,
} from "./src/transport/stream_types.ts";
export { StreamError, type StreamErrorKind } from "./src/transport/stream_types.ts";
export { denoStream } from "./src/transport/deno_tcp.ts";
export { bunStream } from "./src/transport/bun_tcp.ts";
export { nodeDatagram } from "./src/transport/node_udp.ts";
export { nodeStream } from "./src/transport/node_tcp.ts";
export {
  MemoryNetwork,
  type MemoryNetworkOptions,
  type NetworkFaults,
} from "./src/transport/memory.ts";
